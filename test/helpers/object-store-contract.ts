/**
 * One contract for every ObjectStore (src/tagging/object-store.ts): the in-memory fake MemoryStore
 * (test/unit/object-store-memory.test.ts) and the S3 adapter on the local S3, s3rver as `npm start`
 * runs it (test/integration/object-store-local-s3.test.ts), run exactly these tests, as the label
 * index's contract (index-contract.ts) does for its fake and DynamoDB.
 */
import { describe, expect, it } from 'vitest';
import { bareEtag } from '../../src/tagging/label-index.ts';
import { ObjectChangedError, ObjectMissingError, type ObjectStore } from '../../src/tagging/object-store.ts';
import type { Tag } from '../../src/tagging/tags.ts';

export interface ObjectStoreTarget {
  /** The store under test, and the bucket its tests write to. */
  store: ObjectStore;
  bucket: string;
  /** Writes an object (a new version) with its tags, as an upload does; returns its ETag. */
  put(key: string, bytes: Uint8Array, tags?: Tag[]): Promise<string>;
  delete(key: string): Promise<void>;
}

let counter = 0;
/** A key of its own per test. */
const freshKey = (name = 'photo.jpg') => `uploads/contract-${process.pid}-${++counter}/${name}`;

const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) % 256);
const sorted = (tags: Tag[]) => [...tags].sort((a, b) => a.Key.localeCompare(b.Key));

export function objectStoreContract(name: string, target: () => ObjectStoreTarget) {
  describe(`ObjectStore contract: ${name}`, () => {
    it('reads at most maxBytes from the start, with the full size and the ETag of the version', async () => {
      const { store, bucket, put } = target();
      const key = freshKey();
      const body = bytes(5000);
      const etag = await put(key, body);
      const cut = await store.get(bucket, key, { maxBytes: 1000 });
      expect(Buffer.from(cut.bytes)).toEqual(Buffer.from(body.subarray(0, 1000)));
      expect(cut.size).toBe(5000);
      expect(bareEtag(cut.etag ?? '')).toBe(bareEtag(etag));
      const whole = await store.get(bucket, key, { maxBytes: 10_000 });
      expect(Buffer.from(whole.bytes)).toEqual(Buffer.from(body));
      expect(whole.size).toBe(5000);
      const one = await store.get(bucket, key, { maxBytes: 1 });
      expect([...one.bytes]).toEqual([body[0]]);
      expect(one.size).toBe(5000);
    });

    it('reads an empty object without a Range: no bytes, size 0', async () => {
      const { store, bucket, put } = target();
      const key = freshKey('empty.jpg');
      await put(key, new Uint8Array(0));
      const read = await store.get(bucket, key, { maxBytes: 1, ranged: false });
      expect(read.bytes.length).toBe(0);
      expect(read.size).toBe(0);
    });

    it('reads only the version asked for (If-Match, quotes optional); a newer one is ObjectChangedError', async () => {
      const { store, bucket, put } = target();
      const key = freshKey();
      const first = await put(key, bytes(10));
      expect((await store.get(bucket, key, { maxBytes: 100, ifMatch: first })).size).toBe(10);
      expect((await store.get(bucket, key, { maxBytes: 100, ifMatch: bareEtag(first) })).size).toBe(10);
      const second = await put(key, bytes(20));
      expect(bareEtag(second)).not.toBe(bareEtag(first));
      await expect(store.get(bucket, key, { maxBytes: 100, ifMatch: first })).rejects.toBeInstanceOf(
        ObjectChangedError,
      );
      expect((await store.get(bucket, key, { maxBytes: 100, ifMatch: second })).size).toBe(20);
    });

    it('a missing object is ObjectMissingError for every operation, after a delete too', async () => {
      const { store, bucket, put, delete: remove } = target();
      const key = freshKey();
      await expect(store.get(bucket, key, { maxBytes: 10 })).rejects.toBeInstanceOf(ObjectMissingError);
      await expect(store.getTags(bucket, key)).rejects.toBeInstanceOf(ObjectMissingError);
      await expect(store.putTags(bucket, key, [{ Key: 'a', Value: 'b' }])).rejects.toBeInstanceOf(
        ObjectMissingError,
      );
      await put(key, bytes(3));
      await remove(key);
      await expect(store.get(bucket, key, { maxBytes: 10 })).rejects.toBeInstanceOf(ObjectMissingError);
      await expect(store.getTags(bucket, key)).rejects.toBeInstanceOf(ObjectMissingError);
    });

    it('keeps the tags of the upload and replaces the whole set on putTags (Chinese and S3 punctuation included)', async () => {
      const { store, bucket, put } = target();
      const key = freshKey();
      const mine = [{ Key: 'owner', Value: 'alice' }];
      await put(key, bytes(3), mine);
      expect(await store.getTags(bucket, key)).toEqual(mine);
      const set = [
        { Key: 'owner', Value: 'alice' },
        { Key: 'tagger:status', Value: 'ok' },
        { Key: 'tagger:top', Value: '金毛猎犬' },
        { Key: 'tagger:labels', Value: 'Golden Retriever=0.785/muzzle=0.042 +-_.:@' },
      ];
      await store.putTags(bucket, key, set);
      expect(sorted(await store.getTags(bucket, key))).toEqual(sorted(set));
      await store.putTags(bucket, key, [{ Key: 'tagger:status', Value: 'CorruptImage' }]);
      expect(await store.getTags(bucket, key)).toEqual([{ Key: 'tagger:status', Value: 'CorruptImage' }]);
      await store.putTags(bucket, key, []);
      expect(await store.getTags(bucket, key)).toEqual([]);
    });

    it('a new version of the object comes with its own tags, not the old ones', async () => {
      const { store, bucket, put } = target();
      const key = freshKey();
      await put(key, bytes(3));
      await store.putTags(bucket, key, [{ Key: 'tagger:status', Value: 'ok' }]);
      await put(key, bytes(4), [{ Key: 'owner', Value: 'bob' }]);
      expect(await store.getTags(bucket, key)).toEqual([{ Key: 'owner', Value: 'bob' }]);
    });
  });
}
