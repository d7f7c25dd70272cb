import { api } from './api.js';
import { Alert, usePoll, THead } from './common.js';

interface ServerHealth {
  ID: string;
  Name: string;
  Address: string;
  Leader: boolean;
  Voter: boolean;
  Healthy: boolean;
  LastContact: string;
  LastTerm: number;
  LastIndex: number;
  StableSince: string;
}

interface AutopilotHealth {
  Healthy: boolean;
  FailureTolerance: number;
  Servers: ServerHealth[];
}

/** One observed leader change (GET /v1/operator/raft/leader-history). */
interface LeaderChange {
  Leader: string;
  Term: number;
  Time: string;
}

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
const PALETTE = ['#0969da', '#8250df', '#1a7f37', '#bf3989', '#9a6700', '#0a7ea4', '#cf222e'];

/**
 * The last hour's leaders as a time line (narrowed to the span of the changes, at least a minute):
 * one band per stretch of one leader (gaps where there was none), a mark at each change, and the
 * list of changes below it.
 */
export function LeaderTimeline({ changes, now }: { changes: readonly LeaderChange[]; now: number }) {
  // The last hour, or less when every change is more recent (at least 1 minute), so they stay apart.
  const oldest = Math.min(now, ...changes.map((c) => Date.parse(c.Time)).filter((t) => t >= now - HOUR_MS));
  const span = Math.min(HOUR_MS, Math.max(MINUTE_MS, Math.ceil((now - oldest) / MINUTE_MS + 0.25) * MINUTE_MS));
  const from = now - span;
  const W = 1000;
  const x = (t: number) => ((Math.max(t, from) - from) / span) * W;
  const names = [...new Set(changes.map((c) => c.Leader).filter(Boolean))].sort();
  const color = (n: string) => PALETTE[names.indexOf(n) % PALETTE.length] ?? '#888';
  const spans = changes.map((c, i) => ({
    leader: c.Leader,
    term: c.Term,
    start: Date.parse(c.Time),
    end: i + 1 < changes.length ? Date.parse((changes[i + 1] as LeaderChange).Time) : now,
  }));
  const recent = spans.filter((s) => s.end >= from);
  return (
    <figure className="timeline">
      <svg
        viewBox={`0 0 ${W} 60`}
        role="img"
        aria-label={`leaders over the last ${Math.round(span / MINUTE_MS)} minutes`}
        preserveAspectRatio="none"
      >
        <rect x="0" y="10" width={W} height="30" fill="#8882" />
        {recent.map((s) =>
          s.leader ? (
            <rect
              key={`${s.term}-${s.start}`}
              x={x(s.start)}
              y="10"
              width={Math.max(2, x(s.end) - x(s.start))}
              height="30"
              fill={color(s.leader)}
            >
              <title>
                {s.leader}, term {s.term}, from {new Date(s.start).toLocaleTimeString()}
              </title>
            </rect>
          ) : null,
        )}
        {recent
          .filter((s) => s.start >= from)
          .map((s) => (
            <line
              key={`m-${s.term}-${s.start}`}
              x1={x(s.start)}
              x2={x(s.start)}
              y1="4"
              y2="46"
              stroke="currentColor"
              strokeWidth="2"
            />
          ))}
        <text x="0" y="58" fontSize="10" fill="currentColor">
          −{Math.round(span / MINUTE_MS)} min
        </text>
        <text x={W} y="58" fontSize="10" fill="currentColor" textAnchor="end">
          now
        </text>
      </svg>
      <figcaption>
        {names.map((n) => (
          <span key={n} className="legend">
            <span style={{ background: color(n) }} /> {n}
          </span>
        ))}
      </figcaption>
      <ol aria-label="leader changes" className="changes">
        {recent.map((s) => (
          <li key={`l-${s.term}-${s.start}`} data-leader={s.leader}>
            {new Date(s.start).toLocaleTimeString()}:{' '}
            {s.leader ? `${s.leader} leads (term ${s.term})` : `no leader (term ${s.term})`}
          </li>
        ))}
      </ol>
    </figure>
  );
}

/**
 * The cluster: each server with its role, Raft index and term, last contact and autopilot health,
 * the leader, the failure tolerance, and the leader changes this server saw in the last hour.
 * Refreshed every second.
 */
export function Cluster() {
  const health = usePoll(
    async () => (await (await api('/v1/operator/autopilot/health', {}, [429])).json()) as AutopilotHealth,
    1000,
    [],
  );
  const history = usePoll(
    async () =>
      (await (await api('/v1/operator/raft/leader-history')).json()) as { Changes: LeaderChange[]; Server: string },
    1000,
    [],
  );
  const h = health.data;
  return (
    <section>
      <h1>Cluster</h1>
      <Alert text={health.error || history.error} />
      {h && (
        <p aria-label="cluster health" className={h.Healthy ? 'passing' : 'critical'}>
          {h.Healthy ? 'Healthy' : 'Unhealthy'}: {h.Servers.length} servers, failure tolerance {h.FailureTolerance},
          leader {h.Servers.find((s) => s.Leader)?.Name ?? 'none'}.
        </p>
      )}
      <table>
        <THead cols={['Server', 'Address', 'Role', 'Raft index', 'Term', 'Last contact', 'Autopilot']} />
        <tbody>
          {(h?.Servers ?? []).map((s) => (
            <tr key={s.ID} data-server={s.Name}>
              <td>{s.Name}</td>
              <td>{s.Address}</td>
              <td>{s.Leader ? 'leader' : s.Voter ? 'follower' : 'non-voter'}</td>
              <td>{s.LastIndex}</td>
              <td>{s.LastTerm}</td>
              <td>{s.Leader ? '—' : s.LastContact}</td>
              <td className={s.Healthy ? 'passing' : 'critical'}>{s.Healthy ? 'healthy' : 'unhealthy'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Leader changes, last hour</h2>
      {history.data && (
        <>
          <p>As seen by server {history.data.Server}.</p>
          <LeaderTimeline changes={history.data.Changes} now={Date.now()} />
        </>
      )}
    </section>
  );
}
