import { describe, expect, it } from 'vitest';
import { createTestNode } from '../../../testing/harness.js';

describe('GET /v1/prometheus/sd', () => {
  it("leaves the servers' own consul service out unless it is asked for by name", async () => {
    const n = createTestNode();
    for (const [id, port] of [
      ['consul', 8300],
      ['app', 9100],
    ] as const) {
      const body = { Node: 's1', Address: '10.0.0.1', Service: { ID: id, Service: id, Port: port } };
      expect((await n.request('/v1/catalog/register', { method: 'PUT', body: JSON.stringify(body) })).status).toBe(200);
    }
    const targets = async (query: string) =>
      ((await (await n.request(`/v1/prometheus/sd${query}`)).json()) as Array<{ targets: string[] }>).flatMap(
        (g) => g.targets,
      );
    expect(await targets('')).toEqual(['10.0.0.1:9100']);
    expect(await targets('?service=consul')).toEqual(['10.0.0.1:8300']);
  });
});
