import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAll, type SpawnedServer, spawnServer } from '../testing/spawn-server.js';
import { SHOTS, desktopPage, launchBrowser } from './browser.js';

let browser: Browser;
let server: SpawnedServer;
beforeAll(async () => {
  browser = await launchBrowser();
  server = await spawnServer();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await cleanupAll();
});

const put = (path: string, body: unknown) =>
  fetch(`${server.url}${path}`, { method: 'PUT', body: typeof body === 'string' ? body : JSON.stringify(body) });
const raw = async (key: string) => {
  const res = await fetch(`${server.url}/v1/kv/${key}?raw`);
  return res.status === 404 ? undefined : res.text();
};

describe('the Services page', () => {
  it('lists services with their health, and shows a new service and a check turning critical live', async () => {
    const page = await desktopPage(browser);
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
          Meta: { version: '2.1' },
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
    // The filters narrow by name or tag, and by health.
    await page.getByPlaceholder('name or tag').fill('v2');
    expect(await page.locator('tbody tr').count()).toBe(1);
    await page.getByPlaceholder('name or tag').fill('');
    await page.getByLabel('health').selectOption('critical');
    expect(await page.locator('tbody tr').allTextContents()).toEqual([expect.stringMatching(/^web/)]);
    await page.getByLabel('health').selectOption('');
    // "/" puts the keyboard in the filter.
    await page.locator('h1').click();
    await page.keyboard.press('/');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('placeholder'))).toBe('name or tag');
    expect(await page.getByPlaceholder('name or tag').inputValue()).toBe('');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('health');
    await page.screenshot({ path: join(SHOTS, 'services.png') });
    // A phone-wide screen.
    await page.setViewportSize({ width: 390, height: 800 });
    await page.screenshot({ path: join(SHOTS, 'services-phone.png') });
    await page.close();
  });

  it('shows a service in detail, live, with maintenance and deregistration', async () => {
    const page = await desktopPage(browser);
    await page.goto(`${server.url}/ui/services`);
    await page.getByRole('link', { name: 'web', exact: true }).click();
    expect(page.url()).toBe(`${server.url}/ui/services/web`);
    const instance = page.locator('article[data-instance="web-1"]');
    await instance.waitFor({ timeout: 5000 });
    expect(await instance.textContent()).toMatch(/version=2\.1/);
    const check = instance.locator('tr[data-check="web-ttl"]');
    expect(await check.textContent()).toMatch(/critical/);
    // The check's output changes elsewhere: the page follows, and dates the change it saw.
    await put('/v1/agent/check/pass/web-ttl?note=all%20good', '');
    await expect.poll(() => check.textContent(), { timeout: 5000 }).toMatch(/passing.*all good.*s ago/);
    // Maintenance adds the maintenance check; ending it removes it.
    await instance.getByRole('button', { name: 'Enter maintenance' }).click();
    await instance.locator('tr[data-check="_service_maintenance:web-1"]').waitFor({ timeout: 5000 });
    expect(await instance.textContent()).toMatch(/critical/);
    await page.screenshot({ path: join(SHOTS, 'service-detail.png') });
    await instance.getByRole('button', { name: 'End maintenance' }).click();
    await instance.locator('tr[data-check="_service_maintenance:web-1"]').waitFor({ state: 'detached', timeout: 5000 });
    // Deregistration (confirmed) removes it from the catalog.
    await put('/v1/agent/service/register', { Name: 'web', ID: 'web-2', Port: 81 });
    await page.locator('article[data-instance="web-2"]').getByRole('button', { name: 'Deregister' }).click();
    await page.locator('article[data-instance="web-2"]').waitFor({ state: 'detached', timeout: 5000 });
    const left = (await (await fetch(`${server.url}/v1/catalog/service/web`)).json()) as Array<{ ServiceID: string }>;
    expect(left.map((s) => s.ServiceID)).toEqual(['web-1']);
    await page.close();
  });
});

