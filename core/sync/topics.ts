/**
 * The MQTT topic scheme, under `konsul/v1/<dc>/`:
 *
 * | topic | direction | payload |
 * | --- | --- | --- |
 * | `changes` | server → replicas | msgpack sync batch (every KV and health change, in order) |
 * | `kv/<key>` (retained) | server → anyone | msgpack `{index, entry}`; empty when deleted |
 * | `health/<service>/<node>/<id>` (retained) | server → anyone | msgpack `{index, entry}`; empty when gone |
 * | `sync/req` | replica → server | msgpack sync request |
 * | `sync/resp/<agent>` | server → one replica | msgpack snapshot chunks or batches, then `done` |
 * | `write/<device>` | device → server | a JWT (compact JWS) describing one KV write |
 * | `check/<device>` | device → server | a JWT carrying a TTL-check heartbeat |
 * | `ack/<device>` | server → device | JSON `{rid, ok, index?, result?, replayed?, error?}` (MQTT 5: `reasonCode`) |
 * | `agents/<agent>` | edge agent → servers | JSON announcement (as PUT /v1/edge/agents/<agent> takes it) |
 * | `servers/<server>` (retained) | server → replicas | JSON `{status: "online"|"offline"}`; "offline" is also the
 * server's MQTT will |
 *
 * Topic levels are escaped: `%`, `+`, `#` and NUL become `%25`, `%2B`, `%23`, `%00`; inside KV
 * keys `/` stays a level separator, elsewhere it becomes `%2F`.
 */

// eslint-disable-next-line no-control-regex -- NUL is escaped on purpose (see above)
const ESCAPE_KEY = /[%+#\u0000]/g;
// eslint-disable-next-line no-control-regex -- NUL is escaped on purpose (see above)
const ESCAPE_LEVEL = /[%+#/\u0000]/g;
const hex = (c: string): string => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;

/** Escapes a KV key for use as the tail of a topic (slashes stay level separators). */
export function escapeKey(key: string): string {
  return key.replace(ESCAPE_KEY, hex);
}

/** Escapes one topic level (a service, node, check or device name). */
export function escapeLevel(level: string): string {
  return level.replace(ESCAPE_LEVEL, hex);
}

/** Reverses escapeKey / escapeLevel. Throws URIError on a malformed escape. */
export function unescapeTopicPart(text: string): string {
  return decodeURIComponent(text);
}

/** Topic builders for one datacenter. */
export function topics(datacenter: string) {
  const root = `konsul/v1/${escapeLevel(datacenter)}/`;
  return {
    root,
    changes: `${root}changes`,
    kv: (key: string) => `${root}kv/${escapeKey(key)}`,
    /** A subscription filter covering every key under `prefix` (narrowed to its last full level). */
    kvFilter: (prefix: string) => {
      const cut = prefix.lastIndexOf('/');
      return cut < 0 ? `${root}kv/#` : `${root}kv/${escapeKey(prefix.slice(0, cut + 1))}#`;
    },
    kvKeyOf: (topic: string): string | undefined =>
      topic.startsWith(`${root}kv/`) ? unescapeTopicPart(topic.slice(root.length + 3)) : undefined,
    health: (service: string, node: string, id: string) =>
      `${root}health/${escapeLevel(service)}/${escapeLevel(node)}/${escapeLevel(id)}`,
    healthFilter: (service: string) => `${root}health/${escapeLevel(service)}/#`,
    syncRequest: `${root}sync/req`,
    syncResponse: (agent: string) => `${root}sync/resp/${escapeLevel(agent)}`,
    write: (device: string) => `${root}write/${escapeLevel(device)}`,
    writeFilter: `${root}write/+`,
    check: (device: string) => `${root}check/${escapeLevel(device)}`,
    checkFilter: `${root}check/+`,
    ack: (device: string) => `${root}ack/${escapeLevel(device)}`,
    /** An edge agent's announcement (JSON). */
    agent: (id: string) => `${root}agents/${escapeLevel(id)}`,
    agentFilter: `${root}agents/+`,
    /** A server's presence (retained; its will says offline). */
    server: (id: string) => `${root}servers/${escapeLevel(id)}`,
    serverFilter: `${root}servers/+`,
    /** The device (or agent) named by the last level of a write/check/agents topic. */
    deviceOf: (topic: string): string => unescapeTopicPart(topic.slice(topic.lastIndexOf('/') + 1)),
  };
}

/** The topic builders of a datacenter. */
export type Topics = ReturnType<typeof topics>;
