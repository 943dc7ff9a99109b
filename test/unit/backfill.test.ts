/**
 * The backfill's rules against fakes at its ports: an in-memory store (MemoryStore), the fake
 * classifier (model fake@1), a listing over the store's keys in S3 order with small pages, and a
 * checkpoint kept in memory.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { taggerSettings } from '../../src/settings.ts';
import { normalizeLabel } from '../../src/tagging/label-index.ts';
import type { Tag } from '../../src/tagging/tags.ts';
import {
  type BackfillOptions,
  backfill,
  type Checkpoint,
  type CheckpointStore,
  checkpointPath,
  compareModelVersions,
  fileCheckpoint,
  parseModelRef,
  select,
} from '../../tools/backfill/backfill.ts';
import { type BucketListing, s3BucketListing } from '../../tools/backfill/bucket-listing.ts';
import { limitVectorWrites } from '../../tools/backfill/vector-writes.ts';
import { type FakeClassifier, fakeClassifier, MemoryStore } from '../helpers/fakes.ts';
import { MemoryIndex } from '../helpers/memory-index.ts';
import {
  EMBEDDING_DIMENSION,
  fakeEmbedding,
  MemoryVectors,
  withEmbedding,
} from '../helpers/memory-vectors.ts';

const BUCKET = 'b';
const ok = (model = 'fake@1'): Tag[] => [
  { Key: 'tagger:status', Value: 'ok' },
  { Key: 'tagger:model', Value: model },
];

/** Lists the store's keys of BUCKET in S3 order (UTF-8 binary), `pageSize` a page; records each call. */
function memoryListing(store: MemoryStore, pageSize = 2) {
  const calls: { prefix: string; startAfter?: string }[] = [];
  const listing: BucketListing = {
    async *pages(bucket, prefix, startAfter) {
      calls.push({ prefix, ...(startAfter !== undefined ? { startAfter } : {}) });
      const keys = [...store.objects.keys()]
        .filter((k) => k.startsWith(`${bucket}/`))
        .map((k) => k.slice(bucket.length + 1))
        .filter(
          (k) =>
            k.startsWith(prefix) &&
            (startAfter === undefined || Buffer.compare(Buffer.from(k), Buffer.from(startAfter)) > 0),
        )
        .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (let i = 0; i < keys.length; i += pageSize)
        yield keys.slice(i, i + pageSize).map((key) => {
          const object = store.objects.get(`${bucket}/${key}`);
          return { key, size: object?.bytes.length, etag: object?.etag };
        });
    },
  };
  return { listing, calls };
}

function memoryCheckpoint() {
  const saves: Checkpoint[] = [];
  let current: Checkpoint | undefined;
  let cleared = 0;
  const store: CheckpointStore = {
    load: async () => (current ? structuredClone(current) : undefined),
    save: async (c) => {
      current = structuredClone(c);
      saves.push(current);
    },
    clear: async () => {
      current = undefined;
      cleared++;
    },
  };
  return { store, saves, current: () => current, cleared: () => cleared };
}

function setup(store = new MemoryStore(), classifier: FakeClassifier = fakeClassifier()) {
  const { listing, calls } = memoryListing(store);
  const checkpoint = memoryCheckpoint();
  const run = (o: Partial<BackfillOptions> = {}) =>
    backfill({
      tagger: { store, classifier, ...taggerSettings({}) },
      listing,
      bucket: BUCKET,
      checkpoint: checkpoint.store,
      concurrency: 3,
      ...o,
    });
  return { store, classifier, listing, listingCalls: calls, checkpoint, run };
}

const image = (n: number) => Uint8Array.of(10 + n, 1, 2, 3);
const ops = (calls: string[], op: string) =>
  calls.filter((c) => c.startsWith(`${op} `)).map((c) => c.slice(op.length + 1));

