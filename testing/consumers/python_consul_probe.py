"""Exercises python-consul (the Debian package, 0.7.1) against one Konsul server.

Usage: /usr/bin/python3 python_consul_probe.py HOST PORT
       /usr/bin/python3 python_consul_probe.py HOST PORT session-create NAME
       /usr/bin/python3 python_consul_probe.py HOST PORT session-info ID

The first form runs every call in a fixed order and prints one JSON object on stdout: for each
step its name with {"ok": true, "value": ...} or {"ok": false, "error": "<exception class>: <message>"}.
The others create a session with python-consul's defaults (no TTL, the node's serfHealth check)
and print {"id": ...}, or print {"session": <info or null>}.
python-consul puts the HTTP status and body of a refused request into its exception messages, so
a failed step names what the server answered. The test (python-consul.test.ts) asserts on it.
Only the KV prefix "consumers/", the node "consumers-ext" and services "legacy", "api" are used.
"""

import base64
import json
import sys
import threading
import time

import consul
import requests


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    c = consul.Consul(host=host, port=port)
    if len(sys.argv) == 5 and sys.argv[3] == "session-create":
        print(json.dumps({"id": c.session.create(name=sys.argv[4])}))
        return
    if len(sys.argv) == 5 and sys.argv[3] == "session-info":
        print(json.dumps({"session": c.session.info(sys.argv[4])[1]}))
        return
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    raw = requests.Session()
    base = "http://%s:%d" % (host, port)
    results = {}

    def step(name, fn):
        try:
            value = fn()
            results[name] = {"ok": True, "value": jsonable(value)}
            return value
        except Exception as e:  # every failure is a finding, reported rather than raised
            results[name] = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
            return None

    def eventually(read, done, timeout=15.0):
        """Polls read() until done(value): agent registrations reach the catalog asynchronously
        (anti-entropy), in Consul as in Konsul. Returns the value and how long it took."""
        started = time.time()
        while True:
            value = read()
            if done(value) or time.time() - started > timeout:
                return {"value": value, "seconds": round(time.time() - started, 2)}
            time.sleep(0.1)

    def status_of(method, path, data=None):
        """The HTTP status and body a raw request gets (for calls python-consul makes with old methods)."""
        r = raw.request(method, base + path, data=data, timeout=10)
        return {"status": r.status_code, "body": r.text[:200]}

    # --- KV: put/get with flags, cas, recurse, keys, delete
    step("module_version", lambda: consul.__version__)
    step("kv_put_flags", lambda: c.kv.put("consumers/a", "v1", flags=42))
    step("kv_get", lambda: c.kv.get("consumers/a")[1])
    step("kv_put_cas0_existing", lambda: c.kv.put("consumers/a", "other", cas=0))
    step("kv_put_cas0_new", lambda: c.kv.put("consumers/new", "n", cas=0))
    current = (c.kv.get("consumers/a")[1] or {}).get("ModifyIndex", 0)
    step("kv_put_cas_stale", lambda: c.kv.put("consumers/a", "v2", cas=current + 1000))
    step("kv_put_cas_current", lambda: c.kv.put("consumers/a", "v2", cas=current))
    step("kv_get_after_cas", lambda: c.kv.get("consumers/a")[1])
    step("kv_put_tree", lambda: [c.kv.put("consumers/dir/x", "1"), c.kv.put("consumers/dir/y/z", "2")])
    step("kv_recurse", lambda: [e["Key"] for e in c.kv.get("consumers/", recurse=True)[1]])
    step("kv_keys_separator", lambda: c.kv.get("consumers/", keys=True, separator="/")[1])
    step("kv_get_missing", lambda: c.kv.get("consumers/missing"))
    step("kv_get_consistent", lambda: c.kv.get("consumers/a", consistency="consistent")[1]["Value"])
    step("kv_get_stale", lambda: c.kv.get("consumers/a", consistency="stale")[1]["Value"])
    step("kv_delete_recurse", lambda: c.kv.delete("consumers/dir/", recurse=True))
    step("kv_recurse_after_delete", lambda: c.kv.get("consumers/dir/", recurse=True)[1])

    # --- Sessions and locks (kv put acquire=/release=)
    s1 = step("session_create", lambda: c.session.create(name="probe-1", ttl=10, lock_delay=0))
    s2 = step("session_create_second", lambda: c.session.create(name="probe-2", ttl=10, behavior="delete"))
    step("session_info", lambda: c.session.info(s1)[1])
    step("session_renew", lambda: c.session.renew(s1))
    step("session_list_ids", lambda: sorted(s["ID"] for s in c.session.list()[1]))
    step("lock_acquire", lambda: c.kv.put("consumers/lock", "holder-1", acquire=s1))
    step("lock_held", lambda: c.kv.get("consumers/lock")[1])
    step("lock_acquire_contended", lambda: c.kv.put("consumers/lock", "holder-2", acquire=s2))
    step("lock_release_by_other", lambda: c.kv.put("consumers/lock", "holder-2", release=s2))
    step("lock_release", lambda: c.kv.put("consumers/lock", "released", release=s1))
    step("lock_after_release", lambda: c.kv.get("consumers/lock")[1])
    step("lock_acquire_second", lambda: c.kv.put("consumers/ephemeral", "holder-2", acquire=s2))
    step("session_destroy", lambda: [c.session.destroy(s1), c.session.destroy(s2)])
    step("session_info_destroyed", lambda: c.session.info(s1)[1])
    step("ephemeral_after_destroy", lambda: c.kv.get("consumers/ephemeral")[1])
    step("session_renew_destroyed", lambda: c.session.renew(s1))

    # --- Catalog
    step(
        "catalog_register",
        lambda: c.catalog.register(
            "consumers-ext",
            "10.1.2.3",
            service={"Service": "legacy", "ID": "legacy1", "Port": 8080, "Tags": ["v1"]},
            check={
                "Node": "consumers-ext",
                "CheckID": "service:legacy1",
                "Name": "legacy alive",
                "Status": "passing",
                "ServiceID": "legacy1",
            },
        ),
    )
    step("catalog_services", lambda: c.catalog.services()[1])
    step("catalog_service", lambda: c.catalog.service("legacy")[1])
    step("catalog_service_tag", lambda: [n["ServiceID"] for n in c.catalog.service("legacy", tag="v1")[1]])
    step("catalog_nodes", lambda: sorted(n["Node"] for n in c.catalog.nodes()[1]))
    step("catalog_node", lambda: c.catalog.node("consumers-ext")[1])
    step("health_service_passing", lambda: c.health.service("legacy", passing=True)[1])

    # --- Agent services with a TTL check, health, deregistration
    step(
        "agent_service_register",
        lambda: c.agent.service.register(
            "api", service_id="api1", address="127.0.0.1", port=9000, tags=["t"], check=consul.Check.ttl("30s")
        ),
    )
    step("agent_services", lambda: c.agent.services())
    step("agent_checks", lambda: c.agent.checks())
    step(
        "health_api_synced",
        lambda: eventually(
            lambda: [{x["CheckID"]: x["Status"] for x in n["Checks"]} for n in c.health.service("api")[1]],
            lambda v: len(v) > 0,
        ),
    )
    step("health_api_passing_before_ttl", lambda: c.health.service("api", passing=True)[1])
    step("health_state_critical", lambda: [x["CheckID"] for x in c.health.state("critical")[1]])
    # python-consul 0.7.1 sends GET for these; Consul registers them for PUT only.
    step("agent_check_ttl_pass", lambda: c.agent.check.ttl_pass("service:api1"))
    step("raw_get_check_pass", lambda: status_of("GET", "/v1/agent/check/pass/service:api1"))
    step("raw_put_check_pass", lambda: status_of("PUT", "/v1/agent/check/pass/service:api1"))
    step(
        "health_api_passing_after_ttl",
        lambda: eventually(
            lambda: [n["Service"]["ID"] for n in c.health.service("api", passing=True)[1]],
            lambda v: len(v) > 0,
        ),
    )
    step("agent_service_deregister", lambda: c.agent.service.deregister("api1"))
    step("raw_get_service_deregister", lambda: status_of("GET", "/v1/agent/service/deregister/api1"))
    step("raw_put_service_deregister", lambda: status_of("PUT", "/v1/agent/service/deregister/api1"))
    step("agent_services_after_deregister", lambda: sorted(c.agent.services().keys()))
    step(
        "health_api_after_deregister",
        lambda: eventually(lambda: c.health.service("api")[1], lambda v: len(v) == 0),
    )

    # --- Blocking queries woken by writes
    def blocking(name, read, write):
        index = read(None)[0]
        box = {}

        def wait():
            started = time.time()
            try:
                box["result"] = read(index)
            except Exception as e:
                box["error"] = "%s: %s" % (type(e).__name__, e)
            box["seconds"] = time.time() - started

        t = threading.Thread(target=wait)
        t.start()
        time.sleep(0.5)  # usually parks the query first; a write before it arrives also answers at once
        write()
        t.join(60)
        if "error" in box:
            raise RuntimeError(box["error"])
        new_index, data = box["result"]
        return {"index_before": index, "index_after": new_index, "data": data, "seconds": round(box["seconds"], 2)}

    step(
        "blocking_kv",
        lambda: blocking(
            "kv",
            lambda index: c.kv.get("consumers/watch", index=index, wait="30s"),
            lambda: c.kv.put("consumers/watch", "woken"),
        ),
    )
    step(
        "blocking_health",
        lambda: blocking(
            "health",
            lambda index: c.health.service("blocky", index=index, wait="30s"),
            lambda: c.catalog.register(
                "consumers-ext", "10.1.2.3", service={"Service": "blocky", "ID": "blocky1", "Port": 7}
            ),
        ),
    )

    # --- Transactions: python-consul 0.7.1 has no API for /v1/txn
    step("txn_api_present", lambda: hasattr(c, "txn"))

    # --- Status, agent, events, operator
    step("status_leader", lambda: c.status.leader())
    step("status_peers", lambda: sorted(c.status.peers()))
    step("agent_self_config", lambda: c.agent.self()["Config"])
    step("agent_members", lambda: sorted(m["Name"] for m in c.agent.members()))
    step("catalog_datacenters", lambda: c.catalog.datacenters())
    step("event_fire", lambda: c.event.fire("consumers-deploy", "payload-1")["Name"])
    step("event_list", lambda: [(e["Name"], e["Payload"]) for e in c.event.list(name="consumers-deploy")[1]])
    step("operator_raft_config", lambda: sorted(s["Node"] for s in c.operator.raft_config()["Servers"]))
    step("catalog_deregister", lambda: c.catalog.deregister("consumers-ext"))
    step("catalog_nodes_after_deregister", lambda: sorted(n["Node"] for n in c.catalog.nodes()[1]))

    json.dump(results, sys.stdout)
    sys.stdout.write("\n")


def jsonable(v):
    """Bytes (KV values, event payloads) as text so the result is JSON."""
    if isinstance(v, bytes):
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(v).decode("ascii")
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


if __name__ == "__main__":
    main()
