// Command template-reference renders Konsul's golden templates with Go's own text/template, so the
// expected outputs in core/template/testdata come from the reference implementation rather than from
// the engine under test.
//
// The consul-template functions the golden templates use are written here over the same fixture
// (core/template/testdata/fixture.json), following consul-template's documented behaviour and its
// types (HealthService, KeyPair, CatalogSnippet, ServiceTags): sorted tags, instances ordered by
// node then id, Consul's aggregated check status, `|filter` lists, folders left out of ls/tree.
//
// Usage: go run ./testing/template-reference core/template/testdata   (npm run golden:template)
// It writes NAME.golden next to every NAME.ctmpl; a template that fails writes NAME.golden with
// the line "error: <Go's message>".
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
)

type fixture struct {
	KV       map[string]string       `json:"kv"`
	Health   map[string][]healthJSON `json:"health"`
	Env      map[string]string       `json:"env"`
	NowMilli int64                   `json:"now"`
}

type healthJSON struct {
	Node    string   `json:"node"`
	Address string   `json:"address"`
	ID      string   `json:"id"`
	SvcAddr string   `json:"serviceAddress"`
	Port    int      `json:"port"`
	Tags    []string `json:"tags"`
	Checks  []struct {
		CheckID string `json:"id"`
		Status  string `json:"status"`
	} `json:"checks"`
}

// ServiceTags mirrors consul-template's dependency.ServiceTags.
type ServiceTags []string

// Contains reports whether the tags include s.
func (t ServiceTags) Contains(s string) bool {
	for _, x := range t {
		if x == s {
			return true
		}
	}
	return false
}

// HealthService holds the fields of consul-template's dependency.HealthService the goldens read.
type HealthService struct {
	Node        string
	NodeAddress string
	Address     string
	ID          string
	Name        string
	Tags        ServiceTags
	Status      string
	Port        int
}

// KeyPair mirrors consul-template's dependency.KeyPair.
type KeyPair struct {
	Path        string
	Key         string
	Value       string
	CreateIndex uint64
	ModifyIndex uint64
	LockIndex   uint64
	Flags       uint64
	Session     string
}

// CatalogSnippet mirrors consul-template's dependency.CatalogSnippet.
type CatalogSnippet struct {
	Name string
	Tags ServiceTags
}

func aggregated(h healthJSON) string {
	var passing, warning, critical, maint bool
	for _, c := range h.Checks {
		if c.CheckID == "_node_maintenance" || strings.HasPrefix(c.CheckID, "_service_maintenance:") {
			maint = true
			continue
		}
		switch c.Status {
		case "passing":
			passing = true
		case "warning":
			warning = true
		case "critical":
			critical = true
		default:
			return ""
		}
	}
	switch {
	case maint:
		return "maintenance"
	case critical:
		return "critical"
	case warning:
		return "warning"
	}
	_ = passing
	return "passing"
}

var healthRe = regexp.MustCompile(`^((?P<tag>[^.]+)\.)?(?P<name>[^@|]+)(@(?P<dc>[^|]+))?(\|(?P<filter>.+))?$`)

// scratch holds the parts of consul-template's Scratch the goldens use.
type scratch struct{ values map[string]interface{} }

func (s *scratch) Key(k string) bool                  { _, ok := s.values[k]; return ok }
func (s *scratch) Get(k string) interface{}           { return s.values[k] }
func (s *scratch) Set(k string, v interface{}) string { s.values[k] = v; return "" }
func (s *scratch) SetX(k string, v interface{}) string {
	if _, ok := s.values[k]; !ok {
		s.values[k] = v
	}
	return ""
}
func (s *scratch) MapSet(k, mk string, v interface{}) string {
	m, ok := s.values[k].(map[string]interface{})
	if !ok {
		m = map[string]interface{}{}
		s.values[k] = m
	}
	m[mk] = v
	return ""
}
func (s *scratch) MapValues(k string) []interface{} {
	m, _ := s.values[k].(map[string]interface{})
	keys := []string{}
	for x := range m {
		keys = append(keys, x)
	}
	sort.Strings(keys)
	out := []interface{}{}
	for _, x := range keys {
		out = append(out, m[x])
	}
	return out
}