describe('model versions', () => {
  it('parses name@version at the last @', () => {
    expect(parseModelRef('resnet18@2')).toEqual({ name: 'resnet18', version: '2' });
    expect(parseModelRef('org@model@1.2')).toEqual({ name: 'org@model', version: '1.2' });
    for (const bad of ['resnet18', '@2', 'resnet18@', ''])
      expect(() => parseModelRef(bad), bad).toThrow(/model>@<version/);
  });

  it('compares versions numerically, part by part', () => {
    expect(compareModelVersions('1.9', '1.10')).toBe(-1);
    expect(compareModelVersions('10', '9')).toBe(1);
    expect(compareModelVersions('2', '2.0')).toBe(0);
    expect(compareModelVersions('v2', '2')).toBe(0);
    expect(compareModelVersions('1.0-beta', '1.0')).toBe(-1); // missing parts are 0, text ranks below a number: a pre-release is older
    expect(compareModelVersions('1.beta', '1.0')).toBe(-1);
    expect(compareModelVersions('2026-01-05', '2026-01-12')).toBe(-1);
  });

  it('selects untagged objects, and with a threshold only the same model name at a lower version', () => {
    const t = parseModelRef('fake@1.10');
    expect(select([])).toBe('untagged');
    expect(select([{ Key: 'owner', Value: 'ann' }], t)).toBe('untagged');
    expect(select(ok('fake@0'))).toBe('current'); // no threshold: any status is done
    expect(select(ok('fake@1.9'), t)).toBe('older');
    expect(select(ok('fake@1.10'), t)).toBe('current');
    expect(select(ok('fake@2'), t)).toBe('current');
    expect(select(ok('mobilenetv2@1'), t)).toBe('other-model');
    expect(
      select(
        [
          { Key: 'tagger:status', Value: 'CorruptImage' },
          { Key: 'tagger:model', Value: 'fake@1' },
        ],
        t,
      ),
    ).toBe('older');
    expect(select([{ Key: 'tagger:status', Value: 'ok' }], t)).toBe('other-model'); // no room was left for tagger:model
  });
});