describe('the Nodes page', () => {
  it('lists the nodes, and shows one with its services and checks', async () => {
    expect(
      (
        await put('/v1/catalog/register', {
          Node: 'db-node',
          Address: '10.9.9.9',
          Service: { Service: 'pg', ID: 'pg-1', Port: 5432 },
          Check: { CheckID: 'disk', Name: 'disk space', Status: 'warning', Output: '91% used' },
        })
      ).status,
    ).toBe(200);
    const page = await desktopPage(browser);
    await page.goto(`${server.url}/ui/nodes`);
    const row = page.locator('tr[data-node="db-node"]');
    await row.waitFor({ timeout: 5000 });
    await expect.poll(() => row.textContent(), { timeout: 5000 }).toMatch(/10\.9\.9\.9.*pg/);
    await page.screenshot({ path: join(SHOTS, 'nodes.png') });
    await row.getByRole('link', { name: 'db-node' }).click();
    await page.locator('tr[data-check="disk"]').waitFor({ timeout: 5000 });
    expect(await page.locator('tr[data-check="disk"]').textContent()).toMatch(/warning.*91% used/);
    expect(await page.locator('main').textContent()).toMatch(/pg \(pg-1, port 5432\)/);
    await page.screenshot({ path: join(SHOTS, 'node-detail.png') });
    // Deregistering the node (another node than the agent's) removes it with its services.
    await page.getByRole('button', { name: 'Deregister node' }).click();
    await expect
      .poll(async () => (await (await fetch(`${server.url}/v1/catalog/nodes`)).json()) as Array<{ Node: string }>, {
        timeout: 5000,
      })
      .not.toContainEqual(expect.objectContaining({ Node: 'db-node' }));
    await page.close();
  });
});

