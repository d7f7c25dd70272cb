"""Drives Patroni's own Consul DCS module (patroni.dcs.consul) against a Konsul server and prints
what it saw as one JSON line. Usage: python3 patroni_dcs_probe.py http://127.0.0.1:PORT

It checks the answers Patroni branches on: a session TTL below the server's minimum (500
"Invalid Session TTL ...", then Config.SessionTTLMin from /v1/agent/self), acquiring with an
unknown session (500 "invalid session ..."), and renewing a session that is gone (404)."""
import json
import logging
import sys
import uuid
from urllib.parse import urlparse

from patroni.dcs.consul import Consul, InvalidSession

logging.basicConfig(level=logging.CRITICAL)
url = urlparse(sys.argv[1])
dcs = Consul({'host': '%s:%d' % (url.hostname, url.port), 'scope': 'demo', 'name': 'pg1',
              'namespace': '/service/', 'ttl': 10, 'retry_timeout': 10, 'loop_wait': 10})
out = {'session': dcs._session, 'http_ttl': dcs._client.http.ttl}

bogus = str(uuid.uuid4())
try:
    dcs._client.kv.put('service/demo/probe', 'x', acquire=bogus)
    out['bogus_acquire'] = 'accepted'
except InvalidSession as e:
    out['bogus_acquire'] = 'InvalidSession: %s' % e
except Exception as e:  # any other exception is a mismatch the test reports
    out['bogus_acquire'] = '%s: %s' % (type(e).__name__, e)

first = dcs._session
dcs._client.session.destroy(first)
out['info_after_destroy'] = dcs._client.session.info(first)[1]
data = {'conn_url': 'postgres://127.0.0.1:5432/postgres', 'api_url': 'http://127.0.0.1:8008/patroni'}
# The member key is written with acquire=<the destroyed session>: Patroni must see InvalidSession
# and forget its session; the next loop renews nothing and creates a new one.
out['touch_member_with_dead_session'] = dcs.touch_member(data)
out['session_dropped'] = dcs._session is None
out['touch_member_again'] = dcs.touch_member(data)
out['new_session'] = dcs._session is not None and dcs._session != first
member = dcs._client.kv.get('service/demo/members/pg1')[1]
out['member_session_is_new'] = member is not None and member.get('Session') == dcs._session
# Renewing a session that is gone is a 404, which Patroni (python-consul's NotFound) answers by
# creating a new one.
second = dcs._session
dcs._client.session.destroy(second)
out['refreshed_after_404'] = dcs._do_refresh_session(force=True)
out['third_session'] = dcs._session is not None and dcs._session not in (first, second)
print(json.dumps(out))