describe('backfill (in-memory store, fake classifier)', () => {
  it('tags the untagged images under the prefix, keeps user tags, leaves the rest alone', async () => {
    const { store, run, classifier, checkpoint } = setup();
    store.put(BUCKET, 'uploads/a.jpg', image(1), [{ Key: 'owner', Value: 'ann' }]);
    store.put(BUCKET, 'uploads/b.PNG', image(2));
    store.put(BUCKET, 'uploads/c.jpg', image(3), ok('other@0'));
    store.put(BUCKET, 'uploads/notes.txt', image(4));
    store.put(BUCKET, 'elsewhere/d.jpg', image(5));
    const { summary, interrupted } = await run({ prefix: '' });
    expect(interrupted).toBe(false);
    expect(summary).toMatchObject({
      listed: 5,
      tagged: 2,
      unchanged: 0,
      indexed: 0,
      skipped: { notTaggable: 2, current: 1, otherModel: 0, missing: 0, newer: 0 },
      failed: {},
    });
    expect(classifier.seen).toHaveLength(2);
    expect(store.tagsOf(BUCKET, 'uploads/a.jpg')).toContainEqual({ Key: 'owner', Value: 'ann' });
    expect(store.tagsOf(BUCKET, 'uploads/a.jpg')).toContainEqual({ Key: 'tagger:top', Value: 'label-11' });
    expect(store.tagsOf(BUCKET, 'uploads/c.jpg')).toEqual(ok('other@0'));
    // Keys that cannot be tagged cost no request at all.
    expect(store.calls.filter((c) => c.includes('notes.txt') || c.includes('elsewhere/'))).toEqual([]);
    expect(checkpoint.cleared()).toBe(1);
  });

  it('a second run after a complete one classifies nothing and writes nothing: one GetObjectTagging per image', async () => {
    const { store, run, classifier } = setup();
    for (let i = 0; i < 5; i++) store.put(BUCKET, `uploads/${i}.jpg`, image(i));
    store.put(BUCKET, 'uploads/broken.jpg', Uint8Array.of(0, 0));
    await run();
    expect(classifier.seen).toHaveLength(6);
    store.take();
    const { summary } = await run();
    expect(classifier.seen).toHaveLength(6);
    expect(summary).toMatchObject({
      listed: 6,
      tagged: 0,
      unchanged: 0,
      indexed: 0,
      skipped: { current: 6 },
      failed: {},
    });
    const calls = store.take();
    expect(calls.every((c) => c.startsWith('getTags '))).toBe(true);
    expect(calls).toHaveLength(6);
  });

  it('with a label index, indexes objects whose tags are current but the index lacks (tagged before it existed)', async () => {
    const store = new MemoryStore();
    const index = new MemoryIndex();
    const classifier = fakeClassifier();
    const { listing } = memoryListing(store);
    const run = () =>
      backfill({ tagger: { store, classifier, index, ...taggerSettings({}) }, listing, bucket: BUCKET });
    for (let i = 0; i < 3; i++) store.put(BUCKET, `uploads/${i}.jpg`, image(i));
    await backfill({ tagger: { store, classifier, ...taggerSettings({}) }, listing, bucket: BUCKET }); // tags, no index
    expect(index.objects.size).toBe(0);
    const tagsBefore = [0, 1, 2].map((i) => store.tagsOf(BUCKET, `uploads/${i}.jpg`));
    const first = await run();
    expect(first.summary).toMatchObject({ tagged: 0, indexed: 3, skipped: { current: 0 } });
    for (let i = 0; i < 3; i++) {
      expect(store.tagsOf(BUCKET, `uploads/${i}.jpg`)).toEqual(tagsBefore[i]);
      expect(await index.get(BUCKET, `uploads/${i}.jpg`)).toMatchObject({ state: 'live', model: 'fake@1' });
    }
    // label-11 is image 1's top label (0.5) and image 0's second (0.25): best score first.
    expect(
      (await index.search(BUCKET, normalizeLabel('Label-11'), { limit: 10 })).items.map((x) => x.key),
    ).toEqual(['uploads/1.jpg', 'uploads/0.jpg']);
    // Indexed and tagged: the next run classifies nothing.
    const seen = classifier.seen.length;
    const second = await run();
    expect(second.summary).toMatchObject({ tagged: 0, indexed: 0, skipped: { current: 3 } });
    expect(classifier.seen).toHaveLength(seen);
  });

  it("settles objects whose own tags leave no room for the service's: a second run reads no object", async () => {
    const store = new MemoryStore();
    const index = new MemoryIndex();
    const classifier = fakeClassifier();
    const { listing } = memoryListing(store);
    const run = () =>
      backfill({ tagger: { store, classifier, index, ...taggerSettings({}) }, listing, bucket: BUCKET });
    const mine = (n: number) => Array.from({ length: n }, (_, i) => ({ Key: `mine${i}`, Value: `v${i}` }));
    // 6 user tags leave out tagger:model, 9 leave only tagger:status, 10 leave no room at all.
    for (const n of [0, 6, 9, 10]) store.put(BUCKET, `uploads/user-${n}.jpg`, image(n), mine(n));
    const first = await run();
    // user-10 keeps exactly its own tags: "unchanged", though classified and indexed.
    expect(first.summary).toMatchObject({ tagged: 3, unchanged: 1, indexed: 0 });
    expect(store.tagsOf(BUCKET, 'uploads/user-10.jpg')).toEqual(mine(10));
    store.take();
    const seen = classifier.seen.length;
    const second = await run();
    expect(second.summary).toMatchObject({ tagged: 0, indexed: 0, skipped: { current: 4 } });
    expect(classifier.seen).toHaveLength(seen);
    expect(ops(store.take(), 'get')).toEqual([]);
    // A new version of a crowded object is not settled by the old version's record.
    store.put(BUCKET, 'uploads/user-10.jpg', image(11), mine(10));
    const third = await run();
    expect(third.summary).toMatchObject({ unchanged: 1, skipped: { current: 3 } });
    expect(ops(store.take(), 'get')).toEqual(['uploads/user-10.jpg']);
  });

  it('--retag-older-than re-tags older versions of the same model only', async () => {
    const { store, run, classifier } = setup();
    store.put(BUCKET, 'uploads/old.jpg', image(1), ok('fake@0.9'));
    store.put(BUCKET, 'uploads/old-corrupt.jpg', Uint8Array.of(0), [
      { Key: 'tagger:status', Value: 'CorruptImage' },
      { Key: 'tagger:model', Value: 'fake@0.9' },
    ]);
    store.put(BUCKET, 'uploads/same.jpg', image(2), ok('fake@1'));
    store.put(BUCKET, 'uploads/other.jpg', image(3), ok('resnet18@0'));
    store.put(BUCKET, 'uploads/new.jpg', image(4));
    const { summary } = await run({ retagOlderThan: parseModelRef('fake@1') });
    expect(summary).toMatchObject({
      tagged: 2,
      skipped: { current: 1, otherModel: 1 },
      failed: { CorruptImage: 1 },
    });
    expect(store.tagsOf(BUCKET, 'uploads/old.jpg')).toContainEqual({ Key: 'tagger:model', Value: 'fake@1' });
    expect(store.tagsOf(BUCKET, 'uploads/old-corrupt.jpg')).toContainEqual({
      Key: 'tagger:model',
      Value: 'fake@1',
    });
    expect(store.tagsOf(BUCKET, 'uploads/other.jpg')).toEqual(ok('resnet18@0'));
    expect(classifier.seen).toHaveLength(3);
  });

  it('refuses to re-tag with a model older than the threshold (it would never be current)', async () => {
    const { run, store } = setup();
    store.put(BUCKET, 'uploads/a.jpg', image(1), ok('fake@1'));
    await expect(run({ retagOlderThan: parseModelRef('fake@2') })).rejects.toThrow(/fake@1, older than that/);
    expect(store.calls).toEqual([]);
  });

  it('counts failures by reason and goes on; transient errors keep their message', async () => {
    const store = new MemoryStore();
    const flaky = Object.assign(Object.create(store) as MemoryStore, {
      get: async (bucket: string, key: string, options: { maxBytes: number }) => {
        if (key.includes('flaky')) throw new Error('SlowDown: please reduce your request rate');
        return store.get(bucket, key, options);
      },
    });
    const { run } = setup(flaky, fakeClassifier({ maxBytes: 100 }));
    store.put(BUCKET, 'uploads/corrupt.jpg', Uint8Array.of(0, 1));
    store.put(BUCKET, 'uploads/unsupported.jpg', Uint8Array.of(1, 1));
    store.put(BUCKET, 'uploads/huge.jpg', new Uint8Array(101).fill(9));
    store.put(BUCKET, 'uploads/flaky-1.jpg', image(1));
    store.put(BUCKET, 'uploads/flaky-2.jpg', image(2));
    store.put(BUCKET, 'uploads/fine.jpg', image(3));
    const { summary } = await run();
    expect(summary.tagged).toBe(1);
    expect(summary.failed).toEqual({
      CorruptImage: 1,
      UnsupportedFormat: 1,
      ImageTooLarge: 1,
      'error: SlowDown: please reduce your request rate': 2,
    });
    expect(summary.failedKeys['error: SlowDown: please reduce your request rate']).toEqual([
      'uploads/flaky-1.jpg',
      'uploads/flaky-2.jpg',
    ]);
    // Image errors got their status tag; the transient ones were left untagged for a later run.
    expect(store.tagsOf(BUCKET, 'uploads/huge.jpg')).toContainEqual({
      Key: 'tagger:status',
      Value: 'ImageTooLarge',
    });
    expect(store.tagsOf(BUCKET, 'uploads/flaky-1.jpg')).toEqual([]);
    // The listed size is over the limit: the tagger reads 1 byte to confirm it, never the object.
    expect(store.calls).toContain('get:1 uploads/huge.jpg');
    expect(store.calls).not.toContain('get uploads/huge.jpg');
  });

  it('counts an object deleted after the listing as missing', async () => {
    const { store, run } = setup();
    store.put(BUCKET, 'uploads/a.jpg', image(1));
    store.put(BUCKET, 'uploads/gone.jpg', image(2));
    const { listing } = memoryListing(store);
    const deleting: BucketListing = {
      async *pages(b, p, s) {
        for await (const page of listing.pages(b, p, s)) {
          store.objects.delete(`${BUCKET}/uploads/gone.jpg`);
          yield page;
        }
      },
    };
    const { summary } = await run({ listing: deleting });
    expect(summary).toMatchObject({ listed: 2, tagged: 1, skipped: { missing: 1 }, failed: {} });
  });

  it('--dry-run lists what it would tag and writes nothing (no tags, no checkpoint)', async () => {
    const { store, run, classifier, checkpoint } = setup();
    store.put(BUCKET, 'uploads/a.jpg', image(1));
    store.put(BUCKET, 'uploads/b.jpg', image(2), ok('fake@0'));
    store.put(BUCKET, 'uploads/c.jpg', image(3), ok('fake@1'));
    const selected: string[] = [];
    const { summary } = await run({
      dryRun: true,
      retagOlderThan: parseModelRef('fake@1'),
      onSelected: (key, why) => void selected.push(`${key} ${why}`),
    });
    expect(selected.sort()).toEqual(['uploads/a.jpg untagged', 'uploads/b.jpg older']);
    expect(summary).toMatchObject({ wouldTag: 2, tagged: 0, skipped: { current: 1 } });
    expect(store.calls.filter((c) => !c.startsWith('getTags '))).toEqual([]);
    expect(classifier.seen).toEqual([]);
    expect(checkpoint.saves).toEqual([]);
    expect(checkpoint.cleared()).toBe(0);
  });

  it('stops on the signal, and a resumed run starts after the checkpoint and classifies no object twice', async () => {
    const store = new MemoryStore();
    const classifier = fakeClassifier();
    const controller = new AbortController();
    const classify = classifier.classify.bind(classifier);
    classifier.classify = async (bytes, options) => {
      if (classifier.seen.length === 3) controller.abort(); // Ctrl-C during the 4th image
      return classify(bytes, options);
    };
    const { run, checkpoint, listingCalls } = setup(store, classifier);
    const keys = Array.from({ length: 12 }, (_, i) => `uploads/${String(i).padStart(2, '0')}.jpg`);
    for (const [i, key] of keys.entries()) store.put(BUCKET, key, image(i));

    const first = await run({ signal: controller.signal, checkpointEveryMs: 0 });
    expect(first.interrupted).toBe(true);
    const saved = checkpoint.current();
    expect(saved).toBeDefined();
    const firstCount = classifier.seen.length;
    expect(firstCount).toBeGreaterThanOrEqual(4);
    expect(firstCount).toBeLessThan(12);
    // Every key up to the checkpoint is tagged.
    for (const key of keys.filter((k) => k <= (saved?.after ?? '')))
      expect(store.tagsOf(BUCKET, key)).toContainEqual({ Key: 'tagger:status', Value: 'ok' });

    const second = await run();
    expect(second.interrupted).toBe(false);
    expect(second.resumedAfter).toBe(saved?.after);
    expect(listingCalls.at(-1)).toEqual({ prefix: 'uploads/', startAfter: saved?.after });
    expect(classifier.seen).toHaveLength(12); // each image classified exactly once over both runs
    expect(ops(store.calls, 'putTags').sort()).toEqual(keys);
    expect(second.summary.listed).toBe(12);
    expect(second.summary.tagged + second.summary.skipped.current).toBe(12);
    expect(checkpoint.current()).toBeUndefined();
  });

  it('with concurrency, the checkpoint never passes a key still in flight', async () => {
    const store = new MemoryStore();
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    const slow = Object.assign(Object.create(store) as MemoryStore, {
      getTags: async (bucket: string, key: string) => {
        if (key === 'uploads/1.jpg') await held;
        return store.getTags(bucket, key);
      },
    });
    const controller = new AbortController();
    const { run, checkpoint } = setup(slow);
    for (let i = 0; i < 6; i++) store.put(BUCKET, `uploads/${i}.jpg`, image(i));
    let savedWhileHeld = -1;
    const first = run({
      concurrency: 3,
      signal: controller.signal,
      checkpointEveryMs: 0,
      onProgress: (p) => {
        // Three keys done while 1 hangs: stop, then let 1 finish.
        if (p.done === 3 && !controller.signal.aborted) {
          controller.abort();
          setTimeout(() => {
            savedWhileHeld = checkpoint.saves.length;
            release();
          }, 20);
        }
      },
    });
    const { summary, interrupted } = await first;
    expect(interrupted).toBe(true);
    // While 1 was in flight, no saved position went past 0, though later keys were done.
    expect(savedWhileHeld).toBeGreaterThanOrEqual(1);
    expect(checkpoint.saves.slice(0, savedWhileHeld).map((s) => s.after)).toEqual(
      Array(savedWhileHeld).fill('uploads/0.jpg'),
    );
    // Once 1 finished, every key started was done: the final position is the last one listed.
    expect(summary.listed).toBeGreaterThanOrEqual(4);
    expect(summary.listed).toBeLessThan(6);
    expect(checkpoint.current()?.after).toBe(`uploads/${summary.listed - 1}.jpg`);
    expect(checkpoint.current()?.summary).toMatchObject({ listed: summary.listed, tagged: summary.listed });
  });

  it('lists a bounded number of pages ahead of the work, and reports when the listing is complete', async () => {
    const store = new MemoryStore();
    for (let i = 0; i < 20; i++) store.put(BUCKET, `uploads/${String(i).padStart(2, '0')}.jpg`, image(i));
    const { listing } = memoryListing(store, 2); // 10 pages
    let pulled = 0;
    const counting: BucketListing = {
      async *pages(b, p, s) {
        for await (const page of listing.pages(b, p, s)) {
          pulled++;
          yield page;
        }
      },
    };
    const seen: { done: number; listed: number; complete: boolean; pulled: number }[] = [];
    const { run } = setup(store);
    await run({
      listing: counting,
      concurrency: 1,
      pagesAhead: 2,
      onProgress: (p) =>
        void seen.push({ done: p.done, listed: p.listed, complete: p.listingComplete, pulled }),
    });
    const first = seen.find((p) => p.done === 1);
    // One page in work, two waiting, at most one being read: never the whole listing at once.
    expect(first?.pulled).toBeLessThanOrEqual(4);
    expect(first?.listed).toBeGreaterThan(first?.done ?? 0);
    expect(first?.complete).toBe(false);
    expect(seen.every((p) => p.pulled - Math.floor(p.done / 2) <= 4)).toBe(true);
    expect(seen.at(-1)).toMatchObject({ done: 20, listed: 20, complete: true });
  });

  it('keeps the checkpoint in a file keyed by the options', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'backfill-checkpoint-'));
    try {
      const a = checkpointPath(dir, { bucket: 'b', prefix: 'uploads/', retagOlderThan: null });
      expect(checkpointPath(dir, { bucket: 'b', prefix: 'uploads/', retagOlderThan: null })).toBe(a);
      expect(checkpointPath(dir, { bucket: 'b', prefix: 'uploads/', retagOlderThan: 'fake@2' })).not.toBe(a);
      const file = fileCheckpoint(a);
      expect(await file.load()).toBeUndefined();
      const c: Checkpoint = {
        version: 1,
        after: 'uploads/x.jpg',
        summary: (await setup().run()).summary,
        updatedAt: 'now',
      };
      await file.save(c);
      expect(JSON.parse(await readFile(a, 'utf8'))).toEqual(c);
      expect(await file.load()).toEqual(c);
      await file.clear();
      expect(await file.load()).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('S3 listing adapter (fake client)', () => {
  /** A client whose ListObjectsV2 serves `keys` `MaxKeys` at a time with opaque tokens; records the inputs. */
  function fakeS3(keys: string[], repeatToken = false) {
    const inputs: Record<string, unknown>[] = [];
    const client = {
      async send(command: { input: Record<string, unknown> }) {
        const input = command.input;
        inputs.push(input);
        const max = Number(input.MaxKeys);
        const start = input.ContinuationToken
          ? Number(String(input.ContinuationToken).slice(4))
          : keys.findIndex((k) => input.StartAfter === undefined || k > String(input.StartAfter));
        const from = start < 0 ? keys.length : start;
        const page = keys.slice(from, from + max);
        const next = from + max < keys.length ? `tok-${repeatToken ? max : from + max}` : undefined;
        return {
          Contents: page.map((Key) => ({ Key, Size: Key.length })),
          IsTruncated: next !== undefined,
          NextContinuationToken: next,
        };
      },
    } as unknown as S3Client;
    return { client, inputs };
  }
  const keys = Array.from({ length: 7 }, (_, i) => `uploads/${i}.jpg`);

  it('follows continuation tokens, sends StartAfter only on the first request', async () => {
    const { client, inputs } = fakeS3(keys);
    const pages: string[][] = [];
    for await (const page of s3BucketListing(client, 3).pages('b', 'uploads/', 'uploads/0.jpg'))
      pages.push(page.map((o) => o.key));
    expect(pages).toEqual([keys.slice(1, 4), keys.slice(4, 7)]);
    expect(inputs).toEqual([
      { Bucket: 'b', Prefix: 'uploads/', MaxKeys: 3, StartAfter: 'uploads/0.jpg' },
      { Bucket: 'b', Prefix: 'uploads/', MaxKeys: 3, ContinuationToken: 'tok-4' },
    ]);
  });

  it('stops on a repeated continuation token instead of looping', async () => {
    const { client } = fakeS3(keys, true);
    const run = async () => {
      for await (const _ of s3BucketListing(client, 3).pages('b', 'uploads/'));
    };
    await expect(run()).rejects.toThrow(/continuation token repeated/);
  });
});

describe('backfill: the vector index', () => {
  const tagger = (store: MemoryStore, index: MemoryIndex, vectors?: MemoryVectors) => ({
    store,
    classifier: withEmbedding(fakeClassifier()),
    index,
    ...(vectors ? { vectors } : {}),
    ...taggerSettings({}),
  });

  it("fills the vectors an index lacks (tagged before vectors, or a new model's empty index), then does nothing", async () => {
    const store = new MemoryStore();
    const index = new MemoryIndex();
    const { listing } = memoryListing(store);
    for (let i = 0; i < 3; i++) store.put(BUCKET, `uploads/${i}.jpg`, image(i));
    store.put(BUCKET, 'uploads/broken.jpg', Uint8Array.of(0, 0));
    await backfill({ tagger: tagger(store, index), listing, bucket: BUCKET }); // tags and index, no vectors
    const vectors = new MemoryVectors(EMBEDDING_DIMENSION);
    const first = await backfill({ tagger: tagger(store, index, vectors), listing, bucket: BUCKET });
    // The corrupt image has no vector to fill: it is current, not classified again.
    expect(first.summary).toMatchObject({ tagged: 0, indexed: 0, embedded: 3, skipped: { current: 1 } });
    for (let i = 0; i < 3; i++) {
      const [v] = await vectors.get([`uploads/${i}.jpg`]);
      expect(v?.metadata.etag).toBe(store.objects.get(`${BUCKET}/uploads/${i}.jpg`)?.etag.replace(/"/g, ''));
      expect(Array.from(v?.vector ?? [])).toEqual(Array.from(fakeEmbedding(image(i))));
    }
    // One GetVectors per listing page (2 keys), no write on the second run.
    vectors.calls.length = 0;
    const second = await backfill({ tagger: tagger(store, index, vectors), listing, bucket: BUCKET });
    expect(second.summary).toMatchObject({ embedded: 0, skipped: { current: 4 } });
    expect(vectors.calls.every((c) => c.startsWith('get '))).toBe(true);
    expect(vectors.calls).toHaveLength(2);
  });

  it('re-embeds a vector of another version (the object was replaced while no tagger ran)', async () => {
    const store = new MemoryStore();
    const index = new MemoryIndex();
    const vectors = new MemoryVectors(EMBEDDING_DIMENSION);
    const { listing } = memoryListing(store);
    store.put(BUCKET, 'uploads/a.jpg', image(1));
    await backfill({ tagger: tagger(store, index, vectors), listing, bucket: BUCKET });
    // A stale vector: another version's ETag.
    const [v] = await vectors.get(['uploads/a.jpg']);
    if (!v) throw new Error('no vector');
    await vectors.put([{ ...v, metadata: { ...v.metadata, etag: 'old' } }]);
    const { summary } = await backfill({ tagger: tagger(store, index, vectors), listing, bucket: BUCKET });
    expect(summary).toMatchObject({ embedded: 1 });
    expect((await vectors.get(['uploads/a.jpg']))[0]?.metadata.etag).not.toBe('old');
  });
});

describe("backfill's vector write pace", () => {
  it("waits so that no second holds more than the rate's requests or vectors", async () => {
    let t = 0;
    const clock = {
      now: () => t,
      sleep: async (ms: number) => {
        t += ms;
      },
    };
    const vectors = new MemoryVectors(EMBEDDING_DIMENSION);
    const times: number[] = [];
    const put = vectors.put.bind(vectors);
    vectors.put = async (list) => {
      times.push(t);
      return put(list);
    };
    const paced = limitVectorWrites(vectors, { requestsPerSecond: 3, vectorsPerSecond: 5 }, clock);
    const one = (key: string) => ({
      key,
      vector: fakeEmbedding(image(1)),
      metadata: { etag: 'e', model: 'm', labels: [], categories: [] },
    });
    await Promise.all(Array.from({ length: 8 }, (_, i) => paced.put([one(`k${i}`), one(`k${i}b`)])));
    // 2 vectors a request, 5 a second: 2 requests per second.
    expect(times).toEqual([0, 0, 1000, 1000, 2000, 2000, 3000, 3000]);
    expect(paced.writes).toBe(8);
    await paced.delete(['k0']);
    expect(vectors.vectors.has('k0')).toBe(false);
  });
});
