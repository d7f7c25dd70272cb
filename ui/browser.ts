import { resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { requireProgram } from '../testing/process.js';

/** Where the test runs write the screenshots docs/UI.md links to. */
export const SHOTS = resolve(import.meta.dirname, '../docs/ui');

/** Debian's Chromium, headless, driven by playwright-core (installed by `testing/system-packages.mjs ui`). */
export async function launchBrowser(): Promise<Browser> {
  requireProgram('chromium', 'chromium');
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--headless=new'] });
}

/** A 1280×800 page whose confirm() dialogs are accepted (the UI asks before deleting). */
export async function desktopPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  page.on('dialog', (d) => void d.accept());
  return page;
}