describe('the Key/Value page', () => {
  it('browses folders, creates a key, shows JSON, and on a conflicting edit shows both versions', async () => {
    await put('/v1/kv/app/config/limits', '{"max":10}');
    const page = await desktopPage(browser);
    await page.goto(`${server.url}/ui/kv/`);
    await page.getByRole('link', { name: 'app/' }).click();
    await page.getByRole('link', { name: 'config/' }).click();
    expect(page.url()).toBe(`${server.url}/ui/kv/app/config/`);
    // Create a key in the folder: it appears in the list live.
    await page.getByLabel('new key').fill('mode');
    await page.getByLabel('new value').fill('auto');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('link', { name: 'mode' }).waitFor({ timeout: 5000 });
    expect(await raw('app/config/mode')).toBe('auto');
    // A key written elsewhere shows up without a reload.
    await put('/v1/kv/app/config/region', 'eu');
    await page.getByRole('link', { name: 'region' }).waitFor({ timeout: 5000 });

    // JSON is validated and pretty-printed.
    await page.getByRole('link', { name: 'limits' }).click();
    await page.getByRole('button', { name: 'json' }).click();
    await expect.poll(() => page.locator('pre.value').textContent()).toBe('{\n  "max": 10\n}');

    // An edit while someone else changes the key: the save shows both versions, nothing is lost.
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('textbox', { name: 'value', exact: true }).fill('{"max":20}');
    await put('/v1/kv/app/config/limits', '{"max":99}');
    await page.getByRole('button', { name: 'Save' }).click();
    const alert = page.locator('.conflict');
    await alert.waitFor({ timeout: 5000 });
    expect(await alert.textContent()).toMatch(/Theirs\{"max":99\}Yours\{"max":20\}/);
    expect(await raw('app/config/limits')).toBe('{"max":99}');
    await page.screenshot({ path: join(SHOTS, 'kv-conflict.png') });
    // Choosing to overwrite writes mine over theirs (with cas on their index).
    await page.getByRole('button', { name: 'Overwrite with mine' }).click();
    await expect.poll(() => raw('app/config/limits'), { timeout: 5000 }).toBe('{"max":20}');
    await page.close();
  });

  it('searches keys and values, exports and imports a folder, and deletes it after showing the count', async () => {
    for (const [k, v] of [
      ['shop/a', 'red'],
      ['shop/b', 'green apple'],
      ['shop/deep/c', 'Apple pie'],
    ])
      await put(`/v1/kv/${k}`, v as string);
    const page = await desktopPage(browser);
    await page.goto(`${server.url}/ui/kv/shop/`);
    // Search finds matches in keys and values, case-insensitively, in subfolders too.
    await page.getByLabel('search', { exact: true }).fill('apple');
    await page.getByRole('button', { name: 'Search' }).click();
    const results = page.getByLabel('search results');
    await results.waitFor();
    expect(await results.textContent()).toMatch(/2 of 3 keys match/);
    expect(await results.getByRole('link').allTextContents()).toEqual(['shop/b', 'shop/deep/c']);

    // Export: Consul's JSON format, values in base64.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export folder' }).click(),
    ]);
    const exported = JSON.parse(await readFile((await download.path()) as string, 'utf8')) as Array<{
      key: string;
      flags: number;
      value: string;
    }>;
    expect(exported.map((e) => [e.key, Buffer.from(e.value, 'base64').toString()])).toEqual([
      ['shop/a', 'red'],
      ['shop/b', 'green apple'],
      ['shop/deep/c', 'Apple pie'],
    ]);

    // Recursive delete shows the count first; a key written after the count is kept.
    await page.getByRole('button', { name: 'Delete folder…' }).click();
    const confirm = page.getByRole('alertdialog', { name: 'confirm delete' });
    expect(await confirm.textContent()).toMatch(/Delete 3 keys under shop\//);
    await page.screenshot({ path: join(SHOTS, 'kv-delete.png') });
    await put('/v1/kv/shop/late', 'written after the count');
    await confirm.getByRole('button', { name: 'Delete 3 keys' }).click();
    await page.getByText(/Deleted 3 keys under shop\/\./).waitFor({ timeout: 5000 });
    const keys = (await (await fetch(`${server.url}/v1/kv/shop/?keys`)).json()) as string[];
    expect(keys).toEqual(['shop/late']);

    // Import the export back (a file picked in the page): every key returns with its value.
    await page.getByLabel('import file').setInputFiles({
      name: 'shop.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(exported)),
    });
    await expect.poll(() => page.getByText(/Imported 3 keys/).count(), { timeout: 5000 }).toBe(1);
    expect(await raw('shop/deep/c')).toBe('Apple pie');
    // A file that is not an export is refused with the reason, and writes nothing.
    await page.getByLabel('import file').setInputFiles({
      name: 'bad.json',
      mimeType: 'application/json',
      buffer: Buffer.from('{"key":"x"}'),
    });
    await page.getByText(/Import failed: not an export/).waitFor({ timeout: 5000 });
    await page.close();
  });

  it('shows the session that holds a locked key', async () => {
    const sid = ((await (await put('/v1/session/create', { Name: 'db-lock-holder' })).json()) as { ID: string }).ID;
    expect(await (await put(`/v1/kv/locks/db?acquire=${sid}`, 'me')).text()).toBe('true');
    const page = await desktopPage(browser);
    await page.goto(`${server.url}/ui/kv/locks/db`);
    const lock = page.locator(`[data-lock-session="${sid}"]`);
    await expect.poll(() => lock.textContent(), { timeout: 5000 }).toMatch(/Locked by session db-lock-holder/);
    await page.close();
  });
});

describe('the Sessions page', () => {
  it('lists sessions, shows one with the keys it holds, and invalidates it', async () => {
    const list = (await (await fetch(`${server.url}/v1/session/list`)).json()) as Array<{ ID: string; Name: string }>;
    const sid = list.find((s) => s.Name === 'db-lock-holder')?.ID as string;
    const page = await desktopPage(browser);
    await page.goto(`${server.url}/ui/sessions`);
    const row = page.locator(`tr[data-session="${sid}"]`);
    await row.waitFor({ timeout: 5000 });
    expect(await row.textContent()).toMatch(/db-lock-holder/);
    await page.screenshot({ path: join(SHOTS, 'sessions.png') });
    await row.getByRole('link', { name: sid }).click();
    await page.getByLabel('held keys').getByRole('link', { name: 'locks/db' }).waitFor({ timeout: 5000 });
    await page.getByRole('button', { name: 'Invalidate' }).click();
    await page.waitForURL(`${server.url}/ui/sessions`);
    await row.waitFor({ state: 'detached', timeout: 5000 });
    const held = (await (await fetch(`${server.url}/v1/kv/locks/db`)).json()) as Array<{ Session?: string }>;
    expect(held[0]?.Session).toBeUndefined();
    await page.close();
  });
});

