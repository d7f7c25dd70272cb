import type { FleetReport } from '../core/fleet/types.js';
import type { Logger } from '../core/ports/logger.js';

/** Options of startAnnouncer. */
export interface AnnouncerOptions {
  /** How often the agent announces itself (ms). */
  readonly everyMs: number;
  /** What the agent says about itself now. */
  readonly report: () => Omit<FleetReport, 'ID' | 'Kind' | 'Link'>;
  /** Sends one announcement (JSON) over the sync link; resolves false when the link cannot take it now. */
  readonly send: (json: string) => Promise<boolean>;
  readonly logger: Logger;
}

/** A running announcer. */
export interface Announcer {
  /** Announces now (e.g. when the link comes up), then every `everyMs`. */
  now(): void;
  stop(): void;
}

/**
 * Announces the agent to the servers every `everyMs` over its sync link (a PUT to
 * /v1/edge/agents/<id> over HTTP, a publish on `agents/<id>` over MQTT), so the servers' fleet
 * table knows it, its runtime and scope, how far its replica is, and its outbox depth. One
 * announcement at a time; a failed one waits for the next round.
 */
export function startAnnouncer(o: AnnouncerOptions): Announcer {
  let busy = false;
  let stopped = false;
  const announce = (): void => {
    if (busy || stopped) return;
    busy = true;
    o.send(JSON.stringify(o.report()))
      .catch((err: unknown) => {
        o.logger.debug('announcement not sent', { error: (err as Error).message });
        return false;
      })
      .finally(() => (busy = false));
  };
  const timer = setInterval(announce, o.everyMs);
  return {
    now: announce,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
