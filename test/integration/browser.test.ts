/**
 * The web page in headless Chromium (Debian's chromium, driven by playwright-core), served by the
 * real HTTP handler over loopback.
 * - Without the image routes: pick a photo, then drop another, and see three labels with percentages
 *   and the timing (POST /classify).
 * - With them, against a real local S3 (s3rver) with the real presigner and the real tagger run on
 *   the server's own events: a 12-megapixel photo over 5 MB, made here with sharp, is uploaded by the
 *   page straight to S3 with a presigned POST, tagged, and its labels appear; then the page's search
 *   finds it in the gallery, thumbnails loaded through presigned GET URLs.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, PutBucketCorsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalS3, localS3Client, startLocalS3 } from '../../scripts/local/local-s3.ts';
import { s3ObjectStore } from '../../src/aws/s3-object-store.ts';
import { s3UploadSigner } from '../../src/aws/upload-signer.ts';
import { type Classifier, createClassifier } from '../../src/classifier/classifier.ts';
import { DEFAULT_LIMITS } from '../../src/classifier/preprocess.ts';
import { createApi } from '../../src/http/api.ts';
import { taggerSettings } from '../../src/settings.ts';
import {
  InvalidCursorError,
  type LabelIndex,
  normalizeLabel,
  type SearchItem,
} from '../../src/tagging/label-index.ts';
import { createS3Tagger } from '../../src/tagging/notifications.ts';
import type { TagOutcome } from '../../src/tagging/tagger.ts';
import { launchChromium, resultRows, skipUnlessChromium } from '../helpers/browser.ts';
import { type LocalServer, startLocalServer } from '../helpers/local-server.ts';
import { photo, sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

const skip = skipUnlessShared('the browser test') || skipUnlessChromium('the browser test');

const BUCKET = 'page-uploads';
const PREFIX = 'uploads/';
const MiB = 1024 * 1024;
/** The image limit of this run: over the HTTP path's 4.5 MiB, and small enough to test 413 cheaply. */
const MAX_BYTES = 12 * MiB;

/**
 * A small in-memory label index fed from the tagger's outcomes (the DynamoDB index has its own
 * tests; the index end to end runs against `npm start`): search by label, best score first, with an
 * offset cursor.
 */
function outcomeIndex() {
  const byKey = new Map<string, SearchItem['labels']>();
  const index: Pick<LabelIndex, 'search' | 'get'> = {
    // The object routes fall back to get when service tags are missing; these objects keep theirs.
    get: async () => undefined,
    async search(bucket, label, { limit, cursor }) {
      if (bucket !== BUCKET) return { items: [] };
      const start = cursor === undefined ? 0 : Number(/^o(\d+)$/.exec(cursor)?.[1] ?? Number.NaN);
      if (!Number.isInteger(start)) throw new InvalidCursorError();
      const items: SearchItem[] = [];
      for (const [key, labels] of byKey) {
        const match = labels.find((l) => normalizeLabel(l.label) === normalizeLabel(label));
        if (match) items.push({ key, score: match.score, top: labels[0]?.label ?? '', labels });
      }
      items.sort((a, b) => b.score - a.score || a.key.localeCompare(b.key));
      const page = items.slice(start, start + limit);
      return start + limit < items.length ? { items: page, cursor: `o${start + limit}` } : { items: page };
    },
  };
  const record = (outcomes: TagOutcome[]) => {
    for (const o of outcomes)
      if ((o.result === 'tagged' || o.result === 'unchanged') && o.status === 'ok' && o.classification)
        byKey.set(
          o.key,
          // The labels, then the vocabulary's categories (as the DynamoDB index holds both).
          [...o.classification.labels, ...(o.classification.categories ?? [])].map((l) => ({
            label: l.label,
            score: l.score,
          })),
        );
  };
  return { index, record };
}

