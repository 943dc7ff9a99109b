/**
 * Copies on `npm start` (issue 25's done-when), first, on the same stack: the shared photos plus a
 * re-encoded, a resized and a cropped copy of three of them (made here with sharp) and a
 * byte-identical copy of one; each original's duplicates list its copies (near, and the identical one
 * exact), GET /duplicates shows three groups, search lists each photo once, and the photos most
 * similar to a dog are dogs.
 * Then a burst into the `npm start` stack (issue 16, item 1): 200 objects put into the local bucket at
 * once, the first thing a user tries (`aws s3 cp --recursive`). Before, every event invoked the
 * tagger at once, serverless-offline loaded the model in one worker per event and died; now the
 * events queue as Lambda's asynchronous invocations do (bounded concurrency, warm workers reused,
 * retries): all 200 are tagged, the stack stays up, and it loaded the model no more often than its
 * concurrency. And a key the local S3 cannot store (a segment over a file name's 255 bytes): 404 on
 * reads, 400 on writes, where it answered 500 and crashed the stack (item 10).
 */
import { readFile } from 'node:fs/promises';
import { GetObjectTaggingCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localS3Client } from '../../scripts/local/local-s3.ts';
import { type LocalStack, startLocalStack } from '../helpers/local-stack.ts';
import { photo, sharedModelFolder, sharedPhotos, skipUnlessShared } from '../helpers/shared.ts';

const BUCKET = 'image-tagger-dev-uploads-local';
const OBJECTS = 200;

