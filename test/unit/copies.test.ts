/**
 * Groups of copies recorded at ingest (src/tagging/duplicates.ts, the tagger's step 7) with the
 * in-memory store, label index and vector index and the fake classifier, whose embedding is a
 * function of the first byte: bytes starting alike are the same photo (near copies, or exact ones
 * when all bytes are equal); photos 2 and 10 are far apart (cosine 0.43).
 */
import { describe, expect, it } from 'vitest';
import { taggerSettings } from '../../src/settings.ts';
import { COPY_QUERY_TOP_K, copyGroupId, recordCopies } from '../../src/tagging/duplicates.ts';
import { COPY_GROUP_ID } from '../../src/tagging/label-index.ts';
import { createS3Tagger } from '../../src/tagging/notifications.ts';
import { encodeS3Key } from '../../src/tagging/tags.ts';
import { fakeClassifier, MemoryStore } from '../helpers/fakes.ts';
import { MemoryIndex } from '../helpers/memory-index.ts';
import { EMBEDDING_DIMENSION, MemoryVectors, withEmbedding } from '../helpers/memory-vectors.ts';

const BUCKET = 'b';
let seq = 0x100;
const nextSeq = () => (++seq).toString(16).toUpperCase().padStart(16, '0');
const created = (key: string, etag: string, sequencer = nextSeq()) => ({
  Records: [
    {
      eventName: 'ObjectCreated:Put',
      s3: {
        bucket: { name: BUCKET },
        object: { key: encodeS3Key(key), size: 2, eTag: etag.replace(/"/g, ''), sequencer },
      },
    },
  ],
});
const removed = (key: string, sequencer = nextSeq()) => ({
  Records: [
    {
      eventName: 'ObjectRemoved:Delete',
      s3: { bucket: { name: BUCKET }, object: { key: encodeS3Key(key), sequencer } },
    },
  ],
});

function setup(options: { copies?: boolean } = {}) {
  const store = new MemoryStore();
  const index = new MemoryIndex();
  const vectors = new MemoryVectors(EMBEDDING_DIMENSION);
  const classifier = withEmbedding(fakeClassifier());
  const tagger = createS3Tagger({ store, classifier, index, vectors, ...taggerSettings({}), ...options });
  const run = (e: unknown) => tagger(e as never);
  /** Uploads and tags one object; returns the create event (for redeliveries). */
  const upload = async (key: string, bytes: number[]) => {
    const event = created(key, store.put(BUCKET, key, Uint8Array.from(bytes)));
    const [out] = await run(event);
    return { event, out };
  };
  const remove = async (key: string) => {
    store.delete(BUCKET, key);
    return (await run(removed(key)))[0];
  };
  /** Every group with two or more members, as sorted key lists. */
  const groups = async () =>
    (await index.copyGroups(BUCKET, { limit: 50 })).groups.map((g) => g.members.map((m) => m.key));
  return { store, index, vectors, run, upload, remove, groups };
}

describe('groups of copies at ingest', () => {
  it('exact and near copies of one photo form one group, the oldest first; another photo stays apart', async () => {
    const t = setup();
    const first = await t.upload('uploads/p.jpg', [2, 9]);
    expect(first.out).toMatchObject({
      result: 'tagged',
      vector: 'written',
      copies: { group: null, copies: 0 },
    });
    await t.upload('uploads/other.jpg', [10, 9]);
    const exact = await t.upload('uploads/p-copy.jpg', [2, 9]);
    expect(exact.out).toMatchObject({ copies: { copies: 1 } });
    const group = (exact.out as { copies: { group: string } }).copies.group;
    expect(group).toMatch(COPY_GROUP_ID);
    await t.upload('uploads/p-small.jpg', [2, 7, 7]);
    expect(await t.groups()).toEqual([['uploads/p.jpg', 'uploads/p-copy.jpg', 'uploads/p-small.jpg']]);
    // The group is named after its oldest member, whatever uploaded the copy that formed it.
    const [p] = await t.vectors.get(['uploads/p.jpg']);
    expect(group).toBe(
      copyGroupId({
        key: 'uploads/p.jpg',
        etag: p?.metadata.etag ?? '',
        since: p?.metadata.uploadedAt as number,
      }),
    );
    expect(await t.index.copyGroupsOf(BUCKET, ['uploads/other.jpg'])).toEqual(new Map());
    // One neighbours query per upload (the tagger's one extra vector request).
    expect(t.vectors.calls.filter((c) => c.startsWith('query'))).toEqual(
      Array(4).fill(`query ${COPY_QUERY_TOP_K}`),
    );
  });

  it('a delete leaves the group; a group of one is no group; an overwrite with another photo leaves it', async () => {
    const t = setup();
    await t.upload('uploads/a.jpg', [2, 9]);
    await t.upload('uploads/b.jpg', [2, 9]);
    await t.upload('uploads/c.jpg', [2, 8]);
    expect(await t.groups()).toEqual([['uploads/a.jpg', 'uploads/b.jpg', 'uploads/c.jpg']]);
    expect(await t.remove('uploads/a.jpg')).toMatchObject({ result: 'removed', copies: { group: null } });
    expect(await t.groups()).toEqual([['uploads/b.jpg', 'uploads/c.jpg']]);
    // c becomes another photo: b is left alone, so the group is gone.
    const over = await t.upload('uploads/c.jpg', [10, 1]);
    expect(over.out).toMatchObject({ copies: { group: null, copies: 0 } });
    expect(await t.groups()).toEqual([]);
    expect(await t.index.copyGroupsOf(BUCKET, ['uploads/a.jpg', 'uploads/b.jpg', 'uploads/c.jpg'])).toEqual(
      new Map(),
    );
    // A corrupt image has no vector, so no copies.
    await t.upload('uploads/d.jpg', [2, 9]);
    await t.upload('uploads/e.jpg', [0, 9]);
    expect(await t.groups()).toEqual([['uploads/b.jpg', 'uploads/d.jpg']]);
    await t.upload('uploads/d.jpg', [0]);
    expect(await t.groups()).toEqual([]);
  });

  it('duplicate and late deliveries change nothing: the group follows the newest version', async () => {
    const t = setup();
    const a = await t.upload('uploads/a.jpg', [2, 9]);
    const b = await t.upload('uploads/b.jpg', [2, 9]);
    const before = await t.groups();
    await t.run(b.event);
    await t.run(a.event);
    expect(await t.groups()).toEqual(before);
    // b is overwritten with another photo; its old event, delivered late, is stale and keeps b out.
    await t.upload('uploads/b.jpg', [10, 9]);
    expect(await t.groups()).toEqual([]);
    const [late] = await t.run(b.event);
    expect(late?.result).toBe('superseded');
    expect(await t.groups()).toEqual([]);
    // A delete delivered twice.
    await t.upload('uploads/c.jpg', [2, 5]);
    expect(await t.groups()).toEqual([['uploads/a.jpg', 'uploads/c.jpg']]);
    const del = removed('uploads/c.jpg');
    t.store.delete(BUCKET, 'uploads/c.jpg');
    await t.run(del);
    await t.run(del);
    expect(await t.groups()).toEqual([]);
  });

  it('copies uploaded at the same time form one group', async () => {
    const t = setup();
    await t.upload('uploads/orig.jpg', [2, 9]);
    await new Promise((r) => setTimeout(r, 5)); // a later millisecond: orig is the oldest
    const events = ['uploads/c1.jpg', 'uploads/c2.jpg', 'uploads/c3.jpg'].map((k, i) =>
      created(k, t.store.put(BUCKET, k, Uint8Array.of(2, 20 + i))),
    );
    await Promise.all(events.map((e) => t.run(e)));
    const groups = await t.groups();
    expect(groups).toHaveLength(1);
    expect(groups[0]?.[0]).toBe('uploads/orig.jpg');
    expect([...(groups[0] ?? [])].sort()).toEqual(
      ['uploads/c1.jpg', 'uploads/c2.jpg', 'uploads/c3.jpg', 'uploads/orig.jpg'].sort(),
    );
  });

  it('recordCopies re-reads the stored vector when the version it was given is not the indexed one', async () => {
    const t = setup();
    await t.upload('uploads/a.jpg', [2, 9]);
    await t.upload('uploads/b.jpg', [10, 9]);
    const [a] = await t.vectors.get(['uploads/a.jpg']);
    if (!a) throw new Error('a has no vector');
    // Given a's vector under b's key (a stale version): the label index names b's own version.
    const wrong = { key: 'uploads/b.jpg', vector: a.vector, metadata: { ...a.metadata } };
    const out = await recordCopies({ index: t.index, vectors: t.vectors }, BUCKET, 'uploads/b.jpg', wrong);
    expect(out).toEqual({ group: null, copies: 0 });
    expect(await t.groups()).toEqual([]);
  });

  it('copies: false records no groups (npm run bench:vector-tagging measures the difference)', async () => {
    const t = setup({ copies: false });
    await t.upload('uploads/a.jpg', [2, 9]);
    const b = await t.upload('uploads/b.jpg', [2, 9]);
    expect(b.out).not.toHaveProperty('copies');
    expect(await t.groups()).toEqual([]);
  });
});
