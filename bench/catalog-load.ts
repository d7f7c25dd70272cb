/**
 * The catalog the discovery benches load: instance `i` of `services` services, ten instances per
 * node, as a /v1/catalog/register body. With `criticalEvery` N, every Nth instance's check is
 * critical (the rest pass).
 */
export function instanceRegistration(i: number, services: number, criticalEvery = 0): string {
  const node = Math.floor(i / 10);
  const svc = i % services;
  return JSON.stringify({
    Node: `node-${node}`,
    Address: `10.${(node >> 16) & 255}.${(node >> 8) & 255}.${node & 255}`,
    Service: { ID: `svc-${svc}-${i}`, Service: `svc-${svc}`, Port: 20000 + (i % 1000), Tags: ['v1'] },
    Check: {
      CheckID: `chk-${i}`,
      ServiceID: `svc-${svc}-${i}`,
      Status: criticalEvery > 0 && i % criticalEvery === 0 ? 'critical' : 'passing',
    },
  });
}
