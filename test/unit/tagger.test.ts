/**
 * The tagger's rules against an in-memory store (and label index) and a fake classifier: no S3, no
 * model needed.
 */

import type { S3Event } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { taggerSettings } from '../../src/settings.ts';
import { colourTerm, normalizeLabel } from '../../src/tagging/label-index.ts';
import { createS3Tagger } from '../../src/tagging/notifications.ts';
import { tagObject } from '../../src/tagging/tagger.ts';
import { encodeS3Key } from '../../src/tagging/tags.ts';
import { fakeClassifier, MemoryStore } from '../helpers/fakes.ts';
import { MemoryIndex } from '../helpers/memory-index.ts';

const BUCKET = 'b';
const created = (key: string, eventName = 'ObjectCreated:Put', size = 3) => ({
  eventName,
  s3: { bucket: { name: BUCKET }, object: { key: encodeS3Key(key), size } },
});
const event = (...records: unknown[]) => ({ Records: records }) as unknown as S3Event;

function setup(limits = {}, store = new MemoryStore()) {
  const classifier = fakeClassifier(limits);
  const failures: string[] = [];
  const tagger = createS3Tagger({
    store,
    classifier,
    ...taggerSettings({}),
    telemetry: { classified() {}, failed: (reason) => void failures.push(reason), info() {} },
  });
  return { store, classifier, tagger, failures };
}

