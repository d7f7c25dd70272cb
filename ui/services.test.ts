import { join, resolve } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireProgram } from '../testing/process.js';
import { cleanupAll, type SpawnedServer, spawnServer } from '../testing/spawn-server.js';

/** Where the test run writes the screenshots docs/UI.md links to. */
const SHOTS = resolve(import.meta.dirname, '../docs/ui');

let browser: Browser;
let server: SpawnedServer;
beforeAll(async () => {
  requireProgram('chromium', 'chromium');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--headless=new'] });
  server = await spawnServer();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await cleanupAll();
});

const put = (path: string, body: unknown) =>
  fetch(`${server.url}${path}`, { method: 'PUT', body: JSON.stringify(body) });

describe('the Services page', () => {
  it('lists services with their health, and shows a new service and a check turning critical live', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${server.url}/`);
    expect(page.url()).toBe(`${server.url}/ui/`);
    await page.locator('tr[data-service="consul"]').waitFor();
    // Registered through the API while the page is open: it appears without a reload.
    expect(
      (
        await put('/v1/agent/service/register', {
          Name: 'web',
          ID: 'web-1',
          Port: 80,
          Tags: ['v2'],
          Check: { CheckID: 'web-ttl', TTL: '60s' },
        })
      ).status,
    ).toBe(200);
    const web = page.locator('tr[data-service="web"]');
    await web.waitFor({ timeout: 5000 });
    await expect.poll(() => web.textContent(), { timeout: 5000 }).toMatch(/1 critical/);
    expect(await web.textContent()).toContain('v2');
    // Its TTL check passes, then fails: the badge follows.
    expect((await fetch(`${server.url}/v1/agent/check/pass/web-ttl`, { method: 'PUT' })).status).toBe(200);
    await expect.poll(() => web.textContent(), { timeout: 5000 }).toMatch(/1 passing 0 warning 0 critical/);
    expect((await fetch(`${server.url}/v1/agent/check/fail/web-ttl`, { method: 'PUT' })).status).toBe(200);
    await expect.poll(() => web.textContent(), { timeout: 5000 }).toMatch(/0 passing 0 warning 1 critical/);
    // The filter narrows by name or tag.
    await page.fill('input', 'v2');
    expect(await page.locator('tbody tr').count()).toBe(1);
    await page.fill('input', '');
    await page.screenshot({ path: join(SHOTS, 'services.png') });
    // A phone-wide screen.
    await page.setViewportSize({ width: 390, height: 800 });
    await page.screenshot({ path: join(SHOTS, 'services-phone.png') });
    await page.close();
  });
});