func funcs(f fixture) template.FuncMap {
	sc := &scratch{values: map[string]interface{}{}}
	kvList := func(prefix string, onlyTop bool) []*KeyPair {
		prefix = strings.TrimPrefix(prefix, "/")
		base := prefix
		if base != "" && !strings.HasSuffix(base, "/") {
			base += "/"
		}
		keys := make([]string, 0)
		for k := range f.KV {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := []*KeyPair{}
		for _, k := range keys {
			if !strings.HasPrefix(k, base) {
				continue
			}
			rel := strings.TrimPrefix(k, base)
			if rel == "" || strings.HasSuffix(rel, "/") || (onlyTop && strings.Contains(rel, "/")) {
				continue
			}
			out = append(out, &KeyPair{Path: k, Key: rel, Value: f.KV[k], CreateIndex: 5, ModifyIndex: 5})
		}
		return out
	}
	service := func(args ...string) ([]*HealthService, error) {
		spec := strings.Join(args, "|")
		m := healthRe.FindStringSubmatch(spec)
		if m == nil {
			return nil, fmt.Errorf("health.service: invalid format: %q", spec)
		}
		tag, name, filter := m[healthRe.SubexpIndex("tag")], m[healthRe.SubexpIndex("name")], m[healthRe.SubexpIndex("filter")]
		filters := []string{"passing"}
		if filter != "" {
			filters = nil
			for _, x := range strings.Split(filter, ",") {
				x = strings.TrimSpace(x)
				switch x {
				case "any", "passing", "warning", "critical", "maintenance":
					filters = append(filters, x)
				case "":
				default:
					return nil, fmt.Errorf("health.service: invalid filter: %q in %q", x, spec)
				}
			}
		}
		out := []*HealthService{}
		for _, h := range f.Health[name] {
			if tag != "" && !ServiceTags(h.Tags).Contains(tag) {
				continue
			}
			st := aggregated(h)
			ok := false
			for _, x := range filters {
				ok = ok || x == st || x == "any"
			}
			if !ok {
				continue
			}
			tags := append([]string{}, h.Tags...)
			sort.Strings(tags)
			addr := h.SvcAddr
			if addr == "" {
				addr = h.Address
			}
			out = append(out, &HealthService{Node: h.Node, NodeAddress: h.Address, Address: addr, ID: h.ID,
				Name: name, Tags: ServiceTags(tags), Status: st, Port: h.Port})
		}
		sort.SliceStable(out, func(i, j int) bool {
			if out[i].Node != out[j].Node {
				return out[i].Node < out[j].Node
			}
			return out[i].ID < out[j].ID
		})
		return out, nil
	}
	num := func(v interface{}) (float64, bool, error) {
		switch x := v.(type) {
		case int:
			return float64(x), true, nil
		case int64:
			return float64(x), true, nil
		case float64:
			return x, false, nil
		}
		return 0, false, fmt.Errorf("unknown type %T", v)
	}
	arith := func(op func(a, b float64) float64) func(b, a interface{}) (interface{}, error) {
		return func(b, a interface{}) (interface{}, error) {
			x, xi, err := num(a)
			if err != nil {
				return nil, err
			}
			y, yi, err := num(b)
			if err != nil {
				return nil, err
			}
			if xi && yi {
				return int64(op(x, y)), nil
			}
			return op(x, y), nil
		}
	}
	in := func(l, v interface{}) bool {
		lv := reflect.ValueOf(l)
		switch lv.Kind() {
		case reflect.Slice, reflect.Array:
			for i := 0; i < lv.Len(); i++ {
				if reflect.DeepEqual(reflect.ValueOf(lv.Index(i).Interface()).Interface(), v) {
					return true
				}
			}
		case reflect.String:
			s, ok := v.(string)
			return ok && strings.Contains(lv.String(), s)
		}
		return false
	}
	return template.FuncMap{
		"key": func(k string) string { return f.KV[strings.TrimPrefix(k, "/")] },
		"keyOrDefault": func(k, d string) string {
			if v, ok := f.KV[strings.TrimPrefix(k, "/")]; ok {
				return v
			}
			return d
		},
		"keyExists": func(k string) bool { _, ok := f.KV[strings.TrimPrefix(k, "/")]; return ok },
		"ls":        func(p string) []*KeyPair { return kvList(p, true) },
		"tree":      func(p string) []*KeyPair { return kvList(p, false) },
		"service":   service,
		"services": func() []*CatalogSnippet {
			names := []string{}
			for n := range f.Health {
				names = append(names, n)
			}
			sort.Strings(names)
			out := []*CatalogSnippet{}
			for _, n := range names {
				set := map[string]bool{}
				for _, h := range f.Health[n] {
					for _, t := range h.Tags {
						set[t] = true
					}
				}
				tags := []string{}
				for t := range set {
					tags = append(tags, t)
				}
				sort.Strings(tags)
				out = append(out, &CatalogSnippet{Name: n, Tags: ServiceTags(tags)})
			}
			return out
		},
		"byTag": func(in interface{}) (map[string][]interface{}, error) {
			m := map[string][]interface{}{}
			switch t := in.(type) {
			case []*HealthService:
				for _, s := range t {
					for _, tag := range s.Tags {
						m[tag] = append(m[tag], s)
					}
				}
			case []*CatalogSnippet:
				for _, s := range t {
					for _, tag := range s.Tags {
						m[tag] = append(m[tag], s)
					}
				}
			default:
				return nil, fmt.Errorf("byTag: wrong argument type %T", in)
			}
			return m, nil
		},
		"byKey": func(pairs []*KeyPair) map[string]map[string]*KeyPair {
			m := map[string]map[string]*KeyPair{}
			for _, p := range pairs {
				parts := strings.Split(p.Key, "/")
				rest := strings.Join(parts[1:], "/")
				if rest == "" {
					continue
				}
				if m[parts[0]] == nil {
					m[parts[0]] = map[string]*KeyPair{}
				}
				c := *p
				c.Key = rest
				m[parts[0]][rest] = &c
			}
			return m
		},
		"explode": func(pairs []*KeyPair) (map[string]interface{}, error) {
			m := map[string]interface{}{}
			for _, p := range pairs {
				parts := strings.Split(p.Key, "/")
				at := m
				for i, part := range parts {
					if i == len(parts)-1 {
						at[part] = p.Value
						break
					}
					next, ok := at[part].(map[string]interface{})
					if !ok {
						next = map[string]interface{}{}
						at[part] = next
					}
					at = next
				}
			}
			return m, nil
		},
		"toJSON": func(v interface{}) (string, error) {
			b, err := json.Marshal(v)
			return strings.TrimSpace(string(b)), err
		},
		"toJSONPretty": func(v interface{}) (string, error) {
			b, err := json.MarshalIndent(v, "", "  ")
			return strings.TrimSpace(string(b)), err
		},
		"parseJSON": func(s string) (interface{}, error) {
			if s == "" {
				return map[string]interface{}{}, nil
			}
			var d interface{}
			err := json.Unmarshal([]byte(s), &d)
			return d, err
		},
		"toLower":   strings.ToLower,
		"toUpper":   strings.ToUpper,
		"trimSpace": strings.TrimSpace,
		"join":      func(sep string, a []string) string { return strings.Join(a, sep) },
		"split": func(sep, s string) []string {
			s = strings.TrimSpace(s)
			if s == "" {
				return []string{}
			}
			return strings.Split(s, sep)
		},
		"replaceAll": func(from, to, s string) string { return strings.ReplaceAll(s, from, to) },
		"regexReplaceAll": func(re, to, s string) (string, error) {
			c, err := regexp.Compile(re)
			if err != nil {
				return "", err
			}
			return c.ReplaceAllString(s, to), nil
		},
		"regexMatch": func(re, s string) (bool, error) { return regexp.MatchString(re, s) },
		"contains":   func(v, l interface{}) bool { return in(l, v) },
		"in":         in,
		"env":        func(n string) string { return f.Env[n] },
		"timestamp": func(layout ...string) string {
			t := time.UnixMilli(f.NowMilli).UTC()
			if len(layout) == 0 {
				return t.Format(time.RFC3339)
			}
			if layout[0] == "unix" {
				return fmt.Sprint(t.Unix())
			}
			return t.Format(layout[0])
		},
		"trim":       func(cut, s string) string { return strings.Trim(s, cut) },
		"trimPrefix": func(p, s string) string { return strings.TrimPrefix(s, p) },
		"trimSuffix": func(p, s string) string { return strings.TrimSuffix(s, p) },
		"envOrDefault": func(n, d string) string {
			if v, ok := f.Env[n]; ok {
				return v
			}
			return d
		},
		"mustEnv": func(n string) (string, error) {
			if f.Env[n] == "" {
				return "", fmt.Errorf("required environment variable %s is empty", n)
			}
			return f.Env[n], nil
		},
		"parseBool": func(s string) (bool, error) {
			if s == "" {
				return false, nil
			}
			return strconv.ParseBool(s)
		},
		"parseInt": func(s string) (int64, error) {
			if s == "" {
				return 0, nil
			}
			return strconv.ParseInt(s, 10, 64)
		},
		"parseUint": func(s string) (uint64, error) {
			if s == "" {
				return 0, nil
			}
			return strconv.ParseUint(s, 10, 64)
		},
		"parseFloat": func(s string) (float64, error) {
			if s == "" {
				return 0, nil
			}
			return strconv.ParseFloat(s, 64)
		},
		"base64Encode":    func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"base64URLEncode": func(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) },
		"base64Decode": func(s string) (string, error) {
			b, err := base64.StdEncoding.DecodeString(s)
			return string(b), err
		},
		"base64URLDecode": func(s string) (string, error) {
			b, err := base64.URLEncoding.DecodeString(s)
			return string(b), err
		},
		"indent": func(n int, s string) string {
			var b strings.Builder
			start := true
			for _, c := range []byte(s) {
				if start && c != '\n' {
					b.WriteString(strings.Repeat(" ", n))
				}
				b.WriteByte(c)
				start = c == '\n'
			}
			return b.String()
		},
		"loop": func(a ...int) []int64 {
			start, stop := 0, a[len(a)-1]
			if len(a) == 2 {
				start = a[0]
			}
			out := []int64{}
			for i := start; i < stop; i++ {
				out = append(out, int64(i))
			}
			return out
		},
		"containsAll": func(v []interface{}, l interface{}) bool {
			for _, x := range v {
				if !in(l, x) {
					return false
				}
			}
			return true
		},
		"containsAny": func(v []interface{}, l interface{}) bool {
			for _, x := range v {
				if in(l, x) {
					return true
				}
			}
			return false
		},
		"maximum": func(b, a int) int {
			if a > b {
				return a
			}
			return b
		},
		"minimum": func(b, a int) int {
			if a < b {
				return a
			}
			return b
		},
		"splitToMap": func(sep1, sep2, s string) map[string]string {
			m := map[string]string{}
			s = strings.TrimSpace(s)
			if s == "" {
				return m
			}
			for _, part := range strings.Split(s, sep1) {
				if k, v, ok := strings.Cut(part, sep2); ok {
					m[k] = v
				}
			}
			return m
		},
		"toUnescapedJSON": func(v interface{}) (string, error) {
			buf := &bytes.Buffer{}
			e := json.NewEncoder(buf)
			e.SetEscapeHTML(false)
			err := e.Encode(v)
			return strings.TrimRight(buf.String(), "\r\n"), err
		},
		"scratch":  func() *scratch { return sc },
		"add":      arith(func(a, b float64) float64 { return a + b }),
		"subtract": arith(func(a, b float64) float64 { return a - b }),
		"multiply": arith(func(a, b float64) float64 { return a * b }),
		"divide":   arith(func(a, b float64) float64 { return a / b }),
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: template-reference DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	raw, err := os.ReadFile(filepath.Join(dir, "fixture.json"))
	if err != nil {
		panic(err)
	}
	var f fixture
	if err := json.Unmarshal(raw, &f); err != nil {
		panic(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.ctmpl"))
	for _, path := range names {
		src, err := os.ReadFile(path)
		if err != nil {
			panic(err)
		}
		name := filepath.Base(path)
		var out strings.Builder
		t, err := template.New(name).Funcs(funcs(f)).Parse(string(src))
		if err == nil {
			err = t.Execute(&out, nil)
		}
		text := out.String()
		if err != nil {
			text = "error: " + err.Error() + "\n"
		}
		golden := strings.TrimSuffix(path, ".ctmpl") + ".golden"
		if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
			panic(err)
		}
		fmt.Println("wrote", golden)
	}
}
