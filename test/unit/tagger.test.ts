/** The tagger's rules against an in-memory store and a fake classifier: no S3, no model needed. */
import type { S3Event } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createS3Tagger } from '../../src/tagging/handler.ts';
import { encodeS3Key } from '../../src/tagging/tags.ts';
import { fakeClassifier, MemoryStore } from '../helpers/fakes.ts';

const BUCKET = 'b';
const created = (key: string, eventName = 'ObjectCreated:Put') => ({
  eventName,
  s3: { bucket: { name: BUCKET }, object: { key: encodeS3Key(key), size: 3 } },
});
const event = (...records: unknown[]) => ({ Records: records }) as unknown as S3Event;

function setup(limits = {}) {
  const store = new MemoryStore();
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

  it('refuses an oversized object from its size, without reading it', async () => {
    const { store, tagger, classifier } = setup({ maxBytes: 4 });
    store.put(BUCKET, 'uploads/big.jpg', Uint8Array.of(9, 9, 9, 9, 9));
    const [out] = await tagger(event(created('uploads/big.jpg')));
    expect(out).toMatchObject({ result: 'tagged', status: 'ImageTooLarge' });
    expect(store.calls.some((c) => c.startsWith('get '))).toBe(false);
    expect(classifier.seen).toEqual([]);
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