describe.skipIf(skipUnlessShared('the npm start burst test'))('npm start: a burst of 200 uploads', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startLocalStack(['--model-dir', sharedModelFolder(), '--public']);
  }, 200_000);
  afterAll(() => stack?.stop(), 30_000);

  const tagged = (prefix: string) =>
    stack.output().match(new RegExp(`\\[start\\] tagger done for ObjectCreated:Put \\S+/${prefix}`, 'g'))
      ?.length ?? 0;
  /** Waits (bounded) until `n` uploads under uploads/<prefix> were tagged. */
  async function waitTagged(prefix: string, n: number) {
    for (let i = 0; i < 240 * 2 && tagged(prefix) < n && stack.child.exitCode === null; i++)
      await new Promise((r) => setTimeout(r, 500));
    expect(tagged(prefix), stack.output().slice(-3000)).toBeGreaterThanOrEqual(n);
  }
  const getJson = async (path: string) => {
    const res = await fetch(`${stack.base}${path}`);
    expect(res.status, path).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  };
  const put = async (key: string, body: Uint8Array<ArrayBuffer>) =>
    expect((await fetch(`${stack.s3}/${BUCKET}/${key}`, { method: 'PUT', body })).status).toBe(200);

  it('copies: duplicates of each original (near, and exact), three groups, search lists each photo once, dogs like a dog', async () => {
    const photos = sharedPhotos();
    const originals = ['207-Golden-Retriever.jpg', '407-ambulance.jpg', '967-espresso.jpg'];
    const key = (file: string) => `uploads/dups/${file}`;
    for (const p of photos) await put(key(p.file), new Uint8Array(await readFile(p.path)));
    await waitTagged('uploads/dups/', photos.length);
    // Copies are written a second later: S3's Last-Modified (to the second) makes the originals the oldest.
    await new Promise((r) => setTimeout(r, 1100));
    const copies = new Map<string, string[]>();
    for (const file of originals) {
      const bytes = await readFile(photo(file));
      const { width = 0, height = 0 } = await sharp(bytes).metadata();
      const made: [string, Buffer][] = [
        ['q40.jpg', await sharp(bytes).jpeg({ quality: 40 }).toBuffer()],
        [
          'half.jpg',
          await sharp(bytes)
            .resize(Math.round(width / 2))
            .jpeg({ quality: 85 })
            .toBuffer(),
        ],
        [
          'crop.png',
          await sharp(bytes)
            .extract({
              left: Math.round(width * 0.05),
              top: Math.round(height * 0.05),
              width: Math.round(width * 0.9),
              height: Math.round(height * 0.9),
            })
            .png()
            .toBuffer(),
        ],
      ];
      if (file === originals[0]) made.push(['same.jpg', bytes]);
      const keys = made.map(([suffix]) => `uploads/dups-copies/${file}.${suffix}`);
      copies.set(key(file), keys);
      for (const [i, [, body]] of made.entries()) await put(keys[i] as string, new Uint8Array(body));
    }
    await waitTagged('uploads/dups-copies/', 10);

    type Copy = { key: string; tier: string; similarity: number };
    for (const [original, keys] of copies) {
      const { items } = (await getJson(`/image/duplicates?key=${encodeURIComponent(original)}`)) as {
        items: Copy[];
      };
      expect(items.map((i) => i.key).sort(), original).toEqual([...keys].sort());
      for (const item of items) {
        expect(item.tier, item.key).toBe(item.key.endsWith('.same.jpg') ? 'exact' : 'near');
        expect(item.similarity, item.key).toBeGreaterThanOrEqual(0.8);
      }
    }

    type Group = { id: string; size: number; items: (Copy & { url: string; top?: string })[] };
    const { groups, cursor } = (await getJson('/duplicates')) as { groups: Group[]; cursor?: string };
    expect(cursor).toBeUndefined();
    expect(groups).toHaveLength(3);
    for (const g of groups) {
      const [first, ...rest] = g.items;
      const members = copies.get(first?.key ?? '');
      expect(members, `group ${g.id} starts with an original`).toBeDefined();
      expect(rest.map((i) => i.key).sort()).toEqual([...(members ?? [])].sort());
      expect(g.size).toBe(g.items.length);
      expect(first).toMatchObject({ tier: 'exact', similarity: 1 });
      expect(first?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    }

    // Search lists the retriever once, with its copies counted (and all of them with copies=all).
    const dogs = (await getJson('/images?label=dog&limit=100')) as {
      items: { key: string; copies?: number; copyKeys?: string[] }[];
    };
    const retriever = dogs.items.find((i) => i.key === key(originals[0] as string));
    expect(retriever?.copies).toBeGreaterThanOrEqual(3);
    expect(dogs.items.some((i) => i.key.startsWith('uploads/dups-copies/'))).toBe(false);
    const every = (await getJson('/images?label=dog&limit=100&copies=all')) as { items: { key: string }[] };
    expect(every.items.length).toBe(dogs.items.length + (retriever?.copies ?? 0));

    // Photos like a dog: other dogs first, its copies left out (counted) unless copies=all asks for them.
    const dogFiles = new Set(
      photos.filter((p) => p.classIndex >= 151 && p.classIndex <= 268).map((p) => key(p.file)),
    );
    const retrieverKey = key(originals[0] as string);
    const itsCopies = [...(copies.get(retrieverKey) ?? [])].sort();
    type Like = { items: { key: string; tier?: string }[]; copies?: number };
    const like = (await getJson(`/image/similar?key=${encodeURIComponent(retrieverKey)}&limit=12`)) as Like;
    expect(like.copies).toBe(itsCopies.length);
    expect(like.items.filter((i) => itsCopies.includes(i.key))).toEqual([]);
    expect(like.items[0] && dogFiles.has(like.items[0].key), JSON.stringify(like.items.slice(0, 3))).toBe(
      true,
    );
    const all = (await getJson(
      `/image/similar?key=${encodeURIComponent(retrieverKey)}&limit=12&copies=all`,
    )) as Like;
    expect(
      all.items
        .slice(0, itsCopies.length)
        .map((i) => i.key)
        .sort(),
    ).toEqual(itsCopies);
    expect(all.items.slice(0, itsCopies.length).every((i) => i.tier === 'exact' || i.tier === 'near')).toBe(
      true,
    );
  }, 600_000);

  it('tags all 200 with the stack alive, with at most its concurrency of tagger workers', async () => {
    const bytes = new Uint8Array(await readFile(photo('207-Golden-Retriever.jpg')));
    const keys = Array.from({ length: OBJECTS }, (_, i) => `uploads/burst/${i}.jpg`);
    const puts = await Promise.all(
      keys.map((key) => fetch(`${stack.s3}/${BUCKET}/${key}`, { method: 'PUT', body: bytes })),
    );
    expect(puts.map((r) => r.status)).toEqual(Array(OBJECTS).fill(200));

    const done = () => tagged('uploads/burst/');
    for (let i = 0; i < 240 * 2 && done() < OBJECTS && stack.child.exitCode === null; i++)
      await new Promise((r) => setTimeout(r, 500));
    expect(stack.child.exitCode, stack.output().slice(-3000)).toBeNull();
    expect(done()).toBe(OBJECTS);

    const s3 = localS3Client(stack.s3);
    try {
      const tops = await Promise.all(
        keys.map(async (Key) => {
          const { TagSet = [] } = await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key }));
          return TagSet.find((t) => t.Key === 'tagger:top')?.Value;
        }),
      );
      expect(tops).toEqual(Array(OBJECTS).fill('Golden Retriever'));
    } finally {
      s3.destroy();
    }
    const health = await fetch(`${stack.base}/health`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { status?: string }).status).toBe('ok');

    const output = stack.output();
    const concurrency = Number(output.match(/S3 events run at most (\d+) at a time/)?.[1]);
    expect(concurrency).toBeGreaterThanOrEqual(1);
    // Each serverless-offline worker logs "classifier ready" once, when it loads the model (npm
    // start prints Powertools' line compacted: "[tagger] classifier ready model=...").
    const taggerWorkers = output.split('\n').filter((l) => l.startsWith('[tagger] classifier ready')).length;
    expect(taggerWorkers).toBeGreaterThanOrEqual(1);
    expect(taggerWorkers).toBeLessThanOrEqual(concurrency);
    expect(output).not.toContain('FAILURE QUEUE');
  }, 300_000);

  it('a key segment too long for the local S3: GET /image answers 404, a PUT 400, the stack stays up', async () => {
    const key = `uploads/${'a'.repeat(300)}.jpg`;
    const image = await fetch(`${stack.base}/image?key=${key}`);
    expect(image.status).toBe(404);
    expect(((await image.json()) as { error?: { code?: string } }).error?.code).toBe('NotFound');
    const put = await fetch(`${stack.s3}/${BUCKET}/${key}`, { method: 'PUT', body: 'x' });
    expect(put.status).toBe(400);
    expect(await put.text()).toContain('<Code>KeyTooLongError</Code>');
    expect((await fetch(`${stack.base}/health`)).status).toBe(200);
    expect(stack.child.exitCode).toBeNull();
  });
});
