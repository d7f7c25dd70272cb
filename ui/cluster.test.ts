import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClusterProcesses } from '../testing/cluster-harness.js';
import { spawnEdge } from '../testing/spawn-edge.js';
import { cleanupAll, spawnServer } from '../testing/spawn-server.js';
import { SHOTS, desktopPage, launchBrowser } from './browser.js';

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await cleanupAll();
});

describe('the Cluster page', () => {
  it('shows the servers and a leader change on a 3-server cluster', async () => {
    const cluster = await TestClusterProcesses.start(3);
    try {
      const first = await cluster.waitForLeader();
      const follower = cluster.members.find((m) => m !== first)!;
      const page = await desktopPage(browser);
      await page.goto(`http://${follower.http}/ui/cluster`);
      for (const m of cluster.members) await page.locator(`tr[data-server="${m.name}"]`).waitFor({ timeout: 10_000 });
      await expect
        .poll(() => page.locator(`tr[data-server="${first.name}"]`).textContent(), { timeout: 10_000 })
        .toMatch(/leader/);
      expect(await page.getByLabel('cluster health').textContent()).toMatch(new RegExp(`leader ${first.name}`));
      // Leadership moves: the page's time line gains the new leader after the first.
      const moved = await fetch(`http://${first.http}/v1/operator/raft/transfer-leader`, { method: 'POST' });
      expect(moved.status).toBe(200);
      const changes = page.getByLabel('leader changes');
      await expect
        .poll(
          async () =>
            (
              await changes
                .locator('li[data-leader]')
                .evaluateAll((els) => els.map((e) => e.getAttribute('data-leader')))
            ).filter(Boolean),
          {
            timeout: 15_000,
          },
        )
        .toEqual([first.name, expect.not.stringMatching(new RegExp(`^${first.name}$`))]);
      await page.screenshot({ path: join(SHOTS, 'cluster.png') });
      await page.close();
    } finally {
      await cluster.stopAll();
    }
  });
});

describe('an edge agent', () => {
  it('serves the UI read-mostly over its replica, with its link and outbox', async () => {
    const server = await spawnServer();
    await fetch(`${server.url}/v1/kv/app/mode`, { method: 'PUT', body: 'auto' });
    const agent = await spawnEdge({ upstream: server.url, args: ['--prefix', 'app/', '--node-name', 'pi-1'] });
    try {
      const page = await desktopPage(browser);
      await page.goto(`${agent.url}/ui/edge`);
      await page.getByText('Konsul edge agent').first().waitFor({ timeout: 5000 });
      const link = page.locator('[data-link]');
      await expect.poll(() => link.getAttribute('data-link'), { timeout: 10_000 }).toBe('up');
      expect(await page.getByLabel('edge status').textContent()).toMatch(/pi-1 \(node\).*keys under app\//);
      // No sessions, ACL or cluster pages on an agent.
      expect(await page.getByRole('navigation', { name: 'pages' }).getByRole('link').allTextContents()).toEqual([
        'Services',
        'Nodes',
        'Key/Value',
        'Edge agent',
      ]);
      // Keys come from the replica.
      await page.goto(`${agent.url}/ui/kv/app/`);
      await page.getByRole('link', { name: 'mode' }).waitFor({ timeout: 5000 });
      // Offline: a write made in the page waits in the outbox, and the Edge page shows it.
      await server.stop();
      await page.goto(`${agent.url}/ui/kv/app/`);
      await page.getByLabel('new key').fill('offline-note');
      await page.getByLabel('new value').fill('queued');
      await page.getByRole('button', { name: 'Create' }).click();
      await page.goto(`${agent.url}/ui/edge`);
      await expect.poll(() => link.getAttribute('data-link'), { timeout: 60_000 }).toBe('down');
      const row = page.getByRole('table', { name: 'outbox' }).locator('tr[data-outbox]');
      await row.first().waitFor({ timeout: 5000 });
      expect(await row.first().textContent()).toMatch(/PUT \/v1\/kv\/app\/offline-note\?cas=0.*pending/);
      await page.screenshot({ path: join(SHOTS, 'edge.png') });
      await page.close();
    } finally {
      await agent.stop();
      await server.stop();
    }
  });
});
