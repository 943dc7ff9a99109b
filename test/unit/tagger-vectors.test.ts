/**
 * The tagger's vector index writes (src/tagging/tagger.ts, steps 5 and 6) with in-memory store, label
 * index and vector index and a fake classifier with an embedding. The races themselves are
 * test/unit/index-convergence.test.ts's property; these are the single cases, one rule each.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { taggerSettings } from '../../src/settings.ts';
import { createS3Tagger } from '../../src/tagging/notifications.ts';
import { encodeS3Key } from '../../src/tagging/tags.ts';
import { fakeClassifier, MemoryStore } from '../helpers/fakes.ts';
import { MemoryIndex } from '../helpers/memory-index.ts';
import {
  EMBEDDING_DIMENSION,
  fakeEmbedding,
  MemoryVectors,
  withEmbedding,
} from '../helpers/memory-vectors.ts';

const BUCKET = 'b';
const KEY = 'uploads/dog photo.jpg';
let seq = 0x100;
const nextSeq = () => (++seq).toString(16).toUpperCase().padStart(16, '0');
const created = (etag: string, sequencer = nextSeq()) => ({
  Records: [
    {
      eventName: 'ObjectCreated:Put',
      s3: {
        bucket: { name: BUCKET },
        object: { key: encodeS3Key(KEY), size: 2, eTag: etag.replace(/"/g, ''), sequencer },
      },
    },
  ],
});
const removed = (sequencer = nextSeq()) => ({
  Records: [
    {
      eventName: 'ObjectRemoved:Delete',
      s3: { bucket: { name: BUCKET }, object: { key: encodeS3Key(KEY), sequencer } },
    },
  ],
});

function setup() {
  const store = new MemoryStore();
  const index = new MemoryIndex();
  const vectors = new MemoryVectors(EMBEDDING_DIMENSION);
  const classifier = withEmbedding(fakeClassifier());
  const tagger = createS3Tagger({ store, classifier, index, vectors, ...taggerSettings({}) });
  return { store, index, vectors, classifier, tagger: (e: unknown) => tagger(e as never) };
}

describe('tagger: the vector index', () => {
  it("writes the object's embedding under its key, after the label index, with its metadata", async () => {
    const { store, vectors, tagger } = setup();
    const bytes = Uint8Array.of(7, 9);
    const etag = store.put(BUCKET, KEY, bytes);
    const [out] = await tagger(created(etag));
    expect(out).toMatchObject({ result: 'tagged', vector: 'written' });
    const [v] = await vectors.get([KEY]);
    expect(Array.from(v?.vector ?? [])).toEqual(Array.from(fakeEmbedding(bytes)));
    expect(v?.metadata).toEqual({
      etag: etag.replace(/"/g, ''),
      model: 'fake@1',
      labels: ['label-7', 'label-8', 'label-9'],
      categories: [],
      sha256: createHash('sha256').update(bytes).digest('hex'),
      classes: [0, 1, 2],
      scores: [0.5, 0.25, 0.5 / 3],
      uploadedAt: expect.any(Number),
    });
    expect(vectors.calls.filter((c) => c.startsWith('put'))).toHaveLength(1);
  });

  it('a duplicate delivery writes the same vector again; the index write, then tags and vector together, then one check', async () => {
    const { store, index, vectors, tagger } = setup();
    const etag = store.put(BUCKET, KEY, Uint8Array.of(7, 9));
    const event = created(etag);
    await tagger(event);
    const [again] = await tagger(event);
    expect(again).toMatchObject({ result: 'unchanged', vector: 'written' });
    expect(vectors.vectors.size).toBe(1);
    // The check after the tag write also re-checks the vector write: one read. Then step 7: its
    // group of copies (none), and its check.
    expect(index.calls.slice(-4)).toEqual([`put ${KEY}`, `get ${KEY}`, `copyGroupsOf ${KEY}`, `get ${KEY}`]);
  });

  it('a corrupt image (status other than ok) has no vector: an older one of the key is deleted', async () => {
    const { store, vectors, tagger } = setup();
    await tagger(created(store.put(BUCKET, KEY, Uint8Array.of(7, 9))));
    const [out] = await tagger(created(store.put(BUCKET, KEY, Uint8Array.of(0, 9))));
    expect(out).toMatchObject({ status: 'CorruptImage', vector: 'deleted' });
    expect(await vectors.get([KEY])).toEqual([]);
  });

  it('ObjectRemoved deletes the vector; a late older ObjectCreated writes none', async () => {
    const { store, vectors, tagger } = setup();
    const etag = store.put(BUCKET, KEY, Uint8Array.of(7, 9));
    const late = created(etag);
    await tagger(late);
    store.delete(BUCKET, KEY);
    const [out] = await tagger(removed());
    expect(out).toMatchObject({ result: 'removed', index: 'written', vector: 'deleted' });
    expect(await vectors.get([KEY])).toEqual([]);
    await tagger(late);
    expect(await vectors.get([KEY])).toEqual([]);
  });

  it('an older event that wrote its vector after the newer one repairs it: it embeds the newer version again', async () => {
    const { store, index, vectors, tagger } = setup();
    const v1 = store.put(BUCKET, KEY, Uint8Array.of(3, 9));
    const e1 = created(v1);
    // E1 is tagged up to its vector write; there E2 (a new version) is tagged completely.
    const put = vectors.put.bind(vectors);
    let interleaved = false;
    vectors.put = async (list) => {
      if (!interleaved && list[0]?.metadata.etag === v1.replace(/"/g, '')) {
        interleaved = true;
        vectors.put = put;
        const v2 = store.put(BUCKET, KEY, Uint8Array.of(5, 9));
        await tagger(created(v2));
      }
      return put(list);
    };
    await tagger(e1);
    const current = await index.get(BUCKET, KEY);
    const [v] = await vectors.get([KEY]);
    expect(v?.metadata.etag).toBe(current?.etag);
    expect(Array.from(v?.vector ?? [])).toEqual(Array.from(fakeEmbedding(Uint8Array.of(5, 9))));
  });
});
