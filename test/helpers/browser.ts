/**
 * Headless Chromium for the page tests: Debian's chromium driven by playwright-core, with the flags
 * this machine's closed network needs, and readers of what the page shows.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ROOT } from '../../paths.ts';
import { skipUnless } from './shared.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why a browser test must skip (printed), or undefined when Chromium is there. */
export function skipUnlessChromium(what: string): boolean {
  return skipUnless(what, !existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM} (apt-get install chromium)`);
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

/** Where the browser tests keep their screenshots (gitignored): test/artifacts/<test>/<name>.png. */
export async function screenshot(page: Page, test: string, name: string): Promise<string> {
  const dir = join(ROOT, 'test/artifacts', test);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * The label rows the page shows inside `scope` (an upload's card, or the detail view): label,
 * percentage text and bar width.
 */
export function resultRows(
  page: Page,
  scope = '#uploads .card',
): Promise<{ label: string; pct: string; width: string }[]> {
  return page.$eval(scope, (root) =>
    Array.from(root.querySelectorAll('.results .row')).map((e) => ({
      label: e.querySelector('.label')?.textContent ?? '',
      pct: e.querySelector('.pct')?.textContent ?? '',
      width: (e.querySelector('.bar > span') as HTMLElement | null)?.style.width ?? '',
    })),
  );
}

export interface DroppedFile {
  name: string;
  mimeType: string;
  buffer: Buffer;
}

/** Drops the files on the element as a user drags them from the desktop (real Files in a DataTransfer). */
export async function dropFiles(page: Page, selector: string, files: DroppedFile[]): Promise<void> {
  const payload = files.map((f) => ({ name: f.name, type: f.mimeType, b64: f.buffer.toString('base64') }));
  await page.$eval(
    selector,
    (target, list) => {
      const transfer = new DataTransfer();
      for (const f of list)
        transfer.items.add(
          new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: f.type }),
        );
      target.dispatchEvent(
        new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }),
      );
    },
    payload,
  );
}

/**
 * The runs of Latin letters in the page's visible text (and title, and placeholders) once the allowed strings (file names, the
 * user's own tags, the model's name) are taken out: what a Chinese reader would see in English.
 */
export async function latinWords(page: Page, allowed: readonly string[]): Promise<string[]> {
  let text = await page.evaluate(() =>
    [
      document.title,
      // biome-ignore lint/performance/useDomNodeTextContent: what is rendered (visible) is what is read
      document.body.innerText,
      ...Array.from(document.querySelectorAll('input'))
        .filter((i) => i.offsetParent !== null)
        .map((i) => i.placeholder),
    ].join('\n'),
  );
  for (const a of [...allowed].sort((x, y) => y.length - x.length)) text = text.split(a).join(' ');
  const words = text.match(/[A-Za-z]+/g) ?? [];
  if (words.length > 0) console.log(`Latin letters in:\n${text}`);
  return words;
}