describe('S3 tagger (in-memory store, fake classifier)', () => {
  it('tags an upload and keeps the user tags', async () => {
    const { store, tagger } = setup();
    store.put(BUCKET, 'uploads/dog photo.jpg', Uint8Array.of(7, 7), [{ Key: 'owner', Value: 'ann' }]);
    const [out] = await tagger(event(created('uploads/dog photo.jpg')));
    expect(out).toMatchObject({ result: 'tagged', status: 'ok' });
    expect(store.tagsOf(BUCKET, 'uploads/dog photo.jpg')).toEqual([
      { Key: 'owner', Value: 'ann' },
      { Key: 'tagger:status', Value: 'ok' },
      { Key: 'tagger:top', Value: 'label-7' },
      { Key: 'tagger:labels', Value: 'label-7=0.500/label-8=0.250/label-9=0.167' },
      { Key: 'tagger:model', Value: 'fake@1' },
    ]);
  });

  it('judges each record alone: a malformed record or key does not stop the others', async () => {
    const { store, tagger, failures } = setup();
    store.put(BUCKET, 'uploads/a.jpg', Uint8Array.of(5));
    store.put(BUCKET, 'uploads/b.png', Uint8Array.of(6));
    const outcomes = await tagger(
      event(
        { eventName: 'ObjectCreated:Put' },
        created('uploads/a.jpg'),
        {
          eventName: 'ObjectCreated:Put',
          s3: { bucket: { name: BUCKET }, object: { key: 'uploads/%E0%A4%A.jpg' } },
        },
        null,
        created('uploads/b.png'),
      ),
    );
    expect(outcomes.map((o) => o.result)).toEqual([
      'malformed',
      'tagged',
      'malformed',
      'malformed',
      'tagged',
    ]);
    expect(failures).toEqual(['MalformedRecord', 'MalformedRecord', 'MalformedRecord']);
    expect(store.tagsOf(BUCKET, 'uploads/b.png')).toContainEqual({ Key: 'tagger:top', Value: 'label-6' });
  });

  it('an event of no known shape is reported as malformed, and reads nothing', async () => {
    const { tagger, store } = setup();
    for (const e of [{}, { Records: 'x' }, null])
      expect(await tagger(e as unknown as S3Event)).toMatchObject([{ result: 'malformed' }]);
    expect(await tagger({ Records: [] } as unknown as S3Event)).toEqual([]);
    expect(store.calls).toEqual([]);
  });

  it('gives bad images a status tag, skips other prefixes and suffixes, and deleted objects', async () => {
    const { store, tagger } = setup();
    store.put(BUCKET, 'uploads/corrupt.jpg', Uint8Array.of(0));
    store.put(BUCKET, 'uploads/doc.JPG', Uint8Array.of(1));
    const outcomes = await tagger(
      event(
        created('uploads/corrupt.jpg'),
        created('uploads/doc.JPG'),
        created('elsewhere/x.jpg'),
        created('uploads/notes.txt'),
        created('uploads/gone.jpg'),
        created('uploads/corrupt.jpg', 'ObjectRemoved:Delete'),
      ),
    );
    expect(outcomes.map((o) => ('status' in o ? `${o.result}:${o.status}` : o.result))).toEqual([
      'tagged:CorruptImage',
      'tagged:UnsupportedFormat',
      'ignored',
      'ignored',
      'missing',
      'ignored',
    ]);
  });

  it('refuses an object the event says is oversize with a 1-byte read, without classifying it', async () => {
    const { store, tagger, classifier } = setup({ maxBytes: 4 });
    store.put(BUCKET, 'uploads/big.jpg', Uint8Array.of(9, 9, 9, 9, 9));
    const [out] = await tagger(event(created('uploads/big.jpg', 'ObjectCreated:Put', 5)));
    expect(out).toMatchObject({ result: 'tagged', status: 'ImageTooLarge' });
    expect(store.calls).toEqual([
      'get:1 uploads/big.jpg',
      'getTags uploads/big.jpg',
      'putTags uploads/big.jpg',
    ]);
    expect(classifier.seen).toEqual([]);
  });

  it('an event that understates the size reads no more than the limit and refuses the object', async () => {
    const { store, tagger, classifier } = setup({ maxBytes: 4 });
    store.put(BUCKET, 'uploads/liar.jpg', Uint8Array.of(9, 9, 9, 9, 9, 9, 9));
    const read: number[] = [];
    const get = store.get.bind(store);
    store.get = async (b, k, o) => {
      const r = await get(b, k, o);
      read.push(r.bytes.length);
      return r;
    };
    const [out] = await tagger(event(created('uploads/liar.jpg', 'ObjectCreated:Put', 2)));
    expect(out).toMatchObject({ result: 'tagged', status: 'ImageTooLarge' });
    expect(read).toEqual([4]);
    expect(classifier.seen).toEqual([]);
  });

  it('an oversize event for an object since replaced by one that fits tags the current version', async () => {
    const { store, tagger } = setup({ maxBytes: 4 });
    store.put(BUCKET, 'uploads/swap.jpg', Uint8Array.of(8, 8));
    const [out] = await tagger(event(created('uploads/swap.jpg', 'ObjectCreated:Put', 50)));
    expect(out).toMatchObject({
      result: 'tagged',
      status: 'ok',
      tags: expect.arrayContaining([{ Key: 'tagger:top', Value: 'label-8' }]),
    });
    expect(store.calls).toEqual([
      'get:1 uploads/swap.jpg',
      'get uploads/swap.jpg',
      'getTags uploads/swap.jpg',
      'putTags uploads/swap.jpg',
    ]);
  });

  it('S3 requests per image: fresh upload, user tags, oversize, duplicate event', async () => {
    const { store, tagger } = setup({ maxBytes: 4 });
    store.put(BUCKET, 'uploads/fresh.jpg', Uint8Array.of(5));
    store.put(BUCKET, 'uploads/owned.jpg', Uint8Array.of(5), [{ Key: 'owner', Value: 'ann' }]);
    store.put(BUCKET, 'uploads/big.jpg', Uint8Array.of(5, 5, 5, 5, 5));
    const count = async (key: string, size = 1) => {
      await tagger(event(created(key, 'ObjectCreated:Put', size)));
      return store.take();
    };
    // The tags are always read right before they are written (see tagger.ts): never a blind write.
    expect({
      fresh: await count('uploads/fresh.jpg'),
      userTags: await count('uploads/owned.jpg'),
      oversize: await count('uploads/big.jpg', 5),
      duplicate: await count('uploads/fresh.jpg'),
    }).toEqual({
      fresh: ['get uploads/fresh.jpg', 'getTags uploads/fresh.jpg', 'putTags uploads/fresh.jpg'],
      userTags: ['get uploads/owned.jpg', 'getTags uploads/owned.jpg', 'putTags uploads/owned.jpg'],
      oversize: ['get:1 uploads/big.jpg', 'getTags uploads/big.jpg', 'putTags uploads/big.jpg'],
      duplicate: ['get uploads/fresh.jpg', 'getTags uploads/fresh.jpg'],
    });
  });

  it('ignores an event size that is not a byte count', async () => {
    const { store, tagger } = setup({ maxBytes: 4 });
    store.put(BUCKET, 'uploads/a.jpg', Uint8Array.of(5));
    for (const size of ['99', -1, 1.5, Number.NaN, null]) {
      const [out] = await tagger(event(created('uploads/a.jpg', 'ObjectCreated:Put', size as number)));
      expect(out).toMatchObject({ status: 'ok' });
    }
    expect(store.calls.filter((c) => c.startsWith('get:1'))).toEqual([]);
  });

  it('writes nothing for a repeated event, and throws after the other records on a store fault', async () => {
    const { store, tagger } = setup();
    store.put(BUCKET, 'uploads/a.jpg', Uint8Array.of(5));
    store.put(BUCKET, 'uploads/b.jpg', Uint8Array.of(6));
    await tagger(event(created('uploads/a.jpg')));
    const [again] = await tagger(event(created('uploads/a.jpg')));
    expect(again?.result).toBe('unchanged');
    store.getTags = async () => {
      throw new Error('SlowDown');
    };
    await expect(tagger(event(created('uploads/a.jpg'), created('uploads/b.jpg')))).rejects.toThrow(
      'SlowDown',
    );
    expect(store.calls.filter((c) => c === 'get uploads/b.jpg')).toHaveLength(1);
  });
});

