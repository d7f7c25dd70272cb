import { BadRequestError } from '../errors.js';
import type { StateModule } from '../fsm/state-machine.js';
import type { ReadTxn } from '../ports/state-store.js';
import { parseDuration } from '../util/duration.js';

/** StateStore table holding the autopilot configuration (one row). */
export const AUTOPILOT_TABLE = 'autopilot';
const CONFIG_KEY = 'config';

/** Autopilot settings, in Consul's JSON shape (durations as Go strings). */
export interface AutopilotConfig {
  /** Remove servers that stayed unreachable for DeadServerLastContactThreshold. */
  readonly CleanupDeadServers: boolean;
  readonly LastContactThreshold: string;
  readonly DeadServerLastContactThreshold: string;
  readonly MaxTrailingLogs: number;
  /** Never shrink the voters below this many by cleanup. */
  readonly MinQuorum: number;
  readonly ServerStabilizationTime: string;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
}

/** Defaults (Consul's, except a shorter dead-server threshold suited to small clusters). */
export const DEFAULT_AUTOPILOT: AutopilotConfig = {
  CleanupDeadServers: true,
  LastContactThreshold: '200ms',
  DeadServerLastContactThreshold: '5m',
  MaxTrailingLogs: 250,
  MinQuorum: 0,
  ServerStabilizationTime: '10s',
  CreateIndex: 0,
  ModifyIndex: 0,
};

/** Parses and validates a client's configuration body (unknown fields refused). Throws BadRequestError. */
export function parseAutopilotConfig(body: unknown, current: AutopilotConfig): AutopilotConfig {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new BadRequestError('Request body must be a JSON object');
  const next: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(body)) {
    switch (k) {
      case 'CleanupDeadServers':
        if (typeof v !== 'boolean') throw new BadRequestError(`${k} must be a boolean`);
        next[k] = v;
        break;
      case 'LastContactThreshold':
      case 'DeadServerLastContactThreshold':
      case 'ServerStabilizationTime':
        if (typeof v !== 'string' || parseDuration(v) === undefined)
          throw new BadRequestError(`${k} must be a duration such as "10s"`);
        next[k] = v;
        break;
      case 'MaxTrailingLogs':
      case 'MinQuorum':
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
          throw new BadRequestError(`${k} must be a non-negative integer`);
        next[k] = v;
        break;
      case 'CreateIndex':
      case 'ModifyIndex':
      case 'RedundancyZoneTag':
      case 'DisableUpgradeMigration':
      case 'UpgradeVersionTag':
        break; // read-only or Enterprise settings: accepted and ignored
      default:
        throw new BadRequestError(`unknown autopilot setting ${JSON.stringify(k)}`);
    }
  }
  return next as unknown as AutopilotConfig;
}

/** The stored configuration, or the defaults. */
export function readAutopilotConfig(tx: ReadTxn): AutopilotConfig {
  return tx.get<AutopilotConfig>(AUTOPILOT_TABLE, CONFIG_KEY) ?? DEFAULT_AUTOPILOT;
}

/** Sets the autopilot configuration (validated before proposing). Result: true, or false on a cas mismatch. */
export interface AutopilotSetCommand {
  readonly type: 'autopilot.set';
  readonly config: AutopilotConfig;
  /** Apply only if ModifyIndex equals this (Consul's ?cas). */
  readonly cas?: number;
}

/** The autopilot module: its replicated configuration. */
export const autopilotModule: StateModule = {
  tables: [AUTOPILOT_TABLE],
  handlers: {
    'autopilot.set': {
      apply(ctx, cmd) {
        const current = readAutopilotConfig(ctx.tx);
        const cas = cmd['cas'];
        if (typeof cas === 'number' && cas !== current.ModifyIndex) return false;
        const config = {
          ...(cmd['config'] as AutopilotConfig),
          CreateIndex: current.CreateIndex || ctx.index,
          ModifyIndex: ctx.index,
        };
        ctx.tx.put(AUTOPILOT_TABLE, CONFIG_KEY, config);
        return true;
      },
    },
  },
};
