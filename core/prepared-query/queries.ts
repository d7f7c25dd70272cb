import { RefusedError } from '../errors.js';
import { readTableIndex } from '../fsm/meta.js';
import type { ReadTxn } from '../ports/state-store.js';
import type { Indexed } from '../util/indexed.js';
import { isUuid } from '../util/uuid.js';
import { compileTemplate } from './template.js';
import {
  isTemplate,
  PREPARED_QUERIES_INDEX,
  PREPARED_QUERIES_TABLE,
  PREPARED_QUERY_NAME_INDEX,
  PREPARED_QUERY_TEMPLATE_INDEX,
  type PreparedQueryRecord,
  templateKey,
} from './types.js';

const tableIndex = (tx: ReadTxn): number => readTableIndex(tx, PREPARED_QUERIES_INDEX);

/** One query by ID, if stored (IDs are matched ignoring case). Index: the queries table. */
export function getQuery(tx: ReadTxn, id: string): Indexed<PreparedQueryRecord | undefined> {
  return { index: tableIndex(tx), value: tx.get<PreparedQueryRecord>(PREPARED_QUERIES_TABLE, id.toLowerCase()) };
}

/** Every query, in ID order. Index: the queries table. */
export function listQueries(tx: ReadTxn): Indexed<PreparedQueryRecord[]> {
  return {
    index: tableIndex(tx),
    value: [...tx.range<PreparedQueryRecord>(PREPARED_QUERIES_TABLE)].map(([, q]) => q),
  };
}

/** What a name or ID resolves to: the query as stored and as it runs (a template rendered for the name). */
export interface ResolvedQuery {
  readonly stored: PreparedQueryRecord;
  readonly rendered: PreparedQueryRecord;
}

/**
 * Finds the query `idOrName` names (Consul's PreparedQueryResolve): an ID first (when it looks
 * like one), then an exact name (ignoring case), then the template with the longest prefix of the
 * name ('' catches every name). A template found by name is rendered for that name. Undefined when
 * nothing matches or `idOrName` is ''; RefusedError (500, Consul's text) when an ID names a
 * template (templates are reached by name only).
 */
export function resolveQuery(tx: ReadTxn, idOrName: string): ResolvedQuery | undefined {
  if (idOrName === '') return undefined;
  if (isUuid(idOrName)) {
    const byId = tx.get<PreparedQueryRecord>(PREPARED_QUERIES_TABLE, idOrName.toLowerCase());
    if (byId) {
      if (isTemplate(byId))
        throw new RefusedError('prepared query templates can only be resolved up by name, not by ID');
      return { stored: byId, rendered: byId };
    }
  }
  const lower = idOrName.toLowerCase();
  let id = tx.get<string>(PREPARED_QUERY_NAME_INDEX, lower);
  // The longest template prefix: try the name, then ever shorter prefixes of it, down to ''.
  for (let end = lower.length; id === undefined && end >= 0; end--)
    id = tx.get<string>(PREPARED_QUERY_TEMPLATE_INDEX, templateKey(lower.slice(0, end)));
  if (id === undefined) return undefined;
  const stored = tx.get<PreparedQueryRecord>(PREPARED_QUERIES_TABLE, id);
  if (!stored) return undefined;
  return { stored, rendered: isTemplate(stored) ? compileTemplate(stored).render(idOrName) : stored };
}

/** The index a query read answers with. */
export function preparedQueriesIndex(tx: ReadTxn): number {
  return tableIndex(tx);
}
