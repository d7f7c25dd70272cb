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

describe('the Nodes page', () => {
  it('lists the nodes with their addresses and node checks', async () => {
    expect((await put('/v1/catalog/register', { Node: 'db-node', Address: '10.9.9.9' })).status).toBe(200);
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${server.url}/ui/nodes`);
    const row = page.locator('tr[data-node="db-node"]');
    await row.waitFor({ timeout: 5000 });
    expect(await row.textContent()).toContain('10.9.9.9');
    await page.screenshot({ path: join(SHOTS, 'nodes.png') });
    await page.close();
  });
});

describe('the Key/Value page', () => {
  it('browses folders, creates a key, shows JSON, and on a conflicting edit shows both versions', async () => {
    await fetch(`${server.url}/v1/kv/app/config/limits`, { method: 'PUT', body: '{"max":10}' });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${server.url}/ui/kv/`);
    await page.getByRole('link', { name: 'app/' }).click();
    await page.getByRole('link', { name: 'config/' }).click();
    expect(page.url()).toBe(`${server.url}/ui/kv/app/config/`);
    // Create a key in the folder: it appears in the list live.
    await page.getByLabel('new key').fill('mode');
    await page.getByLabel('new value').fill('auto');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('link', { name: 'mode' }).waitFor({ timeout: 5000 });
    expect(await (await fetch(`${server.url}/v1/kv/app/config/mode?raw`)).text()).toBe('auto');
    // A key written elsewhere shows up without a reload.
    await fetch(`${server.url}/v1/kv/app/config/region`, { method: 'PUT', body: 'eu' });
    await page.getByRole('link', { name: 'region' }).waitFor({ timeout: 5000 });

    // JSON is validated and pretty-printed.
    await page.getByRole('link', { name: 'limits' }).click();
    await page.getByRole('button', { name: 'json' }).click();
    await expect.poll(() => page.locator('pre.value').textContent()).toBe('{\n  "max": 10\n}');

    // An edit while someone else changes the key: the save shows both versions, nothing is lost.
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('textbox', { name: 'value', exact: true }).fill('{"max":20}');
    await fetch(`${server.url}/v1/kv/app/config/limits`, { method: 'PUT', body: '{"max":99}' });
    await page.getByRole('button', { name: 'Save' }).click();
    const alert = page.locator('.conflict');
    await alert.waitFor({ timeout: 5000 });
    expect(await alert.textContent()).toMatch(/Theirs\{"max":99\}Yours\{"max":20\}/);
    expect(await (await fetch(`${server.url}/v1/kv/app/config/limits?raw`)).text()).toBe('{"max":99}');
    await page.screenshot({ path: join(SHOTS, 'kv-conflict.png') });
    // Choosing to overwrite writes mine over theirs (with cas on their index).
    await page.getByRole('button', { name: 'Overwrite with mine' }).click();
    await expect
      .poll(async () => (await fetch(`${server.url}/v1/kv/app/config/limits?raw`)).text(), { timeout: 5000 })
      .toBe('{"max":20}');
    await page.close();
  });
});
