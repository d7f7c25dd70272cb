/** Prepared queries by ID (Consul's PreparedQuery, stored in its JSON shape). */
export const PREPARED_QUERIES_TABLE = 'prepared_queries';
/** Secondary index: lower-cased name → query ID, for every query with a name (templates too). */
export const PREPARED_QUERY_NAME_INDEX = 'prepared_query_names';
/** Secondary index: templateKey(lower-cased prefix) → query ID, templates only. */
export const PREPARED_QUERY_TEMPLATE_INDEX = 'prepared_query_templates';
/** The template index key of `prefix` (stores cannot hold '' keys, and '' is the catch-all's prefix). */
export const templateKey = (prefix: string): string => `>${prefix.toLowerCase()}`;
/**
 * Secondary index: sessionQueryKey(session, query ID) → '', for every query bound to a session, so
 * invalidating a session finds its queries without reading them all (Consul's "session" index).
 */
export const PREPARED_QUERY_SESSION_INDEX = 'prepared_query_sessions';
/** The session index key of query `id` bound to `session` (IDs hold no NUL). */
export const sessionQueryKey = (session: string, id: string): string => `${session}\u0000${id}`;
/** Pseudo-table of change notifications for prepared query reads (one key, PREPARED_QUERIES_INDEX). */
export const PREPARED_QUERY_WATCH_TABLE = 'query';
/** Logical table name whose modification index answers every prepared query read. */
export const PREPARED_QUERIES_INDEX = 'prepared_queries';

/** The only template type Consul knows: the longest name prefix wins. */
export const TEMPLATE_TYPE_NAME_PREFIX_MATCH = 'name_prefix_match';
/** What a token shows as when the reader may not see it (Consul's redactedToken). */
export const REDACTED_TOKEN = '<hidden>';

/** Longest query name, template regexp and interpolated field accepted (characters). */
export const MAX_QUERY_NAME_CHARS = 512;
export const MAX_TEMPLATE_REGEXP_CHARS = 1024;
/** Most entries in each list or map of a query (Tags, IgnoreCheckIDs, NodeMeta, Datacenters…). */
export const MAX_QUERY_LIST_ENTRIES = 64;
/** Largest prepared query body accepted (bytes). */
export const MAX_QUERY_BODY_BYTES = 64 * 1024;

/** Template settings: Type '' (not a template) or 'name_prefix_match'. */
export interface QueryTemplateOptions {
  readonly Type: string;
  readonly Regexp: string;
  readonly RemoveEmptyTags: boolean;
}

/**
 * A failover target (Consul's QueryFailoverTarget), stored and shown; with one datacenter there is
 * nothing to fail over to. Peer is always '' (a Peer target is refused: there is no peering).
 */
export interface QueryFailoverTarget {
  readonly Peer: string;
  readonly Datacenter: string;
}

/**
 * Failover settings (Consul's QueryFailoverOptions), stored and shown; honoured once there are
 * other datacenters. NearestN is a safe integer >= 0; Targets is empty unless NearestN is 0 and
 * Datacenters is empty. Datacenters may name datacenters nobody knows (Consul skips them).
 */
export interface QueryFailoverOptions {
  readonly NearestN: number;
  readonly Datacenters: readonly string[] | null;
  readonly Targets: readonly QueryFailoverTarget[] | null;
}

/** What a query looks up: one service, filtered. Absent lists and maps are null, as Go writes them. */
export interface ServiceQuery {
  readonly Service: string;
  readonly Failover: QueryFailoverOptions;
  readonly OnlyPassing: boolean;
  readonly IgnoreCheckIDs: readonly string[] | null;
  readonly Near: string;
  /** Every tag must be present, a tag written `!tag` must be absent (case-insensitive). */
  readonly Tags: readonly string[] | null;
  readonly NodeMeta: Readonly<Record<string, string>> | null;
  readonly ServiceMeta: Readonly<Record<string, string>> | null;
  readonly Peer: string;
  readonly Connect: boolean;
}

/** DNS settings: TTL is a Go duration string, or '' for the server's service TTL. */
export interface QueryDnsOptions {
  readonly TTL: string;
}

/** A prepared query, in Consul's JSON shape. */
export interface PreparedQueryRecord {
  readonly ID: string;
  readonly Name: string;
  readonly Session: string;
  readonly Token: string;
  readonly Template: QueryTemplateOptions;
  readonly Service: ServiceQuery;
  readonly DNS: QueryDnsOptions;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

/** A query as proposed (indexes are assigned when applied). */
export type PreparedQueryInput = Omit<PreparedQueryRecord, 'CreateIndex' | 'ModifyIndex'>;

/** Whether `q` is a template (Consul's IsTemplate: any Template.Type). */
export const isTemplate = (q: Pick<PreparedQueryInput, 'Template'>): boolean => q.Template.Type !== '';

/**
 * The name ACL rules for `q` are checked against (Consul's GetACLPrefix): its name when it has one
 * or is a template (a template's name is its prefix, '' for the catch-all); undefined for an
 * unnamed session-bound query, which only its ID reaches.
 */
export function aclPrefixOf(q: Pick<PreparedQueryInput, 'Name' | 'Template'>): string | undefined {
  return q.Name !== '' || isTemplate(q) ? q.Name : undefined;
}
