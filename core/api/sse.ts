import type { TimerHandle } from '../ports/clock.js';
import type { ApiDeps } from './context.js';

/** One Server-Sent Events frame; data lines are split so a newline never ends the event early. */
export function sseFrame(fields: { event?: string; id?: string; data: string }): string {
  let out = '';
  if (fields.event) out += `event: ${fields.event}\n`;
  if (fields.id) out += `id: ${fields.id}\n`;
  for (const line of fields.data.split('\n')) out += `data: ${line}\n`;
  return `${out}\n`;
}

/** What an SSE response streams from. */
export interface SseSource {
  /** The next frames, waiting for them; [] once the source is done or closed. */
  next(): Promise<string[]>;
  /** Whether the source has nothing more to send. */
  readonly done: boolean;
  /** On each keep-alive tick: a frame to send instead of a comment, if any. */
  idle?(): string | undefined;
  /** Releases the source; a pending next() must resolve. Idempotent. */
  close(): void;
}

/**
 * Streams `source` as a `text/event-stream` response: a first comment (`preamble`), the frames as
 * the client reads them (the response pulls, so a client that does not read stops the source),
 * a keep-alive every `watchKeepAliveMs`, and an end when the source is done, the client goes away
 * or the server shuts down. With `ending`, the stream also ends when `ending.signal` aborts (its
 * token was deleted or narrowed), after one last frame, `ending.frame()`.
 */
export function sseResponse(
  deps: ApiDeps,
  req: Request,
  source: SseSource,
  preamble: string,
  headers: Record<string, string> = {},
  ending?: { readonly signal: AbortSignal; readonly frame: () => string },
): Response {
  const enc = new TextEncoder();
  const stops = [req.signal, deps.shutdownSignal, ...(ending ? [ending.signal] : [])];
  let keepAlive: TimerHandle | undefined;
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    source.close();
    if (keepAlive !== undefined) deps.clock.clearTimer(keepAlive);
    for (const s of stops) s.removeEventListener('abort', end);
  };
  for (const s of stops) s.addEventListener('abort', end);
  if (stops.some((s) => s.aborted)) end();
  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controller.enqueue(enc.encode(`retry: 2000\n: ${preamble}\n\n`));
        const ping = (): void => {
          if (ended) return;
          if ((controller.desiredSize ?? 0) > 0) controller.enqueue(enc.encode(source.idle?.() ?? ': keep-alive\n\n'));
          keepAlive = deps.clock.setTimer(ping, deps.limits.watchKeepAliveMs);
        };
        keepAlive = deps.clock.setTimer(ping, deps.limits.watchKeepAliveMs);
      },
      async pull(controller) {
        const frames = ended ? [] : await source.next();
        try {
          if (frames.length > 0) controller.enqueue(enc.encode(frames.join('')));
          if (ended || source.done) {
            end();
            if (ending?.signal.aborted) controller.enqueue(enc.encode(ending.frame()));
            controller.close();
          }
        } catch {
          // The client went away (the stream was cancelled) while we waited.
          end();
        }
      },
      cancel() {
        end();
      },
    },
    { highWaterMark: 2 },
  );
  return new Response(stream, {
    status: 200,
    headers: {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      'X-Accel-Buffering': 'no',
      ...headers,
    },
  });
}
