import { CorruptError } from '../errors.js';
import { field } from '../fsm/command.js';
import type { CommandHandler, StateModule } from '../fsm/state-machine.js';
import { deleteQuery, setQuery } from './ops.js';
import {
  PREPARED_QUERIES_TABLE,
  PREPARED_QUERY_NAME_INDEX,
  PREPARED_QUERY_SESSION_INDEX,
  PREPARED_QUERY_TEMPLATE_INDEX,
  type PreparedQueryInput,
} from './types.js';

/**
 * Creates (`create` true) or replaces a prepared query, validated by the proposer (decodeQuery,
 * validateQuery) and re-checked when applied (setQuery). `maxQueries` is the proposer's bound on
 * how many queries may exist, carried in the command so every server applies the same rule.
 * Result: the stored record.
 */
export interface PreparedQuerySetCommand {
  readonly type: 'query.set';
  readonly query: PreparedQueryInput;
  readonly create: boolean;
  readonly maxQueries: number;
}

/** Deletes prepared query `id`. Result: true; RefusedError when it does not exist. */
export interface PreparedQueryDeleteCommand {
  readonly type: 'query.delete';
  readonly id: string;
}

/** Every prepared query command. */
export type PreparedQueryCommand = PreparedQuerySetCommand | PreparedQueryDeleteCommand;

const set: CommandHandler = {
  apply(ctx, cmd) {
    const q = cmd['query'] as PreparedQueryInput | undefined;
    if (
      !q ||
      typeof q !== 'object' ||
      typeof q.ID !== 'string' ||
      typeof q.Name !== 'string' ||
      typeof q.Session !== 'string' ||
      typeof q.Template !== 'object' ||
      typeof q.Service !== 'object' ||
      typeof cmd['create'] !== 'boolean'
    ) {
      throw new CorruptError('query.set: malformed prepared query');
    }
    return setQuery(ctx, q, cmd['create'], field.index(cmd, 'maxQueries'));
  },
};

const remove: CommandHandler = {
  apply(ctx, cmd) {
    deleteQuery(ctx, field.string(cmd, 'id'));
    return true;
  },
};

/**
 * The prepared query module: queries by ID and their name, template-prefix and session indexes.
 * Queries bound to a session are also deleted when it ends (preparedQuerySessionDependents).
 */
export const preparedQueryModule: StateModule = {
  tables: [
    PREPARED_QUERIES_TABLE,
    PREPARED_QUERY_NAME_INDEX,
    PREPARED_QUERY_TEMPLATE_INDEX,
    PREPARED_QUERY_SESSION_INDEX,
  ],
  handlers: { 'query.set': set, 'query.delete': remove },
};
