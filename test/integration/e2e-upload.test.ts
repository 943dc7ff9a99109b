/**
 * The "done when", end to end in a browser: `npm start` (test/helpers/local-stack.ts: on free
 * loopback ports, data in a temporary folder; private, with its local user pool),
 * headless Chromium opens the page, signs in with the user npm start printed, uploads a photo over 5 MB (made here with sharp from
 * ../shared/photos/207-Golden-Retriever.jpg: too large for POST /classify, so the page sends it
 * straight to the local S3 with a presigned POST), sees the tagger's labels appear, then searches
 * "golden retriever" and sees the image in the gallery. On the same stack, `npm run bench:lambda --
 * --local` invokes both functions through serverless-offline's Lambda API and prints their reports.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INT8_FLAGS, readCpuInfo, storageExactness } from '../../src/classifier/cpu.ts';
import type { WeightStorage } from '../../src/classifier/storages.ts';
import { launchChromium, skipUnlessChromium } from '../helpers/browser.ts';
import { type LocalStack, startLocalStack } from '../helpers/local-stack.ts';
import { photo, runTs, sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

const skip =
  skipUnlessShared('the upload end-to-end test') || skipUnlessChromium('the upload end-to-end test');
const MB = 1024 * 1024;

describe.skipIf(skip)('upload from the page, end to end on the npm start stack', () => {
  let data: string;
  let stack: LocalStack;
  let base: string;
  let s3: string;
  let browser: Browser;
  let bigPhoto: string;
  let bytes: number;
  let lambdaPort: number;
  /** /health's features: the handler serves search and uploads (npm start gives it their environment). */
  let features: { search?: boolean; upload?: boolean; similar?: boolean } | undefined;

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
    stack = await startLocalStack(['--model-dir', sharedModelFolder()]);
    base = stack.base;
    s3 = stack.s3;
    lambdaPort = stack.lambdaPort;
    const health = (await (await fetch(`${base}/health`)).json()) as {
      features?: { search?: boolean; upload?: boolean; similar?: boolean };
    };
    features = health.features;
    browser = await launchChromium();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    if (data) await rm(data, { recursive: true, force: true });
  }, 30_000);

  it('uploads a photo over 5 MB, shows its tags, and finds it by searching "golden retriever"', async () => {
    expect(features).toMatchObject({ search: true, upload: true });
    // Over 5 MB, and over what POST /classify takes (4,694,016 bytes): only the S3 path can tag it.
    expect(bytes).toBeGreaterThan(5 * MB);
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (err) => void problems.push(err.message));
    const s3Posts: { status: number; allowOrigin: string | null }[] = [];
    const requests: { method: string; url: string; auth?: string }[] = [];
    page.on(
      'request',
      (r) => void requests.push({ method: r.method(), url: r.url(), auth: r.headers().authorization }),
    );
    page.on('response', (r) => {
      if (r.request().method() === 'POST' && r.url().startsWith(`${s3}/`))
        s3Posts.push({ status: r.status(), allowOrigin: r.headers()['access-control-allow-origin'] ?? null });
    });
    await page.goto(`${base}/`);
    // Private: only the sign-in form until the user signs in (InitiateAuth against the local pool).
    await page.waitForSelector('#sign-in', { state: 'visible', timeout: 30_000 });
    expect(await page.isVisible('#drop')).toBe(false);
    expect((await fetch(`${base}/images?label=dog`)).status).toBe(401);
    await page.fill('#email', stack.user?.email ?? '');
    await page.fill('#password', stack.user?.password ?? '');
    await page.click('#sign-in-go');
    await expect.poll(() => page.isVisible('#find'), { timeout: 30_000 }).toBe(true);
    expect(await page.textContent('#who-name')).toBe(stack.user?.email);

    // Upload: a presigned POST straight to the local S3 (cross-origin, allowed by the bucket's CORS
    // rule), then the tagger's labels, read back through GET /image?key=.
    await page.setInputFiles('#file', bigPhoto);
    await page.waitForSelector('#uploads .card.done', { timeout: 120_000 });
    // The tagger's labels over MIN_CONFIDENCE (up to 3), and its categories.
    const labels = await page.$$eval('#uploads .card .results .row .label', (els) =>
      els.map((e) => e.textContent ?? ''),
    );
    expect(labels.length).toBeGreaterThanOrEqual(1);
    expect(labels[0]).toBe('Golden Retriever');
    expect(await page.textContent('#uploads .card .categories')).toContain('dog');
    expect(await page.textContent('#status')).toContain('big-retriever.jpg');
    expect(s3Posts).toEqual([{ status: 204, allowOrigin: base }]);
    expect(requests.some((r) => r.url.includes('/classify'))).toBe(false);
    const poll = requests.find((r) => r.url.startsWith(`${base}/image?`));
    const key = new URL(poll?.url ?? `${base}/`).searchParams.get('key') ?? '';
    expect(key).toMatch(/^uploads\/.+\/big-retriever\.jpg$/);
    console.log(`e2e upload of ${bytes} bytes: ${await page.textContent('#uploads .card .timing')}`);

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

    // Its detail view, through the stack's own routes: its URL, the image, the labels.
    await page.click('#gallery .tile a');
    await expect.poll(() => page.textContent('#detail-status'), { timeout: 30_000 }).toBe('Tagged');
    expect(new URL(page.url()).searchParams.get('image')).toBe(key);
    expect(await page.textContent('#detail .results .row .label')).toBe('Golden Retriever');
    const detailImage = page.locator('#detail-image');
    await expect
      .poll(() => detailImage.evaluate((e) => (e as HTMLImageElement).naturalWidth), { timeout: 30_000 })
      .toBe(2400);
    // Every API request carried the access token; sign-out forgets it and shows the form again.
    expect(
      requests.filter((r) => r.url.startsWith(`${base}/image`)).every((r) => r.auth?.startsWith('Bearer ey')),
    ).toBe(true);
    // Sign-out revokes the refresh token, then loads the page again at `/`: wait for that load (the
    // form shows before it, and a check run then dies with the navigation).
    const reloaded = page.waitForURL(`${base}/`, { waitUntil: 'load', timeout: 30_000 });
    await page.click('#sign-out');
    await reloaded;
    await page.waitForSelector('#sign-in', { state: 'visible', timeout: 30_000 });
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(await page.isVisible('#home')).toBe(false);
    expect(problems).toEqual([]);
    await page.close();
  }, 240_000);

  it('in Chinese: a wrong password is refused, then signs in; an expired session says so and shows the form', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.waitForSelector('#sign-in', { state: 'visible', timeout: 30_000 });
    await page.click('#lang');
    expect(await page.textContent('#sign-in h2')).toBe('登录');
    expect(await page.textContent('#sign-in-go')).toBe('登录');
    await page.fill('#email', stack.user?.email ?? '');
    await page.fill('#password', 'not-the-password');
    await page.click('#sign-in-go');
    await expect.poll(() => page.textContent('#sign-in-note'), { timeout: 30_000 }).toBe('邮箱或密码错误');
    await page.fill('#password', stack.user?.password ?? '');
    await page.click('#sign-in-go');
    await expect.poll(() => page.isVisible('#find'), { timeout: 30_000 }).toBe(true);
    expect(await page.textContent('#sign-out')).toBe('退出登录');
    // The session survives a reload (sessionStorage), and the token is refreshed from the refresh token
    // when it is about to expire.
    await page.evaluate(() => {
      const key = 'image-tagger.session';
      const s = JSON.parse(sessionStorage.getItem(key) ?? '{}');
      sessionStorage.setItem(key, JSON.stringify({ ...s, access: 'stale', expiresAt: Date.now() + 1000 }));
    });
    await page.reload();
    await expect.poll(() => page.isVisible('#find'), { timeout: 30_000 }).toBe(true);
    const session = () =>
      page.evaluate(() => JSON.parse(sessionStorage.getItem('image-tagger.session') ?? '{}'));
    await expect.poll(async () => (await session()).access, { timeout: 30_000 }).toMatch(/^ey/);
    const refreshed = await session();
    expect(refreshed.expiresAt).toBeGreaterThan(Date.now() + 30 * 60_000);
    // A token the API refuses (here: tampered) ends the session: the form again, saying why. The first
    // request with it is the suggestions for what is typed (so no click: the form may already be back).
    await page.evaluate(() => {
      const key = 'image-tagger.session';
      const s = JSON.parse(sessionStorage.getItem(key) ?? '{}');
      const [h, p, sig] = String(s.access).split('.');
      sessionStorage.setItem(key, JSON.stringify({ ...s, access: [h, p?.slice(0, -2), sig].join('.') }));
    });
    await page.reload();
    await expect.poll(() => page.isVisible('#find'), { timeout: 30_000 }).toBe(true);
    await page.fill('#search', '狗');
    await expect
      .poll(() => page.textContent('#sign-in-note'), { timeout: 30_000 })
      .toBe('登录已过期，请重新登录。');
    expect(await page.isVisible('#sign-in')).toBe(true);
    expect(await page.isVisible('#home')).toBe(false);
    await page.close();
  }, 120_000);

  it("npm run bench:lambda -- --local prints both functions' CPU flags and a row per storage", async () => {
    const { stdout } = await runTs('bench/lambda.ts', ['--local', '--runs', '3'], {
      env: { ...process.env, LOCAL_LAMBDA_PORT: String(lambdaPort) },
    });
    const cpu = readCpuInfo();
    const present = INT8_FLAGS.filter((f) => cpu.flags?.has(f)).join(' ');
    const meta = JSON.parse(await readFile(join(sharedModelFolder(), 'model.json'), 'utf8'));
    const files = meta.weights as Record<WeightStorage, string>;
    for (const fn of ['api', 'tagger']) {
      const section = stdout.split(/^## /m).find((s) => s.startsWith(`${fn} (image-tagger-dev-${fn})`));
      expect(section, stdout).toBeDefined();
      expect(section).toContain(`CPU: ${cpu.model}, ${cpu.arch}, `);
      expect(section).toContain(`flags: ${present} (absent: `);
      expect(section).toMatch(/memory: 1769 MB, 1 inference thread\(s\)/);
      // | storage | file | serving | exact on this CPU | load ms | runs | median ms | min ms | ...
      const rows = new Map(
        (section ?? '')
          .split('\n')
          .filter((l) => /^\| (?!storage |-)/.test(l))
          .map((l) =>
            l
              .split('|')
              .slice(1, -1)
              .map((c) => c.trim()),
          )
          .map((cells) => [cells[0], cells] as const),
      );
      expect([...rows.keys()].sort()).toEqual(Object.keys(files).sort());
      for (const [storage, file] of Object.entries(files) as [WeightStorage, string][]) {
        const cells = rows.get(storage) ?? [];
        const exact = storageExactness(cpu, storage).exact ? 'yes' : 'NO';
        expect([cells[1], cells[3], cells[5]]).toEqual([file, exact, '3']);
        expect(Number(cells[6])).toBeGreaterThan(0);
      }
    }
  }, 120_000);
});
