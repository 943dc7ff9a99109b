/**
 * The "done when", end to end in a browser: `npm start` (spawned as
 * test/integration/local-stack.test.ts does, on free loopback ports, data in a temporary folder),
 * headless Chromium opens the page, uploads a photo over 5 MB (made here with sharp from
 * ../shared/photos/207-Golden-Retriever.jpg: too large for POST /classify, so the page sends it
 * straight to the local S3 with a presigned POST), sees the tagger's labels appear, then searches
 * "golden retriever" and sees the image in the gallery.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, skipUnlessChromium } from '../helpers/browser.ts';
import { photo, ROOT, sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

const skip =
  skipUnlessShared('the upload end-to-end test') || skipUnlessChromium('the upload end-to-end test');
const MB = 1024 * 1024;

/** n distinct free loopback ports (all held open together, then released). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, async () => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return server;
    }),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

describe.skipIf(skip)('upload from the page, end to end on the npm start stack', () => {
  let data: string;
  let stack: ChildProcess;
  let output = '';
  let base: string;
  let s3: string;
  let browser: Browser;
  let bigPhoto: string;
  let bytes: number;
  /** /health's features: the handler serves search and uploads (npm start gives it their environment). */
  let features: { search?: boolean; upload?: boolean } | undefined;

  beforeAll(async () => {
    data = await mkdtemp(join(tmpdir(), 'e2e-upload-'));
    // A phone-sized photo: the retriever upscaled to 2,400 px wide, JPEG quality 100, no chroma subsampling.
    const jpeg = await sharp(photo('207-Golden-Retriever.jpg'))
      .resize({ width: 2400 })
      .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
      .toBuffer();
    bytes = jpeg.length;
    bigPhoto = join(data, 'big-retriever.jpg');
    await writeFile(bigPhoto, jpeg);
    const [http, lambda, s3Port, dynamo] = (await freePorts(4)) as [number, number, number, number];
    base = `http://127.0.0.1:${http}`;
    s3 = `http://127.0.0.1:${s3Port}`;
    stack = spawn(
      process.execPath,
      [
        '--openssl-legacy-provider',
        '--import',
        'tsx',
        join(ROOT, 'scripts/start.ts'),
        '--model-dir',
        sharedModelFolder(),
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          LOCAL_HTTP_PORT: String(http),
          LOCAL_LAMBDA_PORT: String(lambda),
          LOCAL_S3_PORT: String(s3Port),
          LOCAL_DYNAMO_PORT: String(dynamo),
          LOCAL_DATA_DIR: join(data, 'stack'),
        },
      },
    );
    const collect = (d: Buffer) => {
      output += d.toString();
    };
    stack.stdout?.on('data', collect);
    stack.stderr?.on('data', collect);
    for (let i = 0; i < 180 * 4 && !output.includes('[start] ready:'); i++) {
      if (stack.exitCode !== null) throw new Error(`npm start exited (${stack.exitCode}):\n${output}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    if (!output.includes('[start] ready:')) throw new Error(`npm start was not ready in 180 s:\n${output}`);
    const health = (await (await fetch(`${base}/health`)).json()) as {
      features?: { search?: boolean; upload?: boolean };
    };
    features = health.features;
    browser = await launchChromium();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    if (stack && stack.exitCode === null) {
      const exited = new Promise((r) => stack.once('exit', r));
      stack.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (stack.exitCode === null) stack.kill('SIGKILL');
    }
    if (data) await rm(data, { recursive: true, force: true });
  }, 30_000);

  it('uploads a photo over 5 MB, shows its tags, and finds it by searching "golden retriever"', async () => {
    expect(features).toEqual({ search: true, upload: true });
    // Over 5 MB, and over what POST /classify takes (4,694,016 bytes): only the S3 path can tag it.
    expect(bytes).toBeGreaterThan(5 * MB);
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (err) => void problems.push(err.message));
    const s3Posts: { status: number; allowOrigin: string | null }[] = [];
    const requests: { method: string; url: string }[] = [];
    page.on('request', (r) => void requests.push({ method: r.method(), url: r.url() }));
    page.on('response', (r) => {
      if (r.request().method() === 'POST' && r.url().startsWith(`${s3}/`))
        s3Posts.push({ status: r.status(), allowOrigin: r.headers()['access-control-allow-origin'] ?? null });
    });
    await page.goto(`${base}/`);
    await expect.poll(() => page.isVisible('#find'), { timeout: 30_000 }).toBe(true);

    // Upload: a presigned POST straight to the local S3 (cross-origin, allowed by the bucket's CORS
    // rule), then the tagger's labels, read back through GET /images/{key}.
    await page.setInputFiles('#file', bigPhoto);
    await page.waitForSelector('#results .row', { timeout: 120_000 });
    // The tagger's labels over MIN_CONFIDENCE (up to 3), and its categories.
    const labels = await page.$$eval('#results .row .label', (els) => els.map((e) => e.textContent ?? ''));
    expect(labels.length).toBeGreaterThanOrEqual(1);
    expect(labels[0]).toBe('Golden Retriever');
    expect(await page.textContent('#categories')).toContain('dog');
    expect(await page.textContent('#status')).toContain('big-retriever.jpg');
    expect(s3Posts).toEqual([{ status: 204, allowOrigin: base }]);
    expect(requests.some((r) => r.url.includes('/classify'))).toBe(false);
    const poll = requests.find((r) => r.url.startsWith(`${base}/images/`));
    const key = decodeURIComponent(new URL(poll?.url ?? `${base}/`).pathname.slice('/images/'.length));
    expect(key).toMatch(/^uploads\/.+\/big-retriever\.jpg$/);
    console.log(`e2e upload of ${bytes} bytes: ${await page.textContent('#timing')}`);

    // Search: the label index (dynalite) finds it, and its thumbnail loads from the bucket.
    await page.fill('#search', 'golden retriever');
    await page.click('#go');
    await page.waitForSelector('#gallery .tile', { timeout: 30_000 });
    const tiles = await page.$$eval('#gallery .tile', (els) =>
      els.map((e) => ({
        label: e.querySelector('.label')?.textContent ?? '',
        file: e.querySelector('.file')?.textContent ?? '',
        src: e.querySelector('img')?.getAttribute('src') ?? '',
      })),
    );
    expect(tiles).toHaveLength(1);
    expect(tiles[0]).toMatchObject({ label: 'Golden Retriever', file: 'big-retriever.jpg' });
    expect(tiles[0]?.src.startsWith(`${s3}/`)).toBe(true);
    const img = page.locator('#gallery .tile img').first();
    await img.scrollIntoViewIfNeeded();
    await expect
      .poll(() => img.evaluate((e) => (e as HTMLImageElement).naturalWidth), { timeout: 30_000 })
      .toBe(2400);
    expect(problems).toEqual([]);
    await page.close();
  }, 240_000);
});
