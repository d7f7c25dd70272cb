import type { TokenVerdict, TokenWatch } from '../../core/acl/token-watch.js';
import { timingSafeEqual } from 'node:crypto';
import type { AclIdentity, AclResolver } from '../../core/acl/resolve.js';
import type { Clock } from '../../core/ports/clock.js';
import type { Logger } from '../../core/ports/logger.js';
import type { StateStore } from '../../core/ports/state-store.js';
import { topics, unescapeTopicPart } from '../../core/sync/topics.js';

/** Who an MQTT connection is: a Konsul server (everything), or a token's identity. */
type Who = 'server' | AclIdentity;

/** The user name a server's own bridge connects with (with the broker's internal secret). */
export const SERVER_USERNAME = 'konsul-server';

/** An authentication failure as aedes expects it (CONNACK return code 4 or 5). */
function authError(message: string, code: 4 | 5): Error & { returnCode: number } {
  return Object.assign(new Error(message), { returnCode: code });
}

/**
 * ACLs on the embedded broker. A connection authenticates with an ACL token as its password
 * (none: the anonymous token; an unknown one is refused); a server's own bridge with the broker's
 * internal secret. Then:
 * - only servers publish on the Konsul topics, except `sync/req`, `write/<device>` and
 *   `check/<device>` (device messages carry their own signatures), and `agents/<agent>` by that
 *   agent's connection (recorded only with node:write on its name, see mayAnnounce);
 * - subscribing to `changes` needs read on every key, service and node; `kv/<prefix>#` read on every
 *   key under the prefix (`kv/<key>`: on the key); `health/<service>/#` read on the service and
 *   every node; `sync/resp/<agent>` only by that agent's connection (client id
 *   `konsul-edge-<agent>`); `servers/+` and `ack/<device>` by anyone;
 * - other wildcards over Konsul topics are for servers; topics outside them follow the default policy.
 * Refused subscriptions are answered with QoS 128; refused publishes close the connection.
 */
/** The client id an edge agent connects with: this, then its name. */
const EDGE_CLIENT_PREFIX = 'konsul-edge-';

export class MqttAccess {
  private readonly who = new WeakMap<object, Who>();
  /** The connected edge agents' sessions, by agent (their client id is `konsul-edge-<agent>`). */
  private readonly agents = new Map<string, object>();
  /** Stops following each session's token (when it disconnects). */
  private readonly unfollow = new WeakMap<object, () => void>();
  private readonly root: string;

  constructor(
    private readonly o: {
      resolver: AclResolver;
      store: StateStore;
      clock: Clock;
      datacenter: string;
      /** The secret the servers' bridge presents (random per process; never logged). */
      internalSecret: string;
      logger: Logger;
      /** Follows each session's token: a deleted one, or one that lost a subscription, closes the session. */
      tokenWatch?: TokenWatch;
    },
  ) {
    this.root = topics(o.datacenter).root;
  }

  private identity(client: object): Who | undefined {
    return this.who.get(client);
  }

  authenticate(
    client: object,
    username: string | undefined,
    password: Buffer | undefined,
    done: (err: (Error & { returnCode: number }) | null, ok: boolean | null) => void,
  ): void {
    const secret = password?.toString('utf8');
    if (username === SERVER_USERNAME) {
      const a = Buffer.from(secret ?? '');
      const b = Buffer.from(this.o.internalSecret);
      if (a.length === b.length && timingSafeEqual(a, b)) {
        this.who.set(client, 'server');
        return done(null, true);
      }
      return done(authError('Not authorized', 5), false);
    }
    try {
      const token = secret === '' ? undefined : secret;
      const id = this.o.store.read((tx) => this.o.resolver.resolve(tx, token, this.o.clock.now()));
      this.who.set(client, id);
      const clientId = (client as { id?: string }).id ?? '';
      if (clientId.startsWith(EDGE_CLIENT_PREFIX)) this.agents.set(clientId.slice(EDGE_CLIENT_PREFIX.length), client);
      if (this.o.tokenWatch)
        this.unfollow.set(
          client,
          this.o.tokenWatch.watch(token, (v) => this.tokenChanged(client, v)),
        );
      done(null, true);
    } catch {
      this.o.logger.info('mqtt connection refused: unknown token', { client: (client as { id?: string }).id ?? '' });
      done(authError('Bad user name or password', 4), false);
    }
  }

