import { createServer, type Server } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { freePorts, TestClusterProcesses } from '../testing/cluster-harness.js';
import { until } from '../testing/process.js';
import { cleanupAll } from '../testing/spawn-server.js';

let receiver: Server | undefined;
let cluster: TestClusterProcesses | undefined;
afterAll(async () => {
  receiver?.close();
  await cluster?.stopAll();
  await cleanupAll();
});

/** A span as an OTLP/HTTP JSON export carries it, with the node of the resource that sent it. */
interface ReceivedSpan {
  readonly node: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
}

/** An OTLP/HTTP receiver on loopback: every span posted to /v1/traces (JSON) is kept. */
async function startReceiver(port: number): Promise<ReceivedSpan[]> {
  const spans: ReceivedSpan[] = [];
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: Array<{
          resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
          scopeSpans: Array<{ spans: Array<Omit<ReceivedSpan, 'node'>> }>;
        }>;
      };
      for (const rs of body.resourceSpans) {
        const node = rs.resource.attributes.find((a) => a.key === 'service.instance.id')?.value.stringValue ?? '';
        for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ ...s, node });
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver?.listen(port, '127.0.0.1', resolve));
  return spans;
}

/** The one span named `name` that `node` exported in `trace` (fails when there are none or several). */
function onlySpan(trace: readonly ReceivedSpan[], node: string, name: string): ReceivedSpan {
  const found = trace.filter((s) => s.node === node && s.name === name);
  expect(found, `${node} ${name}`).toHaveLength(1);
  return found[0] as ReceivedSpan;
}

describe('traces', () => {
  it('a write forwarded by a follower is one trace across both servers, with correct parent links', async () => {
    const [port] = await freePorts(1);
    const spans = await startReceiver(port as number);
    cluster = await TestClusterProcesses.start(3, ['--otlp-endpoint', `http://127.0.0.1:${port}`]);
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m !== leader)!;
    // The client's own trace: the server continues it.
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const clientSpan = '00f067aa0ba902b7';
    const res = await fetch(`http://${follower.http}/v1/catalog/register`, {
      method: 'PUT',
      headers: { traceparent: `00-${traceId}-${clientSpan}-01` },
      body: JSON.stringify({ Node: 'traced', Address: '10.0.0.9', Service: { Service: 'web', Port: 80 } }),
    });
    expect(res.status).toBe(200);

    const trace = await until(
      'the follower and the leader to export the spans of the write',
      async () => spans.filter((s) => s.traceId === traceId),
      // Each server exports in its own batches: wait for the last span of each.
      (t) =>
        t.some((s) => s.node === leader.name && s.name === 'raft apply') &&
        t.some((s) => s.node === follower.name && s.name === 'PUT /v1/catalog/register'),
      20_000,
    );
    const one = (node: string, name: string) => onlySpan(trace, node, name);
    const request = one(follower.name, 'PUT /v1/catalog/register');
    const forward = one(follower.name, 'forward to leader');
    const atLeader = one(leader.name, 'PUT /v1/catalog/register');
    const commit = one(leader.name, 'raft commit');
    const replicate = one(leader.name, 'raft replicate');
    const apply = one(leader.name, 'raft apply');
    expect(request.parentSpanId).toBe(clientSpan);
    expect(forward.parentSpanId).toBe(request.spanId);
    expect(atLeader.parentSpanId).toBe(forward.spanId);
    expect(commit.parentSpanId).toBe(atLeader.spanId);
    expect(replicate.parentSpanId).toBe(commit.spanId);
    expect(apply.parentSpanId).toBe(commit.spanId);
    // OTLP kinds: 2 server, 3 client, 1 internal.
    expect([request.kind, forward.kind, atLeader.kind, commit.kind, replicate.kind, apply.kind]).toEqual([
      2, 3, 2, 1, 1, 1,
    ]);
    // Nothing else in the trace is unlinked.
    const ids = new Set([clientSpan, ...trace.map((s) => s.spanId)]);
    for (const s of trace) expect(ids.has(s.parentSpanId ?? ''), `${s.node} ${s.name}`).toBe(true);

    // A KV write a follower proposes itself: its proposal carries the trace to the leader on the
    // raft transport, where the leader's part of the write and the Raft driver's spans continue it.
    const kvTraceId = '0af7651916cd43dd8448eb211c80319c';
    const kvClientSpan = 'b7ad6b7169203331';
    const put = await fetch(`http://${follower.http}/v1/kv/traced`, {
      method: 'PUT',
      headers: { traceparent: `00-${kvTraceId}-${kvClientSpan}-01` },
      body: 'x',
    });
    expect([put.status, await put.text()]).toEqual([200, 'true']);
    const kv = await until(
      'the spans of the KV write',
      async () => spans.filter((s) => s.traceId === kvTraceId),
      (t) =>
        t.some((s) => s.node === leader.name && s.name === 'raft propose') &&
        t.some((s) => s.node === follower.name && s.name === 'PUT /v1/kv/*'),
      20_000,
    );
    const kvOne = (node: string, name: string) => onlySpan(kv, node, name);
    const kvRequest = kvOne(follower.name, 'PUT /v1/kv/*');
    const kvCommit = kvOne(follower.name, 'raft commit');
    const toLeader = kvOne(follower.name, 'propose to leader');
    const proposed = kvOne(leader.name, 'raft propose');
    const kvReplicate = kvOne(leader.name, 'raft replicate');
    const kvApply = kvOne(leader.name, 'raft apply');
    expect(kvRequest.parentSpanId).toBe(kvClientSpan);
    expect(kvCommit.parentSpanId).toBe(kvRequest.spanId);
    expect(toLeader.parentSpanId).toBe(kvCommit.spanId);
    expect(proposed.parentSpanId).toBe(toLeader.spanId);
    expect(kvReplicate.parentSpanId).toBe(proposed.spanId);
    expect(kvApply.parentSpanId).toBe(proposed.spanId);
    expect([toLeader.kind, proposed.kind]).toEqual([3, 2]);
    // The follower did not forward the request itself: it proposed the command.
    expect(kv.filter((s) => s.name === 'forward to leader')).toEqual([]);
  });
});
