import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAll, type SpawnedServer, spawnServer } from '../testing/spawn-server.js';
import { SHOTS, desktopPage, launchBrowser } from './browser.js';

let browser: Browser;
let server: SpawnedServer;
let mgmt: string;
const secrets: Record<string, string> = {};

/** A PUT with the management token; throws on a non-2xx answer. */
async function admin(path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${server.url}${path}`, {
    method: 'PUT',
    headers: { 'X-Consul-Token': mgmt },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

beforeAll(async () => {
  browser = await launchBrowser();
  server = await spawnServer({ args: ['--acl-enabled', '--acl-default-policy', 'deny'] });
  mgmt = ((await (await fetch(`${server.url}/v1/acl/bootstrap`, { method: 'PUT' })).json()) as { SecretID: string })
    .SecretID;
  const everything =
    'key_prefix "" { policy = "read" }\nservice_prefix "" { policy = "read" }\nnode_prefix "" { policy = "read" }';
  await admin('/v1/acl/policy', { Name: 'read-all', Rules: everything });
  await admin('/v1/acl/policy', {
    Name: 'app-writer',
    Rules: `${everything}\nkey_prefix "app/" { policy = "write" }\nkey_prefix "app/locked/" { policy = "read" }`,
  });
  for (const name of ['read-all', 'app-writer'])
    secrets[name] = (
      (await admin('/v1/acl/token', { Description: name, Policies: [{ Name: name }] })) as { SecretID: string }
    ).SecretID;
  await admin('/v1/kv/app/greeting', 'hello');
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await cleanupAll();
});

async function logIn(page: Page, secret: string): Promise<void> {
  await page.goto(`${server.url}/ui/acl`);
  const out = page.getByRole('button', { name: 'Log out' });
  // The page first checks a kept token; it then shows either the login form or who is logged in.
  await page.locator('form[aria-label="log in"], [aria-label="logged in"]').first().waitFor();
  if (await out.isVisible()) await out.click();

  await page.getByLabel('token', { exact: true }).fill(secret);
  await page.getByRole('button', { name: 'Log in' }).click();
  await out.waitFor({ timeout: 5000 });
}

describe('the UI with ACLs on', () => {
  it('hides write controls from a read-only token and shows the missing permission of a denied action', async () => {
    const page = await desktopPage(browser);
    // No token: the anonymous token may list nothing, and the page says so instead of "no keys".
    await page.goto(`${server.url}/ui/kv/app/`);
    await page
      .getByRole('alert')
      .filter({ hasText: /may not list keys under app\/ \(key:list\)/ })
      .waitFor({ timeout: 5000 });

    // A read-only token: keys are listed and shown, and nothing offers to change them.
    await logIn(page, secrets['read-all'] as string);
    expect(await page.getByLabel('logged in').textContent()).toMatch(/read-all/);
    // The token lives in this tab's session storage, nowhere else.
    expect(await page.evaluate(() => sessionStorage.getItem('konsul-token'))).toBe(secrets['read-all']);
    expect(await page.evaluate(() => JSON.stringify(localStorage))).not.toContain(secrets['read-all']);
    await page.goto(`${server.url}/ui/kv/app/`);
    await page.getByRole('link', { name: 'greeting' }).waitFor({ timeout: 5000 });
    await page.getByRole('button', { name: 'Export folder' }).waitFor();
    expect(await page.getByRole('button', { name: 'Create' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Delete folder…' }).count()).toBe(0);
    expect(await page.getByLabel('import file').count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'kv-read-only.png') });
    await page.getByRole('link', { name: 'greeting' }).click();
    await expect.poll(() => page.locator('pre.value').textContent(), { timeout: 5000 }).toBe('hello');
    expect(await page.getByRole('button', { name: 'Edit' }).count()).toBe(0);
    // ACL lists need acl:read: the page shows the server's reason.
    await page.goto(`${server.url}/ui/acl/tokens`);
    await page
      .getByRole('alert')
      .filter({ hasText: /403: Permission denied.*acl:read/ })
      .waitFor({ timeout: 5000 });

    // A token that may write app/ but not app/locked/: the form is there, and a denied create says why.
    await logIn(page, secrets['app-writer'] as string);
    await page.goto(`${server.url}/ui/kv/app/`);
    await page.getByLabel('new key').fill('locked/x');
    await page.getByLabel('new value').fill('nope');
    await page.getByRole('button', { name: 'Create' }).click();
    const denied = page.getByRole('alert').filter({ hasText: /403/ });
    await denied.waitFor({ timeout: 5000 });
    expect(await denied.textContent()).toMatch(
      /Permission denied: token with AccessorID '[0-9a-f-]+' lacks permission 'key:write' on "app\/locked\/x"/,
    );
    expect(await denied.textContent()).not.toContain(secrets['app-writer']);
    await page.screenshot({ path: join(SHOTS, 'kv-denied.png') });
    expect((await fetch(`${server.url}/v1/kv/app/locked/x`, { headers: { 'X-Consul-Token': mgmt } })).status).toBe(404);
    await page.close();
  });

  it('manages policies with a management token, showing rule errors inline', async () => {
    const page = await desktopPage(browser);
    await logIn(page, mgmt);
    await page.goto(`${server.url}/ui/acl/tokens`);
    await page.locator('tr[data-token]').first().waitFor({ timeout: 5000 });
    expect(await page.locator('table[aria-label="tokens"]').textContent()).toMatch(/read-all/);
    // The secrets are never on the page.
    expect(await page.content()).not.toContain(secrets['read-all']);
    await page.getByRole('link', { name: 'policies' }).click();
    await page.locator('tr[data-policy="read-all"]').waitFor({ timeout: 5000 });
    await page.getByRole('button', { name: 'New policy' }).click();
    await page.getByLabel('policy name').fill('ops');
    await page.getByLabel('rules').fill('key_prefix "ops/" { policy = "sometimes" }');
    await page.getByRole('button', { name: 'Save policy' }).click();
    const error = page.getByRole('form', { name: 'policy' }).getByRole('alert');
    await error.waitFor({ timeout: 5000 });
    expect(await error.textContent()).toMatch(/^400: .*sometimes/);
    await page.screenshot({ path: join(SHOTS, 'acl-policy-error.png') });
    await page.getByLabel('rules').fill('key_prefix "ops/" { policy = "write" }');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.locator('tr[data-policy="ops"]').waitFor({ timeout: 10_000 });
    for (const tab of ['roles', 'auth methods']) {
      await page.getByRole('link', { name: tab }).click();
      await page.getByRole('table', { name: tab }).waitFor();
    }
    await page.close();
  });
});
