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

import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
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
import { TAG_NAMES } from '../../src/tagging/tags.ts';
import {
  dropFiles,
  latinWords,
  launchChromium,
  resultRows,
  screenshot,
  skipUnlessChromium,
} from '../helpers/browser.ts';
import { type LocalServer, startLocalServer } from '../helpers/local-server.ts';
import { MemoryVectors } from '../helpers/memory-vectors.ts';
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
  /** Every outcome, in order: what a failing test prints about the tagger. */
  const seen: string[] = [];
  const record = (outcomes: TagOutcome[]) => {
    for (const o of outcomes) seen.push(`${o.key}: ${o.result}${'status' in o ? ` ${o.status}` : ''}`);
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
  return { index, record, seen };
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
      expect(await page.textContent('#model')).toMatch(
        /^Model mobilenetv2-int8 \(version 1, 8-bit integer weights\), recognises 1000 kinds of things$/,
      );

      await page.setInputFiles('#file', photo('207-Golden-Retriever.jpg'));
      await page.waitForSelector('#uploads .card.done .results .row:nth-child(3)', { timeout: 30_000 });
      // The page stacks model line, drop zone, status and the file's card without overlapping.
      const boxes = await Promise.all(
        ['#model', '#drop', '#status', '#uploads'].map((s) => page.locator(s).boundingBox()),
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
      expect(await page.textContent('#uploads .card .timing')).toMatch(/^Inference \d+\.\d ms/);
      expect(await page.getAttribute('#uploads .card .thumb', 'src')).toMatch(/^blob:/);
      expect(await page.textContent('#status')).toBe('Top 3 labels for 207-Golden-Retriever.jpg');

      // Drag and drop: a real File in a DataTransfer, dropped on the drop zone; its card comes first.
      await dropFiles(page, '#drop', [
        { name: 'espresso.jpg', mimeType: 'image/jpeg', buffer: await readFile(photo('967-espresso.jpg')) },
      ]);
      await expect
        .poll(() => page.textContent('#uploads .card:first-child .results .row:first-child .label'), {
          timeout: 30_000,
        })
        .toBe('espresso');
      expect(await resultRows(page, '#uploads .card:first-child')).toHaveLength(3);
      expect(await page.$$('#uploads .card')).toHaveLength(2);
      expect(await page.textContent('#status')).toContain('espresso.jpg');

      // Everything the page loaded came from the local server (no CDN).
      expect(requests.every((u) => u.startsWith(server.url) || u.startsWith('blob:'))).toBe(true);
      await page.close();
    });

    it('refuses a file that is not an image on its card, and shows no broken image for a bad .jpg', async () => {
      const page = await browser.newPage();
      const posts: string[] = [];
      page.on('request', (r) => void (r.method() === 'POST' && posts.push(r.url())));
      await page.goto(`${server.url}/`);
      await page.setInputFiles('#file', [
        { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') },
        { name: 'fake.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('this is not a JPEG at all') },
      ]);
      await expect
        .poll(() => page.$$eval('#uploads .card.failed', (cs) => cs.length), { timeout: 30_000 })
        .toBe(2);
      const states = await page.$$eval('#uploads .card .state', (els) => els.map((e) => e.textContent));
      expect(states).toContainEqual(expect.stringMatching(/^NotAnImage: notes\.txt is not an image/));
      expect(states).toContainEqual(expect.stringMatching(/^UnsupportedFormat: /));
      // Only the .jpg went to the server; neither card shows an image (nor a broken one).
      expect(posts).toEqual([`${server.url}/classify?topK=3`]);
      expect(await page.$$('#uploads img')).toHaveLength(0);
      expect(await page.$$eval('#uploads .nothumb', (els) => els.map((e) => e.textContent))).toEqual([
        'no preview',
        'no preview',
      ]);
      expect(await page.textContent('#status')).toBe('0 of 2 files labelled, 2 failed');
      await screenshot(page, 'browser', 'classify-not-images');
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

  // Each test waits up to 60-90 s for the tagger on a loaded machine (the page's own limit is 60 s).
  describe('with the image routes: upload straight to a local S3, tagged, found by search', {
    timeout: 180_000,
  }, () => {
    let dir: string;
    let s3server: LocalS3;
    let s3: S3Client;
    let server: LocalServer;
    let big: Buffer;
    const fed = outcomeIndex();
    /** The vector index of the API (the tagger's vector writes have their own tests: the test puts them). */
    let vectors: MemoryVectors;
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
      vectors = new MemoryVectors(classifier.folder.meta.embedding?.dimension ?? 1);
      server = await startLocalServer(
        createApi({
          classifier,
          images: {
            ...taggerSettings({ UPLOAD_PREFIX: PREFIX }),
            bucket: BUCKET,
            index: fed.index,
            store,
            signer: s3UploadSigner(s3, BUCKET),
            vectors,
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
      // Done or failed (the page gives up after 60 s without tags); a failure says what the card and the tagger saw.
      const card = await page.waitForSelector('#uploads .card.done, #uploads .card.failed', {
        timeout: 90_000,
      });
      const state = await card.evaluate((c) => ({ done: c.classList.contains('done'), text: c.textContent }));
      expect(state.done, `card: ${state.text}; tagger: ${fed.seen.join(', ') || 'no outcome'}`).toBe(true);
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
      expect(
        await page.$$eval('#uploads .card .categories .chip', (cs) => cs.map((c) => c.textContent)),
      ).toContainEqual(expect.stringMatching(/^dog \d+%$/));
      const timing = await page.textContent('#uploads .card .timing');
      console.log(`page upload of a ${big.length}-byte photo: ${timing}`);
      expect(timing).toMatch(
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

      // The bucket holds the whole file, and the API reads the tagger's tags from it, with Chinese names.
      const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      expect([head.ContentLength, head.ContentType]).toEqual([big.length, 'image/jpeg']);
      const info = await (await fetch(`${server.url}/image?${new URLSearchParams({ key })}`)).json();
      expect(info).toMatchObject({ key, status: 'ok', top: 'Golden Retriever', model: 'mobilenetv2-int8@1' });
      expect(info.labels.map((l: { label: string }) => l.label)).toEqual(rows.map((r) => r.label));
      expect(info.labels[0].zh).toBe('金毛猎犬');
      expect(info.categories).toContainEqual(expect.objectContaining({ label: 'dog', zh: '狗' }));
      // A key with no object is 404 through the real S3 adapter (NoSuchKey), not a fault.
      const missing = await fetch(`${server.url}/image?key=${PREFIX}no-such/photo.jpg`);
      expect([missing.status, (await missing.json()).error.code]).toEqual([404, 'NotFound']);

      expect(requests.filter((r) => !fromHere(r.url))).toEqual([]);
      expect(csp).toEqual([]);
      expect(taggerErrors).toEqual([]);
      await page.close();
    });

    it('shows the tagger status of an upload it could not label, with no broken image', async () => {
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
      expect(await page.textContent('#uploads .card .state')).toBe(
        'UnsupportedFormat: the tagger could not label broken.jpg',
      );
      expect(s3Posts(requests)).toHaveLength(1);
      expect(await page.$$('#uploads .results .row')).toHaveLength(0);
      expect(await page.$$('#uploads img')).toHaveLength(0);
      expect(await page.textContent('#uploads .nothumb')).toBe('no preview');

      // Its detail view says so too, and shows no image.
      await page.click('#uploads .card a.open');
      await expect
        .poll(() => page.textContent('#detail-status'))
        .toBe('UnsupportedFormat: the tagger could not label broken.jpg');
      expect(await page.isHidden('#detail-image')).toBe(true);
      await screenshot(page, 'browser', 'not-an-image');
      await page.close();
    });

    it('refuses a text file on its card and shows 413 from POST /uploads on the other, sending nothing to S3', async () => {
      const { page, requests } = await open();
      await page.setInputFiles('#file', [
        { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') },
        { name: 'huge.jpg', mimeType: 'image/jpeg', buffer: Buffer.alloc(MAX_BYTES + 1, 0xff) },
      ]);
      await expect
        .poll(() => page.$$eval('#uploads .card.failed .state', (els) => els.map((e) => e.textContent)), {
          timeout: 30_000,
        })
        .toEqual([
          'NotAnImage: notes.txt is not an image (JPEG, PNG, WebP, GIF, AVIF or TIFF); it was not sent',
          `ImageTooLarge: the file is ${MAX_BYTES + 1} bytes; the limit is ${MAX_BYTES} bytes`,
        ]);
      expect(requests.filter((r) => r.url === `${server.url}/uploads`)).toHaveLength(1);
      expect(s3Posts(requests)).toEqual([]);
      await page.close();
    });

    it('tags every one of five photos dropped at once; a text file among them fails alone', async () => {
      const { page, requests, csp } = await open();
      const names = [
        '107-jellyfish.jpg',
        '147-grey-whale.jpg',
        '407-ambulance.jpg',
        '547-electric-locomotive.jpg',
        '947-mushroom.jpg',
      ];
      const files = await Promise.all(
        names.map(async (name) => ({ name, mimeType: 'image/jpeg', buffer: await readFile(photo(name)) })),
      );
      await dropFiles(page, '#drop', [
        ...files.slice(0, 2),
        { name: 'readme.txt', mimeType: 'text/plain', buffer: Buffer.from('not a photo') },
        ...files.slice(2),
      ]);
      expect(await page.$$('#uploads .card')).toHaveLength(6);
      await expect
        .poll(() => page.$$eval('#uploads .card.done', (cs) => cs.length), { timeout: 90_000 })
        .toBe(5);
      expect(await page.textContent('#status')).toBe('5 of 6 files tagged, 1 failed');
      const cards = await page.$$eval('#uploads .card', (cs) =>
        cs.map((c) => ({
          file: c.querySelector('.file')?.textContent ?? '',
          state: c.getAttribute('data-state'),
          rows: c.querySelectorAll('.results .row').length,
          thumb: c.querySelector('img.thumb')?.getAttribute('src') ?? '',
        })),
      );
      expect(cards.map((c) => c.file)).toEqual([...names.slice(0, 2), 'readme.txt', ...names.slice(2)]);
      for (const c of cards)
        if (c.file === 'readme.txt') expect([c.state, c.rows, c.thumb]).toEqual(['failed', 0, '']);
        else {
          expect(c.state).toBe('done');
          expect(c.rows).toBeGreaterThanOrEqual(1);
          expect(c.thumb).toMatch(/^blob:/);
        }
      // Each card shows its own photo's top label (what the classifier says of that file).
      const tops = await page.$$eval('#uploads .card.done', (cs) =>
        cs.map((c) => c.querySelector('.results .row .label')?.textContent ?? ''),
      );
      const expected = [];
      for (const f of files)
        expected.push((await classifier.classify(f.buffer, { topK: 1 })).labels[0]?.label);
      expect(tops).toEqual(expected);
      expect(tops).toContain('grey whale');
      expect(s3Posts(requests)).toHaveLength(5);
      await screenshot(page, 'browser', 'five-photos');
      expect(csp).toEqual([]);
      expect(taggerErrors).toEqual([]);
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
        .poll(
          async () =>
            (await fed.index.search(BUCKET, normalizeLabel('espresso'), { limit: 100 })).items.length,
          {
            timeout: 60_000,
          },
        )
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
      // Several words go as q=, one as label=; the second page was asked for with the cursor of the first.
      const searches = requests
        .filter((r) => r.url.startsWith(`${server.url}/images?`))
        .map((r) => new URL(r.url))
        .filter((u) => u.searchParams.has('label') || u.searchParams.has('q'));
      // Several words go as q= (answered as label= when they name one thing), one word as label=.
      expect(searches.map((u) => [...u.searchParams].find(([k]) => k === 'label' || k === 'q'))).toEqual([
        ['q', 'GOLDEN   retriever'],
        ['label', 'Espresso'],
        ['label', 'Espresso'],
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

    it("opens a tile in its own detail view (own URL, back button, shareable) with the user's tags", async () => {
      // An object uploaded with the user's own tags, as POST /uploads' `tagging` stores them.
      const key = `${PREFIX}trip/dessert.jpg`;
      await s3.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: key,
          Body: await readFile(photo('927-trifle.jpg')),
          ContentType: 'image/jpeg',
          Tagging: 'album=Lisbon%20trip&by=Ana',
        }),
      );
      await expect
        .poll(
          async () => (await fed.index.search(BUCKET, normalizeLabel('trifle'), { limit: 10 })).items.length,
          {
            timeout: 60_000,
          },
        )
        .toBe(1);
      const { page, csp } = await open();
      await page.fill('#search', 'trifle');
      await page.click('#go');
      await page.waitForSelector('#gallery .tile a', { timeout: 30_000 });
      await page.click('#gallery .tile a');
      await expect.poll(() => page.url()).toBe(`${server.url}/?${new URLSearchParams({ image: key })}`);
      await expect.poll(() => page.textContent('#detail-status'), { timeout: 30_000 }).toBe('Tagged');
      expect(await page.isHidden('#home')).toBe(true);
      expect(await page.textContent('#detail-name')).toBe('dessert.jpg');
      expect((await resultRows(page, '#detail'))[0]?.label).toBe('trifle');
      expect(
        await page.$$eval('#detail-tags dt, #detail-tags dd', (els) => els.map((e) => e.textContent)),
      ).toEqual(['album', 'Lisbon trip', 'by', 'Ana']);
      expect(await page.textContent('#detail-model')).toBe('Tagged by model mobilenetv2-int8@1');
      expect(await page.title()).toBe('dessert.jpg · Image tagger');
      const image = page.locator('#detail-image');
      await expect
        .poll(() => image.evaluate((e) => (e as HTMLImageElement).naturalWidth), { timeout: 30_000 })
        .toBeGreaterThan(0);
      // Room for what later features add: the sections are there, hidden until they have something.
      expect(
        await page.$$eval('#detail [data-part]', (els) =>
          els.map((e) => [e.getAttribute('data-part'), (e as HTMLElement).hidden]),
        ),
      ).toEqual([
        ['similar', true],
        ['duplicates', true],
        ['colours', false],
        ['names', true],
      ]);
      // The trifle's dominant colours (5% or more of it), each a swatch with its name and share.
      const swatches = await page.$$eval('#part-colours .swatch', (els) =>
        els.map((e) => [(e as HTMLElement).dataset.colour, e.textContent]),
      );
      expect(swatches.length).toBeGreaterThanOrEqual(2);
      for (const [name, text] of swatches) expect(text).toMatch(new RegExp(`^${name} \\d+%$`));
      expect(swatches.map(([name]) => name)).toContain('grey');
      await screenshot(page, 'browser', 'detail');

      // The back button returns to the search results as they were.
      await page.goBack();
      await expect.poll(() => page.isVisible('#gallery .tile')).toBe(true);
      expect(page.url()).toBe(`${server.url}/`);
      expect(await page.textContent('#found')).toBe('1 image labelled "trifle", best first');
      expect(await page.isHidden('#detail')).toBe(true);
      await page.goForward();
      await expect.poll(() => page.textContent('#detail-name')).toBe('dessert.jpg');

      // The URL shared: a new page opens straight on the detail view; its back link goes home.
      const shared = await browser.newPage();
      await shared.goto(`${server.url}/?${new URLSearchParams({ image: key })}`);
      await expect.poll(() => shared.textContent('#detail-status'), { timeout: 30_000 }).toBe('Tagged');
      expect((await resultRows(shared, '#detail'))[0]?.label).toBe('trifle');
      await shared.click('#back');
      await expect.poll(() => shared.isVisible('#drop')).toBe(true);
      expect(shared.url()).toBe(`${server.url}/`);
      // A key that names no object says so.
      await shared.goto(`${server.url}/?${new URLSearchParams({ image: `${PREFIX}gone/nothing.jpg` })}`);
      await expect
        .poll(() => shared.textContent('#detail-status'), { timeout: 30_000 })
        .toMatch(/^NotFound: /);
      expect(await shared.isHidden('#detail-image')).toBe(true);
      await shared.close();
      expect(csp).toEqual([]);
      await page.close();
    });

    it('typing "dog" suggests the category and finds the dog photo; a dog uploaded next joins the results', async () => {
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
      const tiles = () =>
        page.$$eval('#gallery .tile', (els) =>
          els.map((e) => ({
            label: e.querySelector('.label')?.textContent ?? '',
            file: e.querySelector('.file')?.textContent ?? '',
          })),
        );
      expect(await tiles()).toEqual([{ label: 'dog', file: 'IMG_2041.jpg' }]);
      expect(await page.textContent('#found')).toBe('1 image labelled "dog", best first');

      // The list does not go stale: the upload's tags arrive and the search runs again by itself.
      await page.setInputFiles('#file', photo('187-Yorkshire-Terrier.jpg'));
      await expect.poll(async () => (await tiles()).length, { timeout: 60_000 }).toBe(2);
      expect((await tiles()).map((t) => t.file).sort()).toEqual([
        '187-Yorkshire-Terrier.jpg',
        'IMG_2041.jpg',
      ]);
      expect(await page.textContent('#found')).toBe('2 images labelled "dog", best first');
      await screenshot(page, 'browser', 'stale-list-refreshed');
      expect(csp).toEqual([]);
      await page.close();
    });

    it("中文: every word in Chinese (but file names and the model's name), remembered across visits", async () => {
      const { page, csp } = await open();
      await page.click('#lang');
      await page.reload();
      await expect.poll(() => page.textContent('#lang')).toBe('English');
      await expect.poll(() => page.textContent('#model')).toMatch(/^模型 mobilenetv2-int8（第 1 版/);
      expect(await page.getAttribute('html', 'lang')).toBe('zh-Hans');
      // The switch back names its language in that language, as bilingual sites do.
      const allowed = ['mobilenetv2-int8@1', 'mobilenetv2-int8', 'KB', 'MB', 'English'];
      const files = ['287-lynx.jpg', 'bad.jpg', 'notes.txt', 'IMG_2041.jpg', '187-Yorkshire-Terrier.jpg'];
      await page.setInputFiles('#file', [
        { name: '287-lynx.jpg', mimeType: 'image/jpeg', buffer: await readFile(photo('287-lynx.jpg')) },
        { name: 'bad.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not a JPEG') },
        { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') },
      ]);
      await expect
        .poll(() => page.textContent('#status'), { timeout: 60_000 })
        .toBe('已标注 1 / 3 个文件，失败 2 个');
      expect(await page.$$eval('#uploads .card .state', (els) => els.map((e) => e.textContent))).toEqual([
        expect.stringMatching(/^287-lynx\.jpg 的前 \d 个标签$/),
        '无法识别：不支持的格式：只能识别常见的图片格式',
        '不是图片文件，没有上传',
      ]);
      expect(await page.textContent('#uploads .card .timing')).toMatch(
        /^由模型 mobilenetv2-int8@1 标注：上传 \d+\.\d 秒，之后 \d+\.\d 秒得到标签（\d+ KB）$/,
      );
      await page.fill('#search', '狗');
      await page.click('#go');
      await expect
        .poll(() => page.textContent('#found'), { timeout: 30_000 })
        .toBe('找到 2 张标注为“狗”的图片，按得分排序');
      expect(await page.$$eval('#gallery .tile .label', (els) => els.map((e) => e.textContent))).toEqual([
        '狗',
        '狗',
      ]);
      expect(await latinWords(page, [...files, ...allowed])).toEqual([]);
      await screenshot(page, 'browser', 'zh-home');

      await page.click('#gallery .tile a');
      await expect.poll(() => page.textContent('#detail-status'), { timeout: 30_000 }).toBe('已标注');
      expect(await page.textContent('#back')).toBe('← 全部图片');
      expect(await page.textContent('#detail-model')).toBe('标注模型：mobilenetv2-int8@1');
      expect(await page.textContent('#detail-categories')).toContain('狗');
      expect(await latinWords(page, [...files, ...allowed])).toEqual([]);
      // A taught name of 64 letters and no space (the longest a name may be) wraps at 390 px too.
      const long = 'w'.repeat(64);
      const key = new URL(page.url()).searchParams.get('image') ?? '';
      const { TagSet = [] } = await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }));
      await s3.send(
        new PutObjectTaggingCommand({
          Bucket: BUCKET,
          Key: key,
          Tagging: { TagSet: [...TagSet, { Key: TAG_NAMES, Value: `${long}=0.912` }] },
        }),
      );
      await page.reload();
      await expect.poll(() => page.textContent('#part-names .row .label'), { timeout: 30_000 }).toBe(long);
      await page.setViewportSize({ width: 390, height: 844 });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await screenshot(page, 'browser', 'zh-detail-390px');
      // A search that finds nothing, and an image that is not there, in Chinese too.
      await page.goto(`${server.url}/?${new URLSearchParams({ image: `${PREFIX}gone/nothing.jpg` })}`);
      await expect.poll(() => page.textContent('#detail-status'), { timeout: 30_000 }).toBe('找不到这张图片');
      expect(await latinWords(page, ['nothing.jpg', ...allowed])).toEqual([]);
      await page.click('#back');
      await page.fill('#search', 'giant panda');
      await page.click('#go');
      await expect.poll(() => page.textContent('#found')).toBe('没有标注为“大熊猫”的图片');
      expect(await latinWords(page, allowed)).toEqual([]);
      expect(csp).toEqual([]);
      await page.close();
    });

    it('the detail view shows an edited copy under Duplicates and a strip of similar images, in English and Chinese', async () => {
      const retriever = await readFile(photo('207-Golden-Retriever.jpg'));
      const photos: [string, Uint8Array][] = [
        [`${PREFIX}like/retriever.jpg`, retriever],
        [
          `${PREFIX}like/retriever-small.jpg`,
          await sharp(retriever).resize(240).jpeg({ quality: 70 }).toBuffer(),
        ],
        [`${PREFIX}like/poodle.jpg`, await readFile(photo('267-Standard-Poodle.jpg'))],
        [`${PREFIX}like/espresso.jpg`, await readFile(photo('967-espresso.jpg'))],
      ];
      const topLabel = new Map<string, string | undefined>();
      for (const [key, body] of photos) {
        await s3.send(
          new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: 'image/jpeg' }),
        );
        const c = await classifier.classify(body);
        topLabel.set(key.slice(key.lastIndexOf('/') + 1), c.labels[0]?.label);
        await vectors.put([
          {
            key,
            vector: c.embedding as Float32Array,
            metadata: {
              etag: 'e',
              model: 'mobilenetv2-int8@1',
              labels: c.labels.map((l) => normalizeLabel(l.label)),
              categories: (c.categories ?? []).map((l) => normalizeLabel(l.label)),
              sha256: createHash('sha256').update(body).digest('hex'),
            },
          },
        ]);
      }
      const page = await browser.newPage();
      await page.goto(`${server.url}/?${new URLSearchParams({ image: `${PREFIX}like/retriever.jpg` })}`);
      await expect.poll(() => page.textContent('#detail-status'), { timeout: 60_000 }).toBe('Tagged');
      await expect.poll(() => page.isVisible('#part-duplicates .tile'), { timeout: 30_000 }).toBe(true);
      const tiles = (part: string) =>
        page.$$eval(`#part-${part} .tile`, (els) =>
          els.map((e) => [e.querySelector('.label')?.textContent, e.querySelector('.file')?.textContent]),
        );
      expect(await tiles('duplicates')).toEqual([['edited copy', 'retriever-small.jpg']]);
      await expect.poll(() => page.isVisible('#part-similar .tile')).toBe(true);
      const similar = await tiles('similar');
      // Itself and its copy left out (a line leads to the copy); the other dog before the coffee.
      expect(similar.map(([, file]) => file)).toEqual(['poodle.jpg', 'espresso.jpg']);
      expect(similar[0]?.[0]).toBe(normalizeLabel(topLabel.get('poodle.jpg') ?? ''));
      expect(await page.textContent('#part-similar .copies-note')).toBe(
        'Its copy is not repeated here: see Duplicates below',
      );
      await screenshot(page, 'browser', 'detail-similar');
      // A tile opens its own detail view, whose copies list the original.
      await page.click('#part-duplicates .tile a');
      await expect.poll(() => page.textContent('#detail-name')).toBe('retriever-small.jpg');
      await expect
        .poll(async () => (await tiles('duplicates')).map(([, file]) => file), { timeout: 30_000 })
        .toEqual(['retriever.jpg']);
      await page.click('#lang');
      await expect
        .poll(async () => (await tiles('duplicates'))[0]?.[0], { timeout: 30_000 })
        .toBe('修改过的副本');
      expect(await page.textContent('#part-similar h3')).toBe('相似图片');
      expect(await page.textContent('#part-duplicates h3')).toBe('重复图片');
      await expect.poll(async () => (await tiles('similar'))[0]?.[0]).toMatch(/^\p{Script=Han}+$/u);
      expect(await page.textContent('#part-similar .copies-note')).toBe(
        '这张照片的 1 个副本不在这里重复列出：见下方的“重复图片”',
      );
      await page.click('#lang');

      // A photo dropped on the search box finds the stored images like it (POST /similar stores nothing).
      await page.goto(`${server.url}/`);
      await expect.poll(() => page.isVisible('#find')).toBe(true);
      const before = vectors.vectors.size;
      await dropFiles(page, '#search-form', [
        { name: 'query.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(photos[1]?.[1] as Uint8Array) },
      ]);
      await expect
        .poll(() => page.textContent('#found'), { timeout: 30_000 })
        .toBe('4 images like query.jpg, most similar first');
      const found = await page.$$eval('#gallery .tile', (els) =>
        els.map((e) => [
          e.querySelector('.label')?.textContent,
          e.querySelector('.score')?.textContent,
          e.querySelector('.file')?.textContent,
        ]),
      );
      expect(found.slice(0, 3)).toEqual([
        ['golden retriever', '100%', 'retriever-small.jpg'],
        ['golden retriever', expect.stringMatching(/^9\d%$/), 'retriever.jpg'],
        [expect.any(String), expect.any(String), 'poodle.jpg'],
      ]);
      expect(vectors.vectors.size).toBe(before);
      await page.close();
    });
  });
});
