/**
 * A lean HTTP/1.1 load client for write benches on this machine, where the server and the client
 * share two cores: node:http's client spends about 110 µs of CPU per request, which the server
 * then lacks. This one writes prepared request bytes on keep-alive sockets and reads only the
 * status line and Content-Length of each answer (a few µs per request). It speaks just enough
 * HTTP for a Konsul server: answers must carry Content-Length (chunked ones are refused).
 */
import { connect, type Socket } from 'node:net';

/** What sendAll measured. */
export interface SendAllResult {
  readonly seconds: number;
  /** Answers per HTTP status. */
  readonly statuses: ReadonlyMap<number, number>;
  /** Latency percentiles in ms. */
  readonly p50: number;
  readonly p99: number;
}

/** The bytes of one HTTP/1.1 request with a JSON body (keep-alive). */
export function jsonRequest(method: string, path: string, host: string, body: string): Buffer {
  const payload = Buffer.from(body);
  const head =
    `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${payload.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), payload]);
}

const HEADER_END = Buffer.from('\r\n\r\n');
/** Most bytes of one answer's head; more means the answer is not what this client reads. */
const MAX_HEAD_BYTES = 64 * 1024;

/**
 * Sends requests 0..count-1 (bytes from `requestFor`, each sent once) over `connections`
 * keep-alive connections to host:port, one request in flight per connection (closed loop), and
 * resolves once every answer arrived. Rejects on a socket error, a closed connection or an
 * answer it cannot read.
 */
export async function sendAll(
  host: string,
  port: number,
  count: number,
  connections: number,
  requestFor: (i: number) => Buffer,
): Promise<SendAllResult> {
  const statuses = new Map<number, number>();
  const latencies = new Float64Array(count);
  let next = 0;
  const start = performance.now();
  const worker = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const socket: Socket = connect({ host, port, noDelay: true });
      let buf: Buffer = Buffer.alloc(0);
      let current = -1;
      let sentAt = 0;
      const fail = (err: Error): void => {
        socket.destroy();
        reject(err);
      };
      const send = (): void => {
        current = next++;
        if (current >= count) {
          socket.end();
          resolve();
          return;
        }
        sentAt = performance.now();
        socket.write(requestFor(current));
      };
      socket.on('connect', send);
      socket.on('error', fail);
      socket.on('close', () => {
        if (current < count) reject(new Error(`connection closed with request ${current} unanswered`));
      });
      socket.on('data', (chunk: Buffer) => {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        for (;;) {
          const end = buf.indexOf(HEADER_END);
          if (end < 0) {
            if (buf.length > MAX_HEAD_BYTES) fail(new Error('answer head too long'));
            return;
          }
          const head = buf.toString('latin1', 0, end);
          const status = Number(head.slice(9, 12));
          if (/\r\ntransfer-encoding:\s*chunked/i.test(head))
            return fail(new Error('chunked answers are not supported'));
          const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? NaN);
          if (!Number.isSafeInteger(status) || !Number.isSafeInteger(length))
            return fail(new Error(`unreadable answer head: ${head.slice(0, 200)}`));
          const total = end + HEADER_END.length + length;
          if (buf.length < total) return;
          buf = buf.subarray(total);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          latencies[current] = performance.now() - sentAt;
          send();
        }
      });
    });
  await Promise.all(Array.from({ length: connections }, worker));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort();
  const pct = (p: number) => latencies[Math.min(count - 1, Math.floor((p / 100) * count))] ?? NaN;
  return { seconds, statuses, p50: pct(50), p99: pct(99) };
}
