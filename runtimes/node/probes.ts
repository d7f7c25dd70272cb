import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import type { Probes, ProbeResult } from '../../core/agent/probes.js';

const MAX_BODY = 4096;

function splitHostPort(addr: string): { host: string; port: number } {
  const at = addr.lastIndexOf(':');
  return { host: addr.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(addr.slice(at + 1)) };
}

/** Health-check probes on Node: HTTP(S), TCP, UDP, gRPC health and scripts. */
export const nodeProbes: Probes = {
  http({ url, method, headers, body, tlsSkipVerify, timeoutMs }) {
    return new Promise<ProbeResult>((resolve) => {
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        resolve({ status: 'critical', output: `invalid URL ${url}` });
        return;
      }
      const lib = u.protocol === 'https:' ? https : http;
      const h: Record<string, string | string[]> = {
        'User-Agent': 'Konsul Health Check',
        Accept: 'text/plain, text/*, */*',
      };
      for (const [k, v] of Object.entries(headers)) h[k] = [...v];
      const req = lib.request(
        u,
        {
          method,
          headers: h,
          timeout: timeoutMs,
          ...(u.protocol === 'https:' ? { rejectUnauthorized: !tlsSkipVerify } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (d: Buffer) => {
            if (size < MAX_BODY) chunks.push(d.subarray(0, MAX_BODY - size));
            size += d.length;
          });
          res.on('end', () => {
            const code = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString('utf8');
            const output = `HTTP ${method} ${url}: ${code} ${res.statusMessage ?? ''} Output: ${text}`;
            resolve({ status: code >= 200 && code < 300 ? 'passing' : code === 429 ? 'warning' : 'critical', output });
          });
          res.on('error', (err) => resolve({ status: 'critical', output: `HTTP ${method} ${url}: ${err.message}` }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
      req.on('error', (err) => resolve({ status: 'critical', output: `HTTP ${method} ${url}: ${err.message}` }));
      req.end(body || undefined);
    });
  },

  tcp(addr, timeoutMs) {
    return new Promise<ProbeResult>((resolve) => {
      const { host, port } = splitHostPort(addr);
      const s = net.connect({ host, port, timeout: timeoutMs });
      s.once('connect', () => {
        s.destroy();
        resolve({ status: 'passing', output: `TCP connect ${addr}: Success` });
      });
      s.once('timeout', () => s.destroy(new Error(`i/o timeout after ${timeoutMs} ms`)));
      s.once('error', (err) => resolve({ status: 'critical', output: `dial tcp ${addr}: ${err.message}` }));
    });
  },

  udp(addr, timeoutMs) {
    return new Promise<ProbeResult>((resolve) => {
      const { host, port } = splitHostPort(addr);
      const s = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
      let done = false;
      const finish = (r: ProbeResult) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        s.close();
        resolve(r);
      };
      // Silence until the timeout is not a failure for UDP; an error (port unreachable) is.
      const timer = setTimeout(
        () => finish({ status: 'passing', output: `UDP ${addr}: no error within ${timeoutMs} ms` }),
        timeoutMs,
      );
      s.on('error', (err) => finish({ status: 'critical', output: `UDP ${addr}: ${err.message}` }));
      s.on('message', () => finish({ status: 'passing', output: `UDP ${addr}: response received` }));
      s.connect(port, host, () =>
        s.send(
          Buffer.from('konsul health check'),
          (err) => err && finish({ status: 'critical', output: `UDP ${addr}: ${err.message}` }),
        ),
      );
    });
  },

  grpc(target, useTls, timeoutMs) {
    return new Promise<ProbeResult>((resolve) => {
      const slash = target.indexOf('/');
      const addr = slash >= 0 ? target.slice(0, slash) : target;
      const service = slash >= 0 ? target.slice(slash + 1) : '';
      let done = false;
      const finish = (r: ProbeResult) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        client.close();
        resolve(r);
      };
      const client = http2.connect(`${useTls ? 'https' : 'http'}://${addr}`, { rejectUnauthorized: false });
      const timer = setTimeout(
        () => finish({ status: 'critical', output: `gRPC ${target}: timed out after ${timeoutMs} ms` }),
        timeoutMs,
      );
      client.on('error', (err) => finish({ status: 'critical', output: `gRPC ${target}: ${err.message}` }));
      // HealthCheckRequest { string service = 1; } in a gRPC length-prefixed message.
      const svc = Buffer.from(service);
      const msg = service ? Buffer.concat([Buffer.from([0x0a, svc.length]), svc]) : Buffer.alloc(0);
      const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), msg]);
      frame.writeUInt32BE(msg.length, 1);
      const req = client.request({
        ':method': 'POST',
        ':path': '/grpc.health.v1.Health/Check',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('error', (err) => finish({ status: 'critical', output: `gRPC ${target}: ${err.message}` }));
      req.on('trailers', (t) => {
        const code = Number(t['grpc-status'] ?? 0);
        if (code !== 0)
          finish({ status: 'critical', output: `gRPC ${target}: status ${code} ${String(t['grpc-message'] ?? '')}` });
      });
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        // HealthCheckResponse { ServingStatus status = 1; } — SERVING = 1.
        const payload = body.subarray(5);
        const status = payload.length >= 2 && payload[0] === 0x08 ? payload[1] : 0;
        finish(
          status === 1
            ? { status: 'passing', output: `gRPC ${target}: SERVING` }
            : { status: 'critical', output: `gRPC ${target}: status ${status} (not SERVING)` },
        );
      });
      req.end(frame);
    });
  },

  script(args, timeoutMs) {
    return new Promise<ProbeResult>((resolve) => {
      execFile(
        args[0] as string,
        args.slice(1),
        { timeout: timeoutMs, maxBuffer: 64 * 1024 },
        (err, stdout, stderr) => {
          const output = `${stdout}${stderr}`;
          if (!err) return resolve({ status: 'passing', output });
          const code = (err as unknown as { code?: unknown }).code;
          resolve({ status: code === 1 ? 'warning' : 'critical', output: output || err.message });
        },
      );
    });
  },
};