describe.skipIf(skip)('web page in headless Chromium', () => {
  let classifier: Classifier;
  let browser: Browser;

  beforeAll(async () => {
    classifier = await createClassifier(sharedModelFolder(), {
      threads: 2,
      limits: { ...DEFAULT_LIMITS, maxBytes: MAX_BYTES },
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await classifier?.release();
  });

  describe('without the image routes: POST /classify', () => {
    let server: LocalServer;
    beforeAll(async () => {
      server = await startLocalServer(createApi({ classifier }));
    });
    afterAll(async () => {
      await server?.close();
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
      const rows = await resultRows(page);
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
      await expect
        .poll(() => page.textContent('#status'), { timeout: 30_000 })
        .toMatch(/^UnsupportedFormat: /);
      expect(await page.getAttribute('#status', 'class')).toBe('error');
      await page.close();
    });

    it('hides the search box', async () => {
      const page = await browser.newPage();
      await page.goto(`${server.url}/`);
      await expect.poll(() => page.textContent('#model')).toContain('mobilenetv2-int8');
      expect(await page.isHidden('#find')).toBe(true);
      await page.close();
    });
  });

  describe('with the image routes: upload straight to a local S3, tagged, found by search', () => {
    let dir: string;
    let s3server: LocalS3;
    let s3: S3Client;
    let server: LocalServer;
    let big: Buffer;
    const fed = outcomeIndex();
    const work: Promise<void>[] = [];
    const taggerErrors: unknown[] = [];

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'browser-s3-'));
      let tagger: ReturnType<typeof createS3Tagger> | undefined;
      // The tagger in process, on s3rver's own ObjectCreated events (re-encoded as AWS does).
      s3server = await startLocalS3({
        directory: dir,
        buckets: [BUCKET],
        onEvent: (event) => {
          if (tagger)
            work.push(tagger(event).then(fed.record, (err: unknown) => void taggerErrors.push(err)));
        },
      });
      s3 = localS3Client(s3server.endpoint);
      const store = s3ObjectStore(s3);
      tagger = createS3Tagger({ store, classifier, ...taggerSettings({ UPLOAD_PREFIX: PREFIX }) });
      server = await startLocalServer(
        createApi({
          classifier,
          images: {
            ...taggerSettings({ UPLOAD_PREFIX: PREFIX }),
            bucket: BUCKET,
            index: fed.index,
            store,
            signer: s3UploadSigner(s3, BUCKET),
          },
        }),
      );
      // The bucket lets the page's origin POST (and read the answer); thumbnails need no CORS.
      await s3.send(
        new PutBucketCorsCommand({
          Bucket: BUCKET,
          CORSConfiguration: {
            CORSRules: [
              {
                AllowedOrigins: [server.url],
                AllowedMethods: ['POST'],
                AllowedHeaders: ['*'],
                MaxAgeSeconds: 300,
              },
            ],
          },
        }),
      );
      // A 12-megapixel phone-sized JPEG over 5 MB, made from a ../shared photo (never committed).
      big = await sharp(photo('207-Golden-Retriever.jpg'))
        .resize(4032, 3024, { fit: 'cover' })
        .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
        .toBuffer();
    });
    afterAll(async () => {
      await Promise.allSettled(work);
      await server?.close();
      await s3server?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** A page of the server, with every request it made and every CSP violation it reported. */
    async function open(): Promise<{
      page: Page;
      requests: { method: string; url: string }[];
      csp: string[];
    }> {
      const page = await browser.newPage();
      const requests: { method: string; url: string }[] = [];
      const csp: string[] = [];
      page.on('request', (r) => void requests.push({ method: r.method(), url: r.url() }));
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) csp.push(m.text());
      });
      await page.goto(`${server.url}/`);
      await expect.poll(() => page.isVisible('#find')).toBe(true);
      return { page, requests, csp };
    }
    const fromHere = (url: string) =>
      url.startsWith(`${server.url}/`) || url.startsWith(`${s3server.endpoint}/`) || url.startsWith('blob:');
    const s3Posts = (requests: { method: string; url: string }[]) =>
      requests.filter((r) => r.method === 'POST' && r.url.startsWith(s3server.endpoint));

    it('uploads a photo over 5 MB straight to S3 and shows its labels once the tagger wrote them', async () => {
      // Over 5 MB, and over what POST /classify could take (4,694,016 bytes).
      expect(big.length).toBeGreaterThan(5_000_000);
      const { page, requests, csp } = await open();
      await page.setInputFiles('#file', { name: 'IMG_2041.JPG', mimeType: 'image/jpeg', buffer: big });
      await page.waitForSelector('#results .row', { timeout: 60_000 });
      // The tags hold the top-3 labels scoring at least MIN_CONFIDENCE, and the categories.
      const rows = await resultRows(page);
      expect(rows.length).toBeGreaterThanOrEqual(1);
      expect(rows[0]?.label).toBe('Golden Retriever');
      for (const r of rows) {
        expect(r.pct).toMatch(/^\d{1,3}\.\d%$/);
        expect(r.width).toMatch(/%$/);
      }
      expect(await page.textContent('#status')).toBe(
        rows.length === 1 ? 'Top label for IMG_2041.JPG' : `Top ${rows.length} labels for IMG_2041.JPG`,
      );
      expect(await page.$$eval('#categories .chip', (cs) => cs.map((c) => c.textContent))).toContainEqual(
        expect.stringMatching(/^dog \d+%$/),
      );
      console.log(`page upload of a ${big.length}-byte photo: ${await page.textContent('#timing')}`);
      expect(await page.textContent('#timing')).toMatch(
        /^Tagged by mobilenetv2-int8@1: upload \d+\.\d s, tags \d+\.\d s later \(7\.4 MB\)$/,
      );

      // One grant from the API, one form POST to the bucket, then polling; never /classify.
      expect(requests.filter((r) => r.url === `${server.url}/uploads`).map((r) => r.method)).toEqual([
        'POST',
      ]);
      expect(s3Posts(requests).map((r) => r.url)).toEqual([`${s3server.endpoint}/${BUCKET}`]);
      expect(requests.some((r) => r.url.includes('classify'))).toBe(false);
      const polls = requests.filter((r) => r.url.startsWith(`${server.url}/image?`));
      expect(polls.length).toBeGreaterThanOrEqual(1);
      expect(polls.length).toBeLessThanOrEqual(121);
      const key = new URL(polls[0]?.url ?? '').searchParams.get('key') ?? '';
      expect(key).toMatch(/^uploads\/[0-9a-f-]{36}\/IMG_2041\.jpg$/);

      // The bucket holds the whole file, and the API reads the tagger's tags from it.
      const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      expect([head.ContentLength, head.ContentType]).toEqual([big.length, 'image/jpeg']);
      const info = await (await fetch(`${server.url}/image?${new URLSearchParams({ key })}`)).json();
      expect(info).toMatchObject({ key, status: 'ok', top: 'Golden Retriever', model: 'mobilenetv2-int8@1' });
      expect(info.labels.map((l: { label: string }) => l.label)).toEqual(rows.map((r) => r.label));
      // A key with no object is 404 through the real S3 adapter (NoSuchKey), not a fault.
      const missing = await fetch(`${server.url}/image?key=${PREFIX}no-such/photo.jpg`);
      expect([missing.status, (await missing.json()).error.code]).toEqual([404, 'NotFound']);

      expect(requests.filter((r) => !fromHere(r.url))).toEqual([]);
      expect(csp).toEqual([]);
      expect(taggerErrors).toEqual([]);
      await page.close();
    });

    it('shows the tagger status of an upload it could not label', async () => {
      const { page, requests } = await open();
      await page.setInputFiles('#file', {
        name: 'broken.jpg',
        mimeType: 'image/jpeg',
        buffer: Buffer.from('this is not a JPEG at all'),
      });
      await expect
        .poll(() => page.textContent('#status'), { timeout: 60_000 })
        .toBe('UnsupportedFormat: the tagger could not label broken.jpg');
      expect(await page.getAttribute('#status', 'class')).toBe('error');
      expect(s3Posts(requests)).toHaveLength(1);
      expect(await page.$$('#results .row')).toHaveLength(0);
      await page.close();
    });

    it('shows 415 and 413 from POST /uploads, and sends nothing to S3', async () => {
      const { page, requests } = await open();
      await page.setInputFiles('#file', {
        name: 'notes.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from('hello'),
      });
      await expect
        .poll(() => page.textContent('#status'), { timeout: 30_000 })
        .toMatch(/^UnsupportedFormat: /);
      expect(await page.getAttribute('#status', 'class')).toBe('error');
      await page.setInputFiles('#file', {
        name: 'huge.jpg',
        mimeType: 'image/jpeg',
        buffer: Buffer.alloc(MAX_BYTES + 1, 0xff),
      });
      await expect
        .poll(() => page.textContent('#status'), { timeout: 30_000 })
        .toBe(`ImageTooLarge: the file is ${MAX_BYTES + 1} bytes; the limit is ${MAX_BYTES} bytes`);
      expect(s3Posts(requests)).toEqual([]);
      await page.close();
    });

    it('finds images by label: thumbnails through presigned GET URLs, label and score on each, More pages on', async () => {
      // 25 more objects put by another S3 client: the same tagger labels them.
      const espresso = await readFile(photo('967-espresso.jpg'));
      for (let i = 0; i < 25; i++)
        await s3.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key: `${PREFIX}cafe/espresso-${String(i).padStart(2, '0')}.jpg`,
            Body: espresso,
            ContentType: 'image/jpeg',
          }),
        );
      await expect
        .poll(async () => (await fed.index.search(BUCKET, 'espresso', { limit: 100 })).items.length, {
          timeout: 60_000,
        })
        .toBe(25);

      const { page, requests, csp } = await open();
      await page.fill('#search', 'GOLDEN   retriever');
      await page.click('#go');
      await page.waitForSelector('#gallery .tile', { timeout: 30_000 });
      const tiles = () =>
        page.$$eval('#gallery .tile', (els) =>
          els.map((e) => ({
            label: e.querySelector('.label')?.textContent ?? '',
            score: e.querySelector('.score')?.textContent ?? '',
            file: e.querySelector('.file')?.textContent ?? '',
            src: e.querySelector('img')?.getAttribute('src') ?? '',
            loading: e.querySelector('img')?.getAttribute('loading') ?? '',
          })),
        );
      const retrievers = await tiles();
      expect(retrievers).toHaveLength(1);
      expect(retrievers[0]).toMatchObject({
        label: 'Golden Retriever',
        file: 'IMG_2041.jpg',
        loading: 'lazy',
      });
      expect(retrievers[0]?.score).toMatch(/^\d{1,3}\.\d%$/);
      expect(retrievers[0]?.src.startsWith(`${s3server.endpoint}/${BUCKET}/${PREFIX}`)).toBe(true);
      expect(new URL(retrievers[0]?.src ?? '').searchParams.get('X-Amz-Expires')).toBe('900');
      // The thumbnail really loads from the bucket (the CSP lets exactly that origin in).
      const img = page.locator('#gallery .tile img').first();
      await img.scrollIntoViewIfNeeded();
      await expect
        .poll(() => img.evaluate((e) => (e as HTMLImageElement).naturalWidth), { timeout: 30_000 })
        .toBe(4032);
      expect(await page.isHidden('#more')).toBe(true);

      await page.fill('#search', 'Espresso');
      await page.click('#go');
      await expect.poll(async () => (await tiles()).length, { timeout: 30_000 }).toBe(24);
      expect(await page.isVisible('#more')).toBe(true);
      expect(await page.textContent('#found')).toBe('24+ images labelled "Espresso", best first');
      await page.click('#more');
      await expect.poll(async () => (await tiles()).length, { timeout: 30_000 }).toBe(25);
      expect(await page.isHidden('#more')).toBe(true);
      const all = await tiles();
      expect(new Set(all.map((t) => t.file)).size).toBe(25);
      expect(all.every((t) => t.label === 'espresso')).toBe(true);
      const scores = all.map((t) => Number.parseFloat(t.score));
      expect([...scores].sort((a, b) => b - a)).toEqual(scores);
      expect(await page.textContent('#found')).toBe('25 images labelled "Espresso", best first');
      // The second page was asked for with the cursor of the first.
      const searches = requests
        .filter((r) => r.url.startsWith(`${server.url}/images?`))
        .map((r) => new URL(r.url))
        .filter((u) => u.searchParams.has('label'));
      expect(searches.map((u) => u.searchParams.get('label'))).toEqual([
        'GOLDEN   retriever',
        'Espresso',
        'Espresso',
      ]);
      expect(searches.map((u) => u.searchParams.get('cursor'))).toEqual([null, null, 'o24']);

      await page.fill('#search', 'okapi');
      await page.click('#go');
      await expect.poll(() => page.textContent('#found')).toBe('No image is labelled "okapi"');
      expect(await page.$$('#gallery .tile')).toHaveLength(0);

      expect(requests.filter((r) => !fromHere(r.url))).toEqual([]);
      expect(csp).toEqual([]);
      expect(taggerErrors).toEqual([]);
      await page.close();
    });

    it('typing "dog" suggests the category and finds the dog photo; 中文 shows 狗', async () => {
      const { page, csp } = await open();
      await page.locator('#search').pressSequentially('dog', { delay: 30 });
      await expect
        .poll(
          () => page.$$eval('#suggestions option', (os) => os.map((o) => (o as HTMLOptionElement).value)),
          {
            timeout: 10_000,
          },
        )
        .toContain('dog');
      await page.press('#search', 'Enter');
      await page.waitForSelector('#gallery .tile', { timeout: 30_000 });
      const tiles = await page.$$eval('#gallery .tile', (els) =>
        els.map((e) => ({
          label: e.querySelector('.label')?.textContent ?? '',
          file: e.querySelector('.file')?.textContent ?? '',
        })),
      );
      expect(tiles).toEqual([{ label: 'dog', file: 'IMG_2041.jpg' }]);
      expect(await page.textContent('#found')).toBe('1 image labelled "dog", best first');
      await page.click('#lang');
      await expect.poll(() => page.textContent('#gallery .tile .label')).toBe('狗');
      expect(await page.textContent('#go')).toBe('搜索');
      await page.click('#lang');
      expect(await page.textContent('#gallery .tile .label')).toBe('dog');
      expect(csp).toEqual([]);
      await page.close();
    });
  });
});
