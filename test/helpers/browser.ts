/**
 * Headless Chromium for the page tests: Debian's chromium driven by playwright-core, with the flags
 * this machine's closed network needs, and a reader of the result rows the page shows.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why a browser test must skip (printed), or undefined when Chromium is there. */
export function skipUnlessChromium(what: string): boolean {
  if (existsSync(CHROMIUM)) return false;
  console.warn(`skipping ${what}: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  return true;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 60_000,
  });
}

/** The label rows the page shows: label, percentage text and bar width. */
export function resultRows(page: Page): Promise<{ label: string; pct: string; width: string }[]> {
  return page.$$eval('#results .row', (els) =>
    els.map((e) => ({
      label: e.querySelector('.label')?.textContent ?? '',
      pct: e.querySelector('.pct')?.textContent ?? '',
      width: (e.querySelector('.bar > span') as HTMLElement | null)?.style.width ?? '',
    })),
  );
}