  /** The session ended: its token is no longer followed. */
  forget(client: object): void {
    this.unfollow.get(client)?.();
    this.unfollow.delete(client);
    const clientId = (client as { id?: string }).id ?? '';
    const agent = clientId.slice(EDGE_CLIENT_PREFIX.length);
    if (clientId.startsWith(EDGE_CLIENT_PREFIX) && this.agents.get(agent) === client) this.agents.delete(agent);
  }

  /**
   * Whether `agent`'s announcements count: its session is connected and its token has node:write
   * on its name. Announcements of other agents are taken by the broker (a refused publish would
   * close the session, and an agent's sync link with it) but not recorded.
   */
  mayAnnounce(agent: string): boolean {
    const client = this.agents.get(agent);
    const w = client ? this.identity(client) : undefined;
    if (!w) return false;
    return w === 'server' || w.authz.decide('node', agent, 'write').allowed;
  }

  /** A session's token changed: gone, or no longer allowed one of its subscriptions, it is closed. */
  private tokenChanged(client: object, v: TokenVerdict): void {
    const c = client as { id?: string; subscriptions?: Record<string, unknown>; close?: () => void };
    let why: string | undefined;
    if (!v.ok) why = v.reason;
    else {
      this.who.set(client, v.identity);
      const lost = Object.keys(c.subscriptions ?? {}).find((f) => !this.authorizeSubscribe(client, f));
      if (lost !== undefined) why = `the token may no longer subscribe to ${lost}`;
    }
    if (why === undefined) return;
    this.o.logger.info('mqtt session closed: its token changed', { client: c.id ?? '', reason: why });
    this.forget(client);
    this.who.delete(client);
    c.close?.();
  }

  authorizePublish(client: object | null, topic: string): boolean {
    if (client === null) return true; // the broker's own will messages
    const w = this.identity(client);
    if (!w) return false;
    if (w === 'server') return true;
    if (topic.startsWith('$SYS')) return false;
    if (!this.touchesKonsul(topic)) return w.authz.isManagement || this.o.resolver.settings.defaultPolicy === 'allow';
    const rest = topic.slice(this.root.length);
    // An agent announces only itself (its client id); whether that counts is mayAnnounce's call.
    const agent = /^agents\/([^/+#]+)$/.exec(rest);
    if (agent) {
      try {
        return (client as { id?: string }).id === `${EDGE_CLIENT_PREFIX}${unescapeTopicPart(agent[1] as string)}`;
      } catch {
        return false;
      }
    }
    return rest === 'sync/req' || /^(write|check)\/[^/]+$/.test(rest);
  }

  authorizeSubscribe(client: object, filter: string): boolean {
    const w = this.identity(client);
    if (!w) return false;
    if (w === 'server') return true;
    if (!filter.startsWith(this.root))
      return this.touchesKonsul(filter)
        ? false
        : w.authz.isManagement || this.o.resolver.settings.defaultPolicy === 'allow';
    const rest = filter.slice(this.root.length);
    const a = w.authz;
    const readsAll = (r: 'key' | 'service' | 'node') => a.allUnder(r, '', 'read').allowed;
    try {
      if (rest === 'changes') return readsAll('key') && readsAll('service') && readsAll('node');
      if (rest === 'servers/+' || /^servers\/[^/+#]+$/.test(rest) || /^ack\/[^/+#]+$/.test(rest)) return true;
      const resp = /^sync\/resp\/([^/+#]+)$/.exec(rest);
      if (resp) return (client as { id?: string }).id === `konsul-edge-${unescapeTopicPart(resp[1] as string)}`;
      const health = /^health\/([^/+#]+)\/#$/.exec(rest);
      if (health) return a.canRead('service', unescapeTopicPart(health[1] as string)) && readsAll('node');
      if (rest.startsWith('kv/')) {
        const k = rest.slice(3);
        if (k.endsWith('#') && !/[+#]/.test(k.slice(0, -1)))
          return a.allUnder('key', unescapeTopicPart(k.slice(0, -1)), 'read').allowed;
        if (!/[+#]/.test(k)) return a.canRead('key', unescapeTopicPart(k));
      }
    } catch {
      return false; // a badly escaped level
    }
    return false;
  }

  /** Whether a topic or filter can reach the Konsul topics of this datacenter. */
  private touchesKonsul(topicOrFilter: string): boolean {
    const want = this.root.split('/').slice(0, -1); // ["konsul", "v1", "<dc>"]
    const got = topicOrFilter.split('/');
    for (let i = 0; i < want.length; i++) {
      const g = got[i];
      if (g === undefined) return false;
      if (g === '#') return true;
      if (g !== '+' && g !== want[i]) return false;
    }
    return true;
  }
}