describe('the Activity page', () => {
  it('charts rates from the metrics and feeds changes live', async () => {
    const page = await desktopPage(browser);
    await page.goto(`${server.url}/ui/activity`);
    await page.getByText('Waiting for changes…').waitFor();
    // Writes while the page watches: they show in the feed and in the writes chart.
    for (let i = 0; i < 20; i++) await put(`/v1/kv/activity/k${i}`, String(i));
    await page.getByLabel('recent changes').getByText('set activity/k19').waitFor({ timeout: 5000 });
    await expect
      .poll(
        async () => Number.parseFloat((await page.getByLabel('Writes').locator('[data-latest]').textContent()) ?? ''),
        {
          timeout: 10_000,
        },
      )
      .toBeGreaterThan(0);
    await put('/v1/event/fire/deploy', 'v2');
    await page.getByLabel('recent changes').getByText('event deploy').waitFor({ timeout: 5000 });
    await page.screenshot({ path: join(SHOTS, 'activity.png') });
    await page.close();
  });
});

describe('the Fleet page', () => {
  it('lists agents live: a new one appears, a silent one turns offline, then comes back', async () => {
    // A server of its own, quick to call a silent agent offline.
    const fleetServer = await spawnServer({ args: ['--edge-offline-after', '3'] });
    const announce = (id: string, index: number) =>
      fetch(`${fleetServer.url}/v1/edge/agents/${id}`, {
        method: 'PUT',
        body: JSON.stringify({
          Runtime: 'bun',
          RuntimeVersion: '1.2',
          Arch: 'arm64',
          Prefixes: ['shop/'],
          ReplicaIndex: index,
          OutboxDepth: 4,
        }),
      });
    const page = await desktopPage(browser);
    await page.goto(`${fleetServer.url}/ui/fleet`);
    await page.getByText('No edge agent or device has reported yet.').waitFor();
    expect((await announce('shop-17', 1)).status).toBe(200);
    const row = page.locator('tr[data-member="shop-17"]');
    await row.waitFor({ timeout: 5000 });
    expect(await row.getAttribute('data-status')).toBe('online');
    expect(await row.textContent()).toMatch(/bun 1\.2 arm64.*4.*shop\//);
    // Silent for over 3 s: the leader marks it offline, and the page follows.
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 10_000 }).toBe('offline');
    await page.getByLabel('status').selectOption('offline');
    expect(await page.locator('tbody tr').count()).toBe(1);
    // Heard again (and kept heard, so it stays online): it comes back.
    expect((await announce('shop-17', 2)).status).toBe(200);
    const keep = setInterval(() => void announce('shop-17', 2), 250);
    try {
      await expect.poll(() => page.locator('tbody tr').count(), { timeout: 10_000 }).toBe(0);
      await page.getByLabel('status').selectOption('all');
      await expect.poll(() => row.getAttribute('data-status'), { timeout: 5000 }).toBe('online');
      await page.screenshot({ path: join(SHOTS, 'fleet.png') });
    } finally {
      clearInterval(keep);
    }
    await page.close();
    await fleetServer.stop();
  });
});

describe('themes', () => {
  it('switches between the system theme, dark and light, and keeps the choice', async () => {
    const page = await desktopPage(browser);
    await page.emulateMedia({ colorScheme: 'light' });
    await page.goto(`${server.url}/ui/kv/app/config/`);
    const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(await bg()).toBe('rgb(255, 255, 255)');
    await page.getByRole('button', { name: 'theme: system' }).click();
    expect(await bg()).toBe('rgb(22, 24, 28)');
    await page.screenshot({ path: join(SHOTS, 'kv-dark.png') });
    await page.reload();
    expect(await bg()).toBe('rgb(22, 24, 28)');
    await page.getByRole('button', { name: 'theme: dark' }).click();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('light');
    await page.close();
  });
});
