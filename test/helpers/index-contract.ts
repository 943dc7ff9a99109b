/**
 * One contract for every LabelIndex (src/tagging/label-index.ts): the in-memory fake
 * (test/unit/index-memory.test.ts) and the DynamoDB adapter on dynalite
 * (test/integration/dynamo-index.test.ts) run exactly these tests.
 */
import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../models/resnet18.ts';
import {
  COPY_GROUP_ID,
  colourTerm,
  type IndexRecord,
  InvalidCursorError,
  type LabelIndex,
  nameTerm,
  normalizeLabel,
} from '../../src/tagging/label-index.ts';

export interface ContractTarget {
  /** A fresh, empty index for one test. */
  index(): Promise<LabelIndex>;
  /**
   * Every label item the store holds for a bucket (a table scan: tests only), as
   * "<normalised label> <key>"; undefined for stores that keep none apart from their objects.
   */
  labelItems?(bucket: string): Promise<string[]>;
}

let bucketCounter = 0;
/** A bucket of its own per test: the DynamoDB table is shared by the tests of one file. */
export const freshBucket = () => `bucket-${process.pid}-${++bucketCounter}`;

export const rec = (
  bucket: string,
  key: string,
  labels: [string, number][],
  extra: Partial<IndexRecord> = {},
): IndexRecord => ({
  bucket,
  key,
  status: 'ok',
  labels: labels.map(([label, score]) => ({ label, score })),
  model: 'fake@1',
  ...extra,
});

/** Every page of a search. */
export async function searchAll(index: LabelIndex, bucket: string, label: string, limit = 100) {
  const keys: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const out = await index.search(bucket, normalizeLabel(label), { limit, cursor });
    keys.push(...out.items.map((i) => i.key));
    cursor = out.cursor;
    if (!cursor) return keys;
  }
  throw new Error('more than 1000 pages');
}

/** Every label item of a bucket, as "<label> <key>" (Scan: a test-only operation). */
export async function scanLabelItems(
  client: DynamoDBClient,
  table: string,
  bucket: string,
): Promise<string[]> {
  const out: string[] = [];
  let start: Record<string, unknown> | undefined;
  for (let page = 0; page < 1000; page++) {
    const res = await client.send(
      new ScanCommand({ TableName: table, ExclusiveStartKey: start as never, ConsistentRead: true }),
    );
    for (const item of res.Items ?? []) {
      const pk = item.pk?.S ?? '';
      const prefix = `l#${bucket}#`;
      if (pk.startsWith(prefix)) out.push(`${pk.slice(prefix.length)} ${item.key?.S}`);
    }
    start = res.LastEvaluatedKey;
    if (!start) return out;
  }
  throw new Error('scan did not end');
}

const seq = (n: number) => n.toString(16).toUpperCase().padStart(16, '0');

