/** The tagger's rules against an in-memory store and a fake classifier: no S3, no model needed. */
import type { S3Event } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createS3Tagger } from '../../src/tagging/handler.ts';
import { encodeS3Key } from '../../src/tagging/tags.ts';
import { fakeClassifier, MemoryStore } from '../helpers/fakes.ts';

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
    env: {},
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
