/**
 * The web page in headless Chromium (Debian's chromium, driven by playwright-core), served by the
 * real HTTP handler over loopback: pick a photo, then drop another, and see three labels with
 * percentages and the timing.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Classifier, createClassifier } from '../../src/classifier/classifier.ts';
import { createApi } from '../../src/http/api.ts';
import { type LocalServer, startLocalServer } from '../helpers/local-server.ts';
import { photo, sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const noChromium = !existsSync(CHROMIUM);
if (noChromium)
  console.warn(`skipping the browser test: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
const skip = skipUnlessShared('the browser test') || noChromium;

describe.skipIf(skip)('web page in headless Chromium', () => {
  let classifier: Classifier;
  let server: LocalServer;
  let browser: Browser;

  beforeAll(async () => {
    classifier = await createClassifier(sharedModelFolder(), { threads: 2 });
    server = await startLocalServer(createApi({ classifier }));
    browser = await chromium.launch({
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
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await classifier?.release();
  });

  it('shows the top-3 labels with percentages for a picked file and for a dropped file', async () => {
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (r) => void requests.push(r.url()));
    await page.goto(`${server.url}/`);
    await expect.poll(() => page.textContent('#model')).toContain('mobilenetv2-int8');

    await page.setInputFiles('#file', photo('207-Golden-Retriever.jpg'));
    await page.waitForSelector('#results .row:nth-child(3)', { timeout: 30_000 });
    // The page stacks model line, drop zone, preview and results without overlapping.
    const boxes = await Promise.all(
      ['#model', '#drop', '#preview', '#results'].map((s) => page.locator(s).boundingBox()),
    );
    for (let i = 1; i < boxes.length; i++)
      expect(boxes[i]?.y).toBeGreaterThanOrEqual((boxes[i - 1]?.y ?? 0) + (boxes[i - 1]?.height ?? 0));
    const rows = await page.$$eval('#results .row', (els) =>
      els.map((e) => ({
        label: e.querySelector('.label')?.textContent ?? '',
        pct: e.querySelector('.pct')?.textContent ?? '',
        width: (e.querySelector('.bar > span') as HTMLElement | null)?.style.width ?? '',
      })),
    );
    expect(rows).toHaveLength(3);
    expect(rows[0]?.label).toBe('Golden Retriever');
    for (const r of rows) {
      expect(r.pct).toMatch(/^\d{1,3}\.\d%$/);
      expect(r.width).toMatch(/%$/);
    }
    expect(Number.parseFloat(rows[0]?.pct ?? '0')).toBeGreaterThan(Number.parseFloat(rows[1]?.pct ?? '0'));
    expect(await page.textContent('#timing')).toMatch(/Inference \d+\.\d ms/);
    expect(await page.getAttribute('#preview', 'src')).toMatch(/^blob:/);

    // Drag and drop: a real File in a DataTransfer, dropped on the drop zone.
    const espresso = (await readFile(photo('967-espresso.jpg'))).toString('base64');
    await page.evaluate((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], 'espresso.jpg', { type: 'image/jpeg' }));
      document
        .getElementById('drop')
        ?.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true }));
    }, espresso);
    await expect
      .poll(() => page.textContent('#results .row:first-child .label'), { timeout: 30_000 })
      .toBe('espresso');
    expect(await page.$$eval('#results .row', (els) => els.length)).toBe(3);
    expect(await page.textContent('#status')).toContain('espresso.jpg');

    // Everything the page loaded came from the local server (no CDN).
    expect(requests.every((u) => u.startsWith(server.url) || u.startsWith('blob:'))).toBe(true);
    await page.close();
  });

  it('shows the error for a file that is not an image', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    await page.setInputFiles('#file', {
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('hello'),
    });
    await expect.poll(() => page.textContent('#status'), { timeout: 30_000 }).toMatch(/^UnsupportedFormat: /);
    expect(await page.getAttribute('#status', 'class')).toBe('error');
    await page.close();
  });
});