export function labelIndexContract(name: string, target: ContractTarget) {
  describe(`LabelIndex contract: ${name}`, () => {
    it('a group search (anyOf) lists each object once, under the label it scores best on, across pages', async () => {
      const index = await target.index();
      const b = freshBucket();
      const anyOf = ['Airedale', 'Border Terrier', 'Yorkshire Terrier', 'dog'].map(normalizeLabel);
      await index.put(
        rec(b, 'uploads/air.jpg', [
          ['Airedale', 0.9],
          ['Border Terrier', 0.05],
        ]),
        seq(1),
      );
      // Best on a category: listed under it, once.
      await index.put(
        rec(
          b,
          'uploads/mix.jpg',
          [
            ['Border Terrier', 0.4],
            ['Yorkshire Terrier', 0.3],
          ],
          {
            categories: [{ label: 'dog', score: 0.8 }],
          },
        ),
        seq(1),
      );
      await index.put(
        rec(b, 'uploads/york.jpg', [
          ['Yorkshire Terrier', 0.6],
          ['Airedale', 0.6],
        ]),
        seq(1),
      );
      await index.put(rec(b, 'uploads/cat.jpg', [['tabby', 0.9]]), seq(1));
      for (let i = 0; i < 5; i++)
        await index.put(
          rec(b, `uploads/b${i}.jpg`, [
            ['Border Terrier', 0.5 - i / 100],
            ['Airedale', 0.1],
          ]),
          seq(1),
        );
      const want = [
        'uploads/air.jpg',
        'uploads/mix.jpg',
        'uploads/york.jpg',
        ...[0, 1, 2, 3, 4].map((i) => `uploads/b${i}.jpg`),
      ];
      const first = await index.search(b, normalizeLabel('terrier'), { limit: 100, anyOf });
      expect(first.items.map((i) => [i.key, i.score])).toEqual([
        ['uploads/air.jpg', 0.9],
        ['uploads/mix.jpg', 0.8],
        ['uploads/york.jpg', 0.6],
        ...[0, 1, 2, 3, 4].map((i) => [`uploads/b${i}.jpg`, 0.5 - i / 100]),
      ]);
      for (const limit of [1, 2, 3]) {
        const keys: string[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 50 && (page === 0 || cursor); page++) {
          const out = await index.search(b, normalizeLabel('terrier'), { limit, cursor, anyOf });
          expect(out.items.length).toBeLessThanOrEqual(limit);
          keys.push(...out.items.map((i) => i.key));
          cursor = out.cursor;
        }
        expect(cursor, `limit ${limit}`).toBeUndefined();
        expect(keys, `limit ${limit}`).toEqual(want);
      }
      // A group's cursor is not a cursor of another search.
      const paged = await index.search(b, normalizeLabel('terrier'), { limit: 1, anyOf });
      await expect(
        index.search(b, normalizeLabel('airedale'), { limit: 1, cursor: paged.cursor }),
      ).rejects.toBeInstanceOf(InvalidCursorError);
    });

    it('puts, gets, and searches one term best score first; labels written in any case and spacing share it', async () => {
      const index = await target.index();
      const b = freshBucket();
      await index.put(
        rec(b, 'uploads/a.jpg', [
          ['Golden Retriever', 0.5],
          ['tennis ball', 0.2],
        ]),
        seq(1),
      );
      await index.put(rec(b, 'uploads/b.jpg', [['golden retriever', 0.9]]), seq(1));
      await index.put(
        rec(b, 'uploads/c.jpg', [
          ['Labrador', 0.7],
          ['golden retriever', 0.1],
        ]),
        seq(1),
      );
      const page = await index.search(b, normalizeLabel('  GOLDEN   Retriever '), { limit: 10 });
      expect(page.items.map((i) => [i.key, i.score])).toEqual([
        ['uploads/b.jpg', 0.9],
        ['uploads/a.jpg', 0.5],
        ['uploads/c.jpg', 0.1],
      ]);
      expect(page.cursor).toBeUndefined();
      expect(page.items[2]).toEqual({
        key: 'uploads/c.jpg',
        score: 0.1,
        top: 'Labrador',
        labels: [
          { label: 'Labrador', score: 0.7 },
          { label: 'golden retriever', score: 0.1 },
        ],
      });
      expect(await index.get(b, 'uploads/a.jpg')).toMatchObject({
        bucket: b,
        key: 'uploads/a.jpg',
        status: 'ok',
        state: 'live',
        model: 'fake@1',
        labels: [
          { label: 'Golden Retriever', score: 0.5 },
          { label: 'tennis ball', score: 0.2 },
        ],
      });
      expect(await index.get(b, 'uploads/none.jpg')).toBeUndefined();
      expect(
        (await index.search(b, normalizeLabel('tennis ball'), { limit: 5 })).items.map((i) => i.key),
      ).toEqual(['uploads/a.jpg']);
      // Another bucket's objects are not in this bucket's partition.
      expect(
        (await index.search(freshBucket(), normalizeLabel('golden retriever'), { limit: 5 })).items,
      ).toEqual([]);
    });

    it('paginates with opaque cursors, equal scores ordered by key, and refuses foreign cursors and limits', async () => {
      const index = await target.index();
      const b = freshBucket();
      const keys = Array.from({ length: 7 }, (_, i) => `uploads/${String(i).padStart(2, '0')}.jpg`);
      for (const [i, key] of keys.entries())
        await index.put(rec(b, key, [['dog', i < 3 ? 0.5 : 0.25]]), seq(1));
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await index.search(b, normalizeLabel('dog'), { limit: 3, cursor });
        pages.push(page.items.map((i) => i.key));
        cursor = page.cursor;
      } while (cursor && pages.length < 10);
      expect(pages).toEqual([keys.slice(0, 3), keys.slice(3, 6), keys.slice(6)]);

      const first = await index.search(b, normalizeLabel('dog'), { limit: 2 });
      expect(first.cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      const c = first.cursor ?? '';
      // Same bucket, other label; other bucket; tampered; not base64url.
      await index.put(rec(b, 'uploads/cat.jpg', [['cat', 0.5]]), seq(1));
      await expect(index.search(b, normalizeLabel('cat'), { limit: 2, cursor: c })).rejects.toBeInstanceOf(
        InvalidCursorError,
      );
      await expect(
        index.search(freshBucket(), normalizeLabel('dog'), { limit: 2, cursor: c }),
      ).rejects.toBeInstanceOf(InvalidCursorError);
      const forged = Buffer.from(JSON.stringify({ pk: 'x', sk: 'y' })).toString('base64url');
      // The right partition, but a sort key this index never makes (DynamoDB refuses one over 1024 bytes).
      const { pk } = JSON.parse(Buffer.from(c, 'base64url').toString()) as { pk: string };
      const crafted = (sk: string) => Buffer.from(JSON.stringify({ pk, sk })).toString('base64url');
      const craftedCursors = [
        crafted(`0500000000#uploads/${'a'.repeat(1100)}.jpg`),
        crafted('y'),
        crafted('0500000000#'),
        crafted('1500000000#uploads/a.jpg'),
      ];
      for (const bad of [forged, 'not a cursor!', `${c}x`, '', ...craftedCursors])
        await expect(
          index.search(b, normalizeLabel('dog'), { limit: 2, cursor: bad }),
        ).rejects.toBeInstanceOf(InvalidCursorError);
      for (const limit of [0, 101, 1.5, Number.NaN])
        await expect(index.search(b, normalizeLabel('dog'), { limit })).rejects.toBeInstanceOf(RangeError);
      expect((await index.search(b, normalizeLabel('dog'), { limit: 100 })).items).toHaveLength(7);
    });

    it('an overwrite replaces the entries; an older or repeated delivery changes nothing', async () => {
      const index = await target.index();
      const b = freshBucket();
      const k = 'uploads/x.jpg';
      expect(
        (
          await index.put(
            rec(b, k, [
              ['dog', 0.8],
              ['cat', 0.1],
            ]),
            '0A1',
          )
        ).result,
      ).toBe('written');
      const newer = await index.put(
        rec(b, k, [
          ['car', 0.6],
          ['dog', 0.3],
        ]),
        '0A2',
      );
      expect(newer).toMatchObject({
        result: 'written',
        current: { sequencer: expect.stringMatching(/^0A2/) },
      });
      expect(await searchAll(index, b, 'cat')).toEqual([]);
      expect((await index.search(b, normalizeLabel('dog'), { limit: 5 })).items).toMatchObject([
        { key: k, score: 0.3 },
      ]);
      // Late delivery of the first event: stale, and it says who owns the key.
      const late = await index.put(
        rec(b, k, [
          ['dog', 0.8],
          ['cat', 0.1],
        ]),
        '0a1',
      );
      expect(late.result).toBe('stale');
      expect(late.current).toMatchObject({ labels: [{ label: 'car' }, { label: 'dog' }], state: 'live' });
      expect(await searchAll(index, b, 'cat')).toEqual([]);
      // Sequencers of different lengths compare as AWS says: right-pad with zeros.
      expect((await index.put(rec(b, k, [['cat', 0.9]]), '0A1F')).result).toBe('stale');
      expect((await index.put(rec(b, k, [['cat', 0.9]]), '0A20')).result).toBe('written');
      // The same event again (a duplicate delivery): written, same entries.
      expect((await index.put(rec(b, k, [['cat', 0.9]]), '0A20')).result).toBe('written');
      expect(await searchAll(index, b, 'cat')).toEqual([k]);
      expect(await searchAll(index, b, 'dog')).toEqual([]);
      expect(await searchAll(index, b, 'car')).toEqual([]);
      if (target.labelItems) expect(await target.labelItems(b)).toEqual([`cat ${k}`]);
    });

    it('a delete removes the entries and orders late deliveries; a newer create revives the key', async () => {
      const index = await target.index();
      const b = freshBucket();
      const k = 'uploads/gone.jpg';
      await index.put(
        rec(b, k, [
          ['dog', 0.8],
          ['cat', 0.1],
        ]),
        seq(10),
      );
      expect((await index.remove(b, k, seq(9))).result).toBe('stale');
      expect(await searchAll(index, b, 'dog')).toEqual([k]);
      expect((await index.remove(b, k, seq(11))).result).toBe('written');
      expect(await index.get(b, k)).toMatchObject({ state: 'deleted', labels: [] });
      expect(await searchAll(index, b, 'dog')).toEqual([]);
      expect(await searchAll(index, b, 'cat')).toEqual([]);
      // The create event of the deleted version arrives after the delete: stale.
      expect((await index.put(rec(b, k, [['dog', 0.8]]), seq(10))).result).toBe('stale');
      expect((await index.remove(b, k, seq(11))).result).toBe('written');
      expect(await searchAll(index, b, 'dog')).toEqual([]);
      // A delete of a key the index never saw leaves a tombstone that orders the late create.
      expect((await index.remove(b, 'uploads/never.jpg', seq(5))).result).toBe('written');
      expect((await index.put(rec(b, 'uploads/never.jpg', [['dog', 0.5]]), seq(4))).result).toBe('stale');
      // A new object under the same key, after the delete.
      expect((await index.put(rec(b, k, [['bird', 0.4]]), seq(12))).result).toBe('written');
      expect(await index.get(b, k)).toMatchObject({ state: 'live', labels: [{ label: 'bird' }] });
      expect(await searchAll(index, b, 'bird')).toEqual([k]);
      if (target.labelItems) expect((await target.labelItems(b)).sort()).toEqual([`bird ${k}`]);
    });

    it('version-less writes (backfill): over nothing, over the same version, never over a newer one', async () => {
      const index = await target.index();
      const b = freshBucket();
      const k = 'uploads/old.jpg';
      expect((await index.put(rec(b, k, [['dog', 0.5]], { etag: '"e1"' }))).result).toBe('written');
      expect(await index.get(b, k)).toMatchObject({ sequencer: '', etag: 'e1' });
      // Version-less over version-less: the later one wins (both describe the object as it is now).
      expect((await index.put(rec(b, k, [['cat', 0.5]], { etag: '"e2"' }))).result).toBe('written');
      // The event of that version arrives: written, with its sequencer.
      expect((await index.put(rec(b, k, [['cat', 0.5]], { etag: 'e2' }), seq(3))).result).toBe('written');
      // Re-tag with a new model, same version (same ETag): written, the sequencer kept.
      const retag = await index.put(rec(b, k, [['cat', 0.7]], { etag: '"e2"', model: 'fake@2' }));
      expect(retag).toMatchObject({ result: 'written', current: { model: 'fake@2' } });
      expect((await index.get(b, k))?.sequencer).toMatch(/^0+3/);
      // Another version read without a sequencer: its own event decides, not the backfill.
      expect((await index.put(rec(b, k, [['bird', 0.5]], { etag: '"e9"' }))).result).toBe('stale');
      expect((await index.put(rec(b, k, [['bird', 0.5]]))).result).toBe('stale');
      expect(await searchAll(index, b, 'cat')).toEqual([k]);
      // Never revives a deleted object.
      await index.remove(b, k, seq(4));
      expect((await index.put(rec(b, k, [['cat', 0.7]], { etag: '"e2"' }))).result).toBe('stale');
      expect(await searchAll(index, b, 'cat')).toEqual([]);
    });

    it('keys of any length S3 allows (1024 bytes), any characters, and removals without a sequencer', async () => {
      const index = await target.index();
      const b = freshBucket();
      const long = `uploads/${'x'.repeat(1012)}.jpg`; // 1024 bytes: S3's longest key
      const odd = 'uploads/a#b/🐕 "x" \\ y.JPG';
      await index.put(rec(b, long, [['dog', 0.5]]), seq(1));
      await index.put(rec(b, odd, [['dog', 0.6]]), seq(1));
      expect((await index.search(b, normalizeLabel('dog'), { limit: 10 })).items.map((i) => i.key)).toEqual([
        odd,
        long,
      ]);
      expect(await index.get(b, long)).toMatchObject({ key: long, state: 'live' });
      // A removal without a sequencer cannot be ordered against a sequenced write: stale.
      expect((await index.remove(b, long)).result).toBe('stale');
      expect((await index.remove(b, long, seq(2))).result).toBe('written');
      expect(await searchAll(index, b, 'dog')).toEqual([odd]);
      // Over a version-less record it applies.
      await index.put(rec(b, 'uploads/v.jpg', [['cat', 0.5]]));
      expect((await index.remove(b, 'uploads/v.jpg')).result).toBe('written');
      expect(await searchAll(index, b, 'cat')).toEqual([]);
      if (target.labelItems) expect((await target.labelItems(b)).sort()).toEqual([`dog ${odd}`]);
    });

    it('bad images are indexed without labels; duplicate labels keep the best score', async () => {
      const index = await target.index();
      const b = freshBucket();
      await index.put({ ...rec(b, 'uploads/bad.jpg', []), status: 'CorruptImage' }, seq(1));
      expect(await index.get(b, 'uploads/bad.jpg')).toMatchObject({ status: 'CorruptImage', labels: [] });
      // ImageNet has two classes named "crane" (the bird and the machine).
      await index.put(
        rec(b, 'uploads/crane.jpg', [
          ['crane', 0.3],
          ['Crane', 0.4],
          ['pole', 0.1],
        ]),
        seq(1),
      );
      const page = await index.search(b, normalizeLabel('crane'), { limit: 10 });
      expect(page.items.map((i) => [i.key, i.score])).toEqual([['uploads/crane.jpg', 0.4]]);
      // From ok to a bad status: the label entries go.
      await index.put({ ...rec(b, 'uploads/crane.jpg', []), status: 'ImageTooLarge' }, seq(2));
      expect(await searchAll(index, b, 'crane')).toEqual([]);
      expect(await searchAll(index, b, 'pole')).toEqual([]);
    });

    it('dominant colours: kept with the object, searchable under colourTerm, apart from a class of that name', async () => {
      const index = await target.index();
      const b = freshBucket();
      const colours = [
        { label: 'orange', score: 0.6 },
        { label: 'white', score: 0.3 },
      ];
      await index.put(rec(b, 'uploads/van.jpg', [['minivan', 0.7]], { colours }), seq(1));
      await index.put(rec(b, 'uploads/fruit.jpg', [['orange', 0.9]]), seq(1));
      expect((await index.get(b, 'uploads/van.jpg'))?.colours).toEqual(colours);
      const page = await index.search(b, colourTerm('orange'), { limit: 10 });
      expect(page.items).toMatchObject([{ key: 'uploads/van.jpg', score: 0.6, colours }]);
      expect(await searchAll(index, b, 'orange')).toEqual(['uploads/fruit.jpg']);
      // A new version without the colours takes them away.
      await index.put(rec(b, 'uploads/van.jpg', [['minivan', 0.7]]), seq(2));
      expect((await index.get(b, 'uploads/van.jpg'))?.colours).toBeUndefined();
      expect(await searchAll(index, b, colourTerm('white'))).toEqual([]);
    });

    it('taught names: kept with the object, searchable under nameTerm, changed by a version-less write of the same version', async () => {
      const index = await target.index();
      const b = freshBucket();
      const names = [{ label: 'my dogs', score: 0.81 }];
      await index.put(rec(b, 'uploads/rex.jpg', [['beagle', 0.9]], { etag: 'e1' }), seq(1));
      await index.put(rec(b, 'uploads/ted.jpg', [['my dogs', 0.9]], { etag: 'e2' }), seq(1));
      // Teaching adds the name to the stored version (no sequencer, same ETag): applied.
      const current = await index.get(b, 'uploads/rex.jpg');
      const { result } = await index.put({ ...(current as IndexRecord), names }, undefined);
      expect(result).toBe('written');
      expect((await index.get(b, 'uploads/rex.jpg'))?.names).toEqual(names);
      const page = await index.search(b, nameTerm('My  Dogs'), { limit: 10 });
      expect(page.items).toMatchObject([{ key: 'uploads/rex.jpg', score: 0.81, names }]);
      // A class label spelt like the name stays apart.
      expect(await searchAll(index, b, 'my dogs')).toEqual(['uploads/ted.jpg']);
      // Forgetting it (the same version again, without names) empties its partition.
      await index.put({ ...(current as IndexRecord), names: [] }, undefined);
      expect((await index.get(b, 'uploads/rex.jpg'))?.names).toBeUndefined();
      expect(await searchAll(index, b, nameTerm('my dogs'))).toEqual([]);
      if (target.labelItems)
        expect((await target.labelItems(b)).sort()).toEqual([
          'beagle uploads/rex.jpg',
          'my dogs uploads/ted.jpg',
        ]);
    });

    it('concurrent, duplicated, out-of-order writes end as the newest event says', async () => {
      const index = await target.index();
      const b = freshBucket();
      const random = seededRandom(20261129);
      const labels = ['dog', 'cat', 'bird', 'Dog'];
      const keys = ['uploads/k0.jpg', 'uploads/k1.jpg', 'uploads/k2.jpg'];
      for (let round = 0; round < 12; round++) {
        type Op = { key: string; seq: number; labels?: [string, number][] };
        const ops: Op[] = [];
        let n = round * 100;
        for (const key of keys)
          for (let i = 0; i < 6; i++) {
            const deleted = random() < 0.25;
            const picked = labels
              .filter(() => random() < 0.5)
              // Few distinct scores: versions often share a label item (same label, same score).
              .map((l) => [l, random() < 0.5 ? 0.25 : 0.5] as [string, number]);
            ops.push({ key, seq: ++n, labels: deleted ? undefined : picked });
          }
        const deliveries = ops.flatMap((op) => (random() < 0.3 ? [op, op] : [op]));
        deliveries.sort(() => random() - 0.5);
        await Promise.all(
          deliveries.map((op) =>
            op.labels
              ? index.put(rec(b, op.key, op.labels), seq(op.seq))
              : index.remove(b, op.key, seq(op.seq)),
          ),
        );
        const newest = new Map<string, Op>();
        for (const op of ops) if ((newest.get(op.key)?.seq ?? -1) < op.seq) newest.set(op.key, op);
        for (const key of keys) {
          const want = newest.get(key);
          const got = await index.get(b, key);
          expect(got?.sequencer, `${key} round ${round}`).toMatch(new RegExp(`^${seq(want?.seq ?? 0)}`));
          expect(got?.state).toBe(want?.labels ? 'live' : 'deleted');
        }
        for (const label of ['dog', 'cat', 'bird']) {
          const want = keys.filter((k) => newest.get(k)?.labels?.some(([l]) => normalizeLabel(l) === label));
          expect((await searchAll(index, b, label, 2)).sort(), `${label} round ${round}`).toEqual(want);
          // And each item carries the newest labels of its object.
          for (const item of (await index.search(b, normalizeLabel(label), { limit: 100 })).items)
            expect(item.labels, `${item.key} under ${label}, round ${round}`).toEqual(
              (newest.get(item.key)?.labels ?? []).map(([l, score]) => ({ label: l, score })),
            );
        }
        if (target.labelItems) {
          const items = (await target.labelItems(b)).sort();
          const want = keys
            .flatMap((k) => [
              ...new Set((newest.get(k)?.labels ?? []).map(([l]) => `${normalizeLabel(l)} ${k}`)),
            ])
            .sort();
          expect(items, `label items, round ${round}`).toEqual(want);
        }
      }
    });

    it('groups of copies: join, move, leave, members oldest first; keys of any length; other buckets apart', async () => {
      const index = await target.index();
      const b = freshBucket();
      const other = freshBucket();
      const g1 = '9999999999000-0123456789abcdef';
      const g2 = '9999999998000-fedcba9876543210';
      expect(COPY_GROUP_ID.test(g1) && COPY_GROUP_ID.test(g2)).toBe(true);
      const long = `uploads/${'長'.repeat(330)}.jpg`; // 1002 bytes: the member's sort key needs its hash
      expect(await index.copyGroup(b, g1)).toEqual([]);
      await index.joinCopyGroup(b, g1, { key: 'uploads/b.jpg', since: 20 });
      await index.joinCopyGroup(b, g1, { key: 'uploads/a.jpg', since: 20 });
      await index.joinCopyGroup(b, g1, { key: long, since: 10 });
      await index.joinCopyGroup(other, g1, { key: 'uploads/z.jpg', since: 1 });
      expect(await index.copyGroup(b, g1)).toEqual([
        { key: long, since: 10 },
        { key: 'uploads/a.jpg', since: 20 },
        { key: 'uploads/b.jpg', since: 20 },
      ]);
      expect(await index.copyGroupsOf(b, ['uploads/a.jpg', long, 'uploads/none.jpg'])).toEqual(
        new Map([
          ['uploads/a.jpg', g1],
          [long, g1],
        ]),
      );
      // A join again (a duplicate delivery) changes nothing; a join elsewhere moves the key.
      await index.joinCopyGroup(b, g1, { key: 'uploads/a.jpg', since: 20 });
      await index.joinCopyGroup(b, g2, { key: 'uploads/b.jpg', since: 20 });
      await index.joinCopyGroup(b, g2, { key: 'uploads/c.jpg', since: 30 });
      expect((await index.copyGroup(b, g1)).map((m) => m.key)).toEqual([long, 'uploads/a.jpg']);
      expect((await index.copyGroup(b, g2)).map((m) => m.key)).toEqual(['uploads/b.jpg', 'uploads/c.jpg']);
      expect(await index.leaveCopyGroup(b, long)).toBe(g1);
      expect(await index.leaveCopyGroup(b, long)).toBeUndefined();
      expect((await index.copyGroup(b, g1)).map((m) => m.key)).toEqual(['uploads/a.jpg']);
      expect(await index.copyGroup(other, g1)).toEqual([{ key: 'uploads/z.jpg', since: 1 }]);
      // Listing: newest first (smaller id first), groups of one left out.
      const page = await index.copyGroups(b, { limit: 50 });
      expect(page).toEqual({
        groups: [
          {
            id: g2,
            members: [
              { key: 'uploads/b.jpg', since: 20 },
              { key: 'uploads/c.jpg', since: 30 },
            ],
          },
        ],
      });
      await expect(index.joinCopyGroup(b, 'not-an-id', { key: 'uploads/x.jpg', since: 1 })).rejects.toThrow();
    });

    it('groups of copies: pages of groups, with cursors that are refused when foreign or altered', async () => {
      const index = await target.index();
      const b = freshBucket();
      const ids = Array.from({ length: 7 }, (_, i) => `${String(9_999_999_990_000 + i)}-${'ab'.repeat(8)}`);
      for (const [i, id] of ids.entries())
        for (let m = 0; m < 2 + (i % 3); m++)
          await index.joinCopyGroup(b, id, { key: `uploads/g${i}-m${m}.jpg`, since: 100 + m });
      for (const limit of [1, 2, 3, 50]) {
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 20 && (page === 0 || cursor); page++) {
          const out = await index.copyGroups(b, { limit, cursor });
          expect(out.groups.length).toBeLessThanOrEqual(limit);
          for (const g of out.groups) {
            const i = ids.indexOf(g.id);
            expect(g.members.map((m) => m.key)).toEqual(
              Array.from({ length: 2 + (i % 3) }, (_, m) => `uploads/g${i}-m${m}.jpg`),
            );
          }
          seen.push(...out.groups.map((g) => g.id));
          cursor = out.cursor;
        }
        expect(cursor, `limit ${limit}`).toBeUndefined();
        expect(seen, `limit ${limit}`).toEqual(ids);
      }
      const first = await index.copyGroups(b, { limit: 1 });
      for (const bad of ['', 'x', `${first.cursor}x`, Buffer.from('g:1-2').toString('base64url')])
        await expect(index.copyGroups(b, { limit: 1, cursor: bad })).rejects.toBeInstanceOf(
          InvalidCursorError,
        );
      for (const limit of [0, 51, 1.5])
        await expect(index.copyGroups(b, { limit })).rejects.toBeInstanceOf(RangeError);
    });

    it('groups of copies: concurrent joins and leaves of the same keys end as the last one of each key says', async () => {
      const index = await target.index();
      const b = freshBucket();
      const groups = ['9999999999000-0000000000000001', '9999999999000-0000000000000002'];
      const keys = ['uploads/p.jpg', 'uploads/q.jpg', 'uploads/r.jpg'];
      const random = seededRandom(25);
      for (let round = 0; round < 6; round++) {
        // Per key, a chain of moves (each waits for the previous one of that key), all keys at once.
        const last = new Map<string, string | undefined>();
        await Promise.all(
          keys.map(async (key) => {
            for (let i = 0; i < 4; i++) {
              const g = random() < 0.25 ? undefined : groups[Math.floor(random() * 2)];
              if (g === undefined) await index.leaveCopyGroup(b, key);
              else await index.joinCopyGroup(b, g, { key, since: i });
              last.set(key, g);
            }
          }),
        );
        for (const g of groups)
          expect((await index.copyGroup(b, g)).map((m) => m.key).sort(), `round ${round}`).toEqual(
            keys.filter((k) => last.get(k) === g),
          );
      }
    });
  });
}