describe('S3 tagger with a label index (in-memory store and index, fake classifier)', () => {
  const K = 'uploads/dog.jpg';
  /** An S3 notification record as S3 writes it: sequencer and eTag (no quotes). */
  const rec = (eventName: string, key: string, sequencer: string, eTag?: string, size = 2) => ({
    eventName,
    s3: {
      bucket: { name: BUCKET },
      object: { key: encodeS3Key(key), size, sequencer, ...(eTag ? { eTag: eTag.replace(/"/g, '') } : {}) },
    },
  });
  function indexed(env: Record<string, string> = {}) {
    const store = new MemoryStore();
    const index = new MemoryIndex();
    const infos: string[] = [];
    const classifier = fakeClassifier();
    const tagger = createS3Tagger({
      store,
      classifier,
      index,
      ...taggerSettings(env),
      telemetry: { classified() {}, failed() {}, info: (m) => void infos.push(m) },
    });
    return { store, index, tagger, infos, classifier };
  }
  const top = (store: MemoryStore, key = K) =>
    store.tagsOf(BUCKET, key).find((t) => t.Key === 'tagger:top')?.Value;

  it('writes the index before the tags, and both say the same', async () => {
    const { store, index, tagger } = indexed();
    const etag = store.put(BUCKET, K, Uint8Array.of(7, 7), [{ Key: 'owner', Value: 'ann' }]);
    // One log for both, to see the order.
    const put = index.put.bind(index);
    const get = index.get.bind(index);
    index.put = (...a) => {
      store.calls.push('index.put');
      return put(...a);
    };
    index.get = (...a) => {
      store.calls.push('index.get');
      return get(...a);
    };
    const [out] = await tagger(event(rec('ObjectCreated:Put', K, '0A01', etag)));
    expect(out).toMatchObject({ result: 'tagged', status: 'ok' });
    expect(store.calls).toEqual([`get ${K}`, 'index.put', `getTags ${K}`, `putTags ${K}`, 'index.get']);
    expect(await index.get(BUCKET, K)).toMatchObject({
      state: 'live',
      status: 'ok',
      model: 'fake@1',
      etag: 'v1',
      sequencer: expect.stringMatching(/^0A01/),
      labels: [
        { label: 'label-7', score: 0.5 },
        { label: 'label-8', score: 0.25 },
        { label: 'label-9', score: 0.5 / 3 },
      ],
    });
    expect(store.tagsOf(BUCKET, K)).toContainEqual({ Key: 'owner', Value: 'ann' });
    expect(
      (await index.search(BUCKET, normalizeLabel('LABEL-8'), { limit: 5 })).items.map((i) => i.key),
    ).toEqual([K]);
  });

  describe('dominant colours', () => {
    const properties = {
      colours: [
        { name: 'grey' as const, zh: '灰色', percent: 61.5, hex: '#7b7770', css: 'grey' },
        { name: 'red' as const, zh: '红色', percent: 33.6, hex: '#c01e1c', css: 'firebrick' },
        { name: 'brown' as const, zh: '棕色', percent: 4.9, hex: '#ab8f6f', css: 'rosybrown' },
      ],
      quality: { brightness: 39.4, contrast: 51.2, sharpness: 66.1 },
    };

    it('tags and indexes the colours covering 5% or more, searchable by colourTerm', async () => {
      const { store, index, tagger, classifier } = indexed();
      classifier.properties = properties;
      const etag = store.put(BUCKET, K, Uint8Array.of(7, 7));
      await tagger(event(rec('ObjectCreated:Put', K, '0A01', etag)));
      expect(store.tagsOf(BUCKET, K)).toContainEqual({
        Key: 'tagger:colours',
        Value: 'grey=0.615/red=0.336',
      });
      expect((await index.get(BUCKET, K))?.colours).toEqual([
        { label: 'grey', score: 0.615 },
        { label: 'red', score: 0.336 },
      ]);
      const found = await index.search(BUCKET, colourTerm('red'), { limit: 5 });
      expect(found.items).toMatchObject([{ key: K, score: 0.336 }]);
      expect((await index.search(BUCKET, colourTerm('brown'), { limit: 5 })).items).toEqual([]);
      // Not under the plain word: ImageNet's "red ..." or "orange" classes are other partitions.
      expect((await index.search(BUCKET, normalizeLabel('red'), { limit: 5 })).items).toEqual([]);
    });

    it('names the colours in Chinese with TAG_LANGUAGE=zh (the index keeps English)', async () => {
      const { store, index, tagger, classifier } = indexed({ TAG_LANGUAGE: 'zh' });
      classifier.properties = properties;
      const etag = store.put(BUCKET, K, Uint8Array.of(7, 7));
      const [out] = await tagger(event(rec('ObjectCreated:Put', K, '0A01', etag)));
      expect(out).toMatchObject({ result: 'tagged' });
      expect(store.tagsOf(BUCKET, K)).toContainEqual({
        Key: 'tagger:colours',
        Value: '灰色=0.615/红色=0.336',
      });
      expect((await index.get(BUCKET, K))?.colours?.map((c) => c.label)).toEqual(['grey', 'red']);
    });

    it('leaves the colour tag out when the tags are full, keeping it in the index', async () => {
      const { store, index, tagger, classifier } = indexed();
      classifier.properties = properties;
      // The fake model has no vocabulary: 4 service tags before the colours.
      const mine = [1, 2, 3, 4, 5, 6].map((i) => ({ Key: `t${i}`, Value: 'v' }));
      const etag = store.put(BUCKET, K, Uint8Array.of(7, 7), mine);
      const [out] = await tagger(event(rec('ObjectCreated:Put', K, '0A01', etag)));
      expect(out).toMatchObject({ result: 'tagged', dropped: ['tagger:colours'] });
      const tags = store.tagsOf(BUCKET, K);
      expect(tags).toHaveLength(10);
      expect(tags.slice(0, 6)).toEqual(mine);
      expect((await index.search(BUCKET, colourTerm('red'), { limit: 5 })).items).toHaveLength(1);
    });
  });

  it('an event for a version since replaced is superseded: nothing read past the 412, nothing written', async () => {
    const { store, index, tagger, infos } = indexed();
    const old = store.put(BUCKET, K, Uint8Array.of(7));
    store.put(BUCKET, K, Uint8Array.of(8));
    const [out] = await tagger(event(rec('ObjectCreated:Put', K, '0A01', old)));
    expect(out).toEqual({ bucket: BUCKET, key: K, result: 'superseded' });
    expect(store.calls).toEqual([`get ${K}`]);
    expect(index.calls).toEqual([]);
    expect(infos[0]).toMatch(/^superseded/);
  });

  it('an event older than the one the index holds is stale: no tag write', async () => {
    const { store, tagger, infos } = indexed();
    const etag = store.put(BUCKET, K, Uint8Array.of(7));
    await tagger(event(rec('ObjectCreated:Put', K, '0A02', etag)));
    store.take();
    // An older event of the same version (e.g. a copy onto itself) arrives late.
    const [out] = await tagger(event(rec('ObjectCreated:Copy', K, '0A01', etag)));
    expect(out).toMatchObject({ result: 'stale', tags: [] });
    expect(store.calls).toEqual([`get ${K}`]);
    expect(infos.at(-1)).toMatch(/^stale/);
  });

  it('a newer event that overtakes this one between its index write and its tag write wins the tags', async () => {
    const { store, index, tagger } = indexed();
    const v1 = store.put(BUCKET, K, Uint8Array.of(7));
    const put = index.put.bind(index);
    let overtaken = false;
    index.put = async (record, sequencer) => {
      const result = await put(record, sequencer);
      if (!overtaken) {
        // Right after the first event's index write: the object is overwritten and the second
        // event is handled from start to end.
        overtaken = true;
        const v2 = store.put(BUCKET, K, Uint8Array.of(20));
        expect(await tagger(event(rec('ObjectCreated:Put', K, '0A02', v2)))).toMatchObject([
          { result: 'tagged' },
        ]);
        expect(top(store)).toBe('label-20');
      }
      return result;
    };
    // The first event read v1 before it was replaced; its tags land on the new version, then the
    // check finds the newer record in the index and puts it back.
    const [out] = await tagger(event(rec('ObjectCreated:Put', K, '0A01', v1)));
    expect(out).toMatchObject({ result: 'tagged', repairs: 1 });
    expect(top(store)).toBe('label-20');
    expect((await index.get(BUCKET, K))?.labels[0]?.label).toBe('label-20');
  });

  it('ObjectRemoved removes the entry in sequencer order, with no S3 request', async () => {
    const { store, index, tagger } = indexed();
    const etag = store.put(BUCKET, K, Uint8Array.of(7));
    await tagger(event(rec('ObjectCreated:Put', K, '0A01', etag)));
    store.delete(BUCKET, K);
    store.take();
    const outcomes = await tagger(
      event(
        rec('ObjectRemoved:Delete', K, '0A02'),
        rec('ObjectRemoved:Delete', 'elsewhere/x.jpg', '0A02'),
        rec('ObjectRemoved:DeleteMarkerCreated', 'uploads/never.png', '0B'),
      ),
    );
    expect(outcomes).toEqual([
      { bucket: BUCKET, key: K, result: 'removed', index: 'written' },
      { bucket: BUCKET, key: 'elsewhere/x.jpg', result: 'ignored', reason: 'prefix-or-suffix' },
      { bucket: BUCKET, key: 'uploads/never.png', result: 'removed', index: 'written' },
    ]);
    expect(store.calls).toEqual([]);
    expect(await index.get(BUCKET, K)).toMatchObject({ state: 'deleted' });
    expect((await index.search(BUCKET, normalizeLabel('label-7'), { limit: 5 })).items).toEqual([]);
    // The create event delivered again after the delete: the object is gone, nothing is written.
    expect(await tagger(event(rec('ObjectCreated:Put', K, '0A01', etag)))).toMatchObject([
      { result: 'missing' },
    ]);
    expect(await tagger(event(rec('ObjectRemoved:Delete', K, '0A01')))).toMatchObject([
      { result: 'removed', index: 'stale' },
    ]);
  });

  it('tagObject with three arguments (backfill) writes a version-less record', async () => {
    const { store, index } = indexed();
    const etag = store.put(BUCKET, K, Uint8Array.of(9));
    const out = await tagObject(
      { store, classifier: fakeClassifier(), index, ...taggerSettings({}) },
      BUCKET,
      K,
    );
    expect(out).toMatchObject({ result: 'tagged', status: 'ok' });
    expect(await index.get(BUCKET, K)).toMatchObject({ sequencer: '', etag: etag.replace(/"/g, '') });
  });

  it('an index fault is thrown (Lambda retries) and no tag is written before the index', async () => {
    const { store, index, tagger } = indexed();
    store.put(BUCKET, K, Uint8Array.of(7));
    index.failNext = new Error('ProvisionedThroughputExceededException');
    await expect(tagger(event(rec('ObjectCreated:Put', K, '0A01')))).rejects.toThrow('Provisioned');
    expect(store.calls).toEqual([`get ${K}`]);
  });
});
