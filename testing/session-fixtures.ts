import { expect } from 'vitest';
import type { TestNode } from './harness.js';

const put = (n: TestNode, path: string, body: unknown) =>
  n.request(path, { method: 'PUT', body: JSON.stringify(body) });

/**
 * Registers nodes 'test' (the serving node) and 'n2', each with the service 'web', a node check
 * 'serfHealth' and a service check 'web-http', all passing; fails the test on a non-200 answer.
 */
export async function registerTwoPassingNodes(n: TestNode): Promise<void> {
  for (const node of ['test', 'n2']) {
    const r = await put(n, '/v1/catalog/register', {
      Node: node,
      Address: '10.0.0.1',
      Service: { ID: 'web', Service: 'web' },
      Checks: [
        { CheckID: 'serfHealth', Name: 'Serf Health', Status: 'passing' },
        { CheckID: 'web-http', Name: 'web', ServiceID: 'web', Status: 'passing' },
      ],
    });
    expect(r.status).toBe(200);
  }
}

/** Creates a session with `body` (PUT /v1/session/create) and returns its ID; fails the test otherwise. */
export async function createSession(n: TestNode, body: unknown = {}): Promise<string> {
  const r = await put(n, '/v1/session/create', body);
  expect(r.status, await r.clone().text()).toBe(200);
  return ((await r.json()) as { ID: string }).ID;
}
