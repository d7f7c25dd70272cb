import { describe, expect, it } from 'vitest';
import { TemplateError } from './errors.js';
import { execute } from './exec.js';
import { sprintf } from './format.js';
import { parse } from './parse.js';

const run = (src: string, data: unknown = {}, funcs = {}) => execute(parse('t', src), 't', data, funcs);

describe('Go text/template: parsing and running', () => {
  it('prints text, fields, variables and literals as Go does', () => {
    expect(run('Hello {{.Name}}!', { Name: 'World' })).toBe('Hello World!');
    expect(run('{{.A.B}} {{ .Missing }}', { A: { B: 7 } })).toBe('7 <no value>');
    expect(run('{{ $x := .N }}{{ $x }} {{ $ }}', { N: 3 })).toBe('3 map[N:3]');
    expect(
      run('{{ 1 }} {{ 1.5 }} {{ 0x10 }} {{ 1_000 }} {{ \'a\' }} {{ "q\\tx" }} {{ `raw` }} {{ true }} {{ print nil }}'),
    ).toBe('1 1.5 16 1000 97 q\tx raw true <nil>');
    // As Go: a JSON null prints as a missing value, whole floats print as floats, and bare nil is refused.
    expect(
      run('{{ .N }} {{ .M.a }} {{ 1.0 }} {{ 1e6 }} {{ 1000000 }} {{ printf "%v|%d" 3.0 3.0 }}', {
        N: null,
        M: { a: null },
      }),
    ).toBe('<no value> <no value> 1 1e+06 1000000 3|%!d(float64=3)');
    expect(() => run('{{ nil }}')).toThrow('nil is not a command');
    expect(run('{{ .L }} {{ .M }}', { L: ['a', 'b'], M: { b: 2, a: 1 } })).toBe('[a b] map[a:1 b:2]');
  });

  it('trims white space at {{- and -}}, and drops comments', () => {
    expect(run('a  \n {{- "b" -}} \n  c')).toBe('abc');
    expect(run('a {{/* gone */}} b')).toBe('a  b');
    expect(run('a {{- /* gone */ -}} b')).toBe('ab');
    // Without the space it is a negative number, not a trim marker.
    expect(run('{{-3}}')).toBe('-3');
  });

  it('runs if / else if / else, with / else with, and range with $i, $e, else, break and continue', () => {
    const t = '{{ if eq .N 1 }}one{{ else if eq .N 2 }}two{{ else }}many{{ end }}';
    expect([1, 2, 3].map((N) => run(t, { N }))).toEqual(['one', 'two', 'many']);
    expect(run('{{ with .A }}{{ . }}{{ else with .B }}b={{ . }}{{ else }}none{{ end }}', { B: 5 })).toBe('b=5');
    expect(run('{{ range $i, $e := .L }}{{ $i }}={{ $e }};{{ end }}', { L: ['x', 'y'] })).toBe('0=x;1=y;');
    expect(run('{{ range $k, $v := .M }}{{ $k }}:{{ $v }} {{ end }}', { M: { z: 1, a: 2 } })).toBe('a:2 z:1 ');
    expect(run('{{ range .L }}{{ . }}{{ else }}empty{{ end }}', { L: [] })).toBe('empty');
    expect(
      run('{{ range .L }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}', {
        L: [1, 2, 3, 4, 5],
      }),
    ).toBe('13');
    expect(run('{{ range 3 }}{{ . }}{{ end }}')).toBe('012');
  });

  it('keeps variables to their block and lets = change an outer one', () => {
    expect(run('{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ $y := 3 }}{{ end }}{{ $x }}')).toBe('2');
    expect(() => run('{{ if true }}{{ $y := 3 }}{{ end }}{{ $y }}')).toThrow(/t:1:\d+: undefined variable "\$y"/);
  });

  it('pipes values as the last argument, and calls functions and methods', () => {
    expect(run('{{ "a" | printf "%s-%s" "b" }}')).toBe('b-a');
    expect(run('{{ .S.Upper "x" }}', { S: { Upper: (s: string) => s.toUpperCase() } })).toBe('X');
    expect(run('{{ double 4 | double }}', {}, { double: (n: number) => n * 2 })).toBe('16');
    expect(
      run('{{ (len .L) }} {{ index .L 1 }} {{ index .M "k" }} {{ slice .L 1 }}', { L: [1, 2, 3], M: { k: 'v' } }),
    ).toBe('3 2 v [2 3]');
  });

  it('has Go’s comparison and logic builtins, short-circuiting and/or', () => {
    expect(run('{{ eq 1 2 1 }} {{ ne "a" "b" }} {{ lt 1 2 }} {{ ge "b" "a" }} {{ not 0 }}')).toBe(
      'true true true true true',
    );
    expect(run('{{ and 1 0 2 }} {{ or 0 "" "x" }} {{ or 0 (fail) }}', {}, { fail: () => 'never' })).toBe('0 x never');
    expect(
      run(
        '{{ and 0 (boom) }}',
        {},
        {
          boom: () => {
            throw new Error('evaluated');
          },
        },
      ),
    ).toBe('0');
    expect(() => run('{{ lt 1 "a" }}')).toThrow(/error calling lt: incompatible types for comparison/);
  });

  it('defines, calls and overrides templates with define, template and block', () => {
    expect(run('{{ define "x" }}[{{ . }}]{{ end }}{{ template "x" .V }}', { V: 1 })).toBe('[1]');
    expect(run('{{ block "b" .V }}<{{ . }}>{{ end }}', { V: 2 })).toBe('<2>');
  });

  it('names the template, line and column of syntax and run-time errors', () => {
    const err = (src: string, data = {}) => {
      try {
        run(src, data);
      } catch (e) {
        expect(e).toBeInstanceOf(TemplateError);
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(err('a\n  {{ if .X }}')).toBe('template: t:2:6: unexpected EOF: {{if}} without {{end}}');
    expect(err('{{ .A | }}')).toMatch(/^template: t:1:7: missing command after \|/);
    expect(err('x\n{{ nope 1 }}')).toBe('template: t:2:4: function "nope" not defined');
    expect(err('{{ "abc }}')).toMatch(/^template: t:1:4: unterminated quoted string/);
    expect(err('{{ end }}')).toMatch(/^template: t:1:4: unexpected \{\{end\}\}/);
    expect(err('{{ .A.B }}', { A: null })).toMatch(
      /^template: t:1:4: executing "t" at <\.A\.B>: nil pointer evaluating/,
    );
    expect(err('{{ break }}')).toMatch(/outside \{\{range\}\}/);
  });
});

describe('Go fmt verbs', () => {
  it('formats as Sprintf does', () => {
    expect(sprintf('%d|%5d|%-5d|%05d|%x|%X|%o|%b|%+d', [42, 42, 42, 42, 255, 255, 8, 5, 3])).toBe(
      '42|   42|42   |00042|ff|FF|10|101|+3',
    );
    expect(sprintf('%.2f|%8.3f|%e|%g|%v|%v', [3.14159, 2.5, 1234.5678, 0.00001, 1e21, 0.5])).toBe(
      '3.14|   2.500|1.234568e+03|1e-05|1e+21|0.5',
    );
    expect(sprintf('%s|%q|%v|%t|%c|%T|%%', ['a', 'b"c', ['x', 1], true, 65, 1.5])).toBe(
      'a|"b\\"c"|[x 1]|true|A|float64|%',
    );
    expect(sprintf('%d %s', [1])).toBe('1 %!s(MISSING)');
    expect(sprintf('%d', ['x'])).toBe('%!d(string=x)');
    expect(sprintf('%s', ['a', 2])).toBe('a%!(EXTRA int=2)');
  });
});

describe('escaping builtins', () => {
  it('escape as Go’s html, js and urlquery do', () => {
    expect(run(`{{ html "<a href='x'>&\\"" }}`)).toBe('&lt;a href=&#39;x&#39;&gt;&amp;&#34;');
    expect(run(`{{ js "it's <b>\\n" }}`)).toBe("it\\'s \\u003Cb\\u003E\\u000A");
    expect(run('{{ urlquery "a b&c" }}')).toBe('a+b%26c');
  });
});
