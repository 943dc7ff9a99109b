/**
 * Burst and order (issue 9, requirement 5), on real parts: a local S3 (s3rver) whose own events
 * drive the real tagger (real classifier: the int8 MobileNetV2 of ../shared) writing to a real
 * DynamoDB-compatible server (dynalite).
 *
 * 200 images are put within a few seconds (the 50 photos of ../shared under distinct keys), then 30
 * are overwritten with another photo and 30 deleted (10 of them after their overwrite), while the
 * events are being delivered: 8 at a time, in a seeded random order, 15% of them twice.
 * At the end every live object has exactly one correct tag set (its labels are those of classifying
 * its current bytes) and matching index entries (every label partition queried; the table scanned,
 * here only, for orphan label items) and vectors in a local S3 Vectors (the embedding of its current
 * bytes, under its current ETag), and deleted objects have none. Prints the time it took.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectTaggingCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../models/resnet18.ts';
import { type LocalDynamo, startLocalDynamo } from '../../scripts/local/local-dynamo.ts';
import { type LocalS3, startLocalS3 } from '../../scripts/local/local-s3.ts';
import { type LocalS3Vectors, startLocalS3Vectors } from '../../scripts/local/local-s3-vectors.ts';
import { dynamoLabelIndex } from '../../src/aws/dynamo-index.ts';
import { s3ObjectStore } from '../../src/aws/s3-object-store.ts';
import { s3VectorIndex } from '../../src/aws/s3-vector-index.ts';
import { type Classifier, createClassifier } from '../../src/classifier/classifier.ts';
import { DEFAULT_MIN_CONFIDENCE } from '../../src/classifier/postprocess.ts';
import { taggerSettings } from '../../src/settings.ts';
import { colourTerm, normalizeLabel } from '../../src/tagging/label-index.ts';
import { createS3Tagger } from '../../src/tagging/notifications.ts';
import type { TagOutcome } from '../../src/tagging/tagger.ts';
import {
  formatLabelList,
  isServiceTag,
  MIN_INDEXED_COLOUR_SHARE,
  sanitizeTagValue,
} from '../../src/tagging/tags.ts';
import { cosineSimilarity, type VectorIndex } from '../../src/tagging/vector-index.ts';
import { scanLabelItems, searchAll } from '../helpers/index-contract.ts';
import { sharedModelFolder, sharedPhotos, skipUnlessShared } from '../helpers/shared.ts';

const BUCKET = 'burst';
const TABLE = 'labels-burst';
const IMAGES = 200;
const OVERWRITES = 30;
const DELETES = 30;
const CONCURRENCY = 8;
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

describe.skipIf(skipUnlessShared('the burst test'))('burst and order: local S3 + tagger + dynalite', () => {
  let dir: string;
  let s3server: LocalS3;
  let dynamo: LocalDynamo;
  let s3: S3Client;
  let classifier: Classifier;
  let vectorServer: LocalS3Vectors;
  let vectors: VectorIndex;
  const queue: S3Event[] = [];
  let emitted = 0;
  const random = seededRandom(9);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'burst-'));
    dynamo = await startLocalDynamo({ tables: [TABLE] });
    s3server = await startLocalS3({
      directory: dir,
      buckets: [BUCKET],
      onEvent: (event) => {
        emitted++;
        queue.push(event);
        if (random() < 0.15) queue.push(event);
      },
    });
    s3 = new S3Client({
      endpoint: s3server.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials,
    });
    classifier = await createClassifier(sharedModelFolder(), { threads: 2 });
    const dimension = classifier.folder.meta.embedding?.dimension ?? 0;
    vectorServer = await startLocalS3Vectors({
      indexes: [{ bucket: 'burst-vectors', index: 'burst-1', dimension }],
    });
    vectors = s3VectorIndex(vectorServer.client, { bucket: 'burst-vectors', index: 'burst-1', dimension });
  });
  afterAll(async () => {
    s3?.destroy();
    await s3server?.close();
    await dynamo?.close();
    await vectorServer?.close();
    await classifier?.release();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('200 puts, 30 overwrites, 30 deletes, shuffled and duplicated deliveries: tags = index = content', async () => {
    const photos = await Promise.all(
      sharedPhotos().map(async (p) => ({ file: p.file, bytes: await readFile(p.path) })),
    );
    const keyOf = (i: number) => `uploads/burst/${String(i).padStart(3, '0')}.jpg`;
    /** What each key holds at the end: a photo index, or undefined when deleted. */
    const content = new Map<string, number | undefined>();
    const tagger = createS3Tagger({
      store: s3ObjectStore(s3),
      classifier,
      index: dynamoLabelIndex(dynamo.client, TABLE),
      vectors,
      ...taggerSettings({ UPLOAD_PREFIX: 'uploads/' }),
    });

    const started = performance.now();
    // The S3 side: 200 puts 16 at a time (every fifth with a user tag), then overwrites and deletes.
    const s3Side = (async () => {
      const order = Array.from({ length: IMAGES }, (_, i) => i);
      for (let at = 0; at < order.length; at += 16)
        await Promise.all(
          order.slice(at, at + 16).map(async (i) => {
            const photo = i % photos.length;
            // The user's tag travels with the upload (x-amz-tagging), as docs/search-and-upload.md
            // advises: a PutObjectTagging after the upload can race the tagger's tag write (S3 has no
            // conditional tag write), and then either side may lose.
            await s3.send(
              new PutObjectCommand({
                Bucket: BUCKET,
                Key: keyOf(i),
                Body: photos[photo]?.bytes,
                ...(i % 5 === 0 ? { Tagging: `owner=user-${i}` } : {}),
              }),
            );
            content.set(keyOf(i), photo);
          }),
        );
      const putMs = performance.now() - started;
      const shuffled = Array.from({ length: IMAGES }, (_, i) => i).sort(() => random() - 0.5);
      const overwritten = shuffled.slice(0, OVERWRITES);
      const deleted = [...shuffled.slice(0, 10), ...shuffled.slice(OVERWRITES, OVERWRITES + DELETES - 10)];
      await Promise.all(
        overwritten.map(async (i) => {
          const photo = (i + 17) % photos.length;
          await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: keyOf(i), Body: photos[photo]?.bytes }));
          content.set(keyOf(i), photo);
        }),
      );
      await Promise.all(
        deleted.map(async (i) => {
          await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: keyOf(i) }));
          content.set(keyOf(i), undefined);
        }),
      );
      return { putMs, s3Ms: performance.now() - started };
    })();

    // The Lambda side: 8 deliveries at a time, each a random one of those waiting. A delivery that
    // throws is retried twice, as Lambda's asynchronous invocation does: s3rver writes an object's
    // bytes in place, so a read racing an overwrite can be cut off ("aborted"), which S3 never does.
    let s3Done = false;
    const outcomes: TagOutcome[] = [];
    const attempts = new Map<S3Event, number>();
    const retried: string[] = [];
    const expectedEvents = IMAGES + OVERWRITES + DELETES;
    const worker = async () => {
      for (let idle = 0; idle < 2000; ) {
        if (queue.length === 0) {
          if (s3Done && emitted >= expectedEvents) return;
          idle++;
          await new Promise((r) => setTimeout(r, 10));
          continue;
        }
        const [event] = queue.splice(Math.floor(random() * queue.length), 1);
        if (!event) continue;
        try {
          outcomes.push(...(await tagger(event)));
        } catch (err) {
          const attempt = (attempts.get(event) ?? 0) + 1;
          if (attempt > 2) throw err;
          attempts.set(event, attempt);
          retried.push(String(err));
          queue.push(event);
        }
      }
      throw new Error('the events did not all arrive within 20 s of idling');
    };
    const workers = Array.from({ length: CONCURRENCY }, worker);
    const timings = await s3Side;
    s3Done = true;
    await Promise.all(workers);
    const totalMs = performance.now() - started;

    const counts: Record<string, number> = {};
    for (const o of outcomes) counts[o.result] = (counts[o.result] ?? 0) + 1;
    console.info(
      `burst: ${IMAGES} puts in ${(timings.putMs / 1000).toFixed(1)} s, all S3 operations in ${(timings.s3Ms / 1000).toFixed(1)} s; ` +
        `${outcomes.length} deliveries of ${emitted} events done in ${(totalMs / 1000).toFixed(1)} s ` +
        `(${CONCURRENCY} at a time); outcomes ${JSON.stringify(counts)}; retried ${retried.length}${retried.length ? ` (${retried.join('; ')})` : ''}`,
    );
    expect(emitted).toBe(expectedEvents);

    // What the end state must be: the labels of classifying each photo, computed here directly.
    // Labels and categories under MIN_CONFIDENCE are neither tagged nor indexed.
    const expected = new Map<
      number,
      {
        keys: string[];
        top?: string;
        list?: string;
        categories?: string;
        labels: string[];
        names: string[];
        embedding?: Float32Array;
      }
    >();
    for (const photo of new Set([...content.values()].filter((p) => p !== undefined))) {
      const c = await classifier.classify(photos[photo]?.bytes ?? new Uint8Array(), { topK: 3 });
      const kept = c.labels.filter((l) => l.score >= DEFAULT_MIN_CONFIDENCE);
      const categories = c.categories ?? [];
      // Colours covering 5% or more (tagger:colours, and one label item each under colour:<name>).
      const colours = (c.properties?.colours ?? []).filter(
        (col) => col.percent / 100 >= MIN_INDEXED_COLOUR_SHARE,
      );
      expected.set(photo, {
        keys: [
          'tagger:model',
          'tagger:status',
          'tagger:vocabulary',
          ...(kept.length ? ['tagger:labels', 'tagger:top'] : []),
          ...(categories.length ? ['tagger:categories'] : []),
          ...(colours.length ? ['tagger:colours'] : []),
        ].sort(),
        ...(kept.length ? { top: sanitizeTagValue(kept[0]?.label ?? ''), list: formatLabelList(kept) } : {}),
        ...(categories.length ? { categories: formatLabelList(categories) } : {}),
        labels: kept.map((l) => l.label),
        ...(c.embedding ? { embedding: c.embedding } : {}),
        names: [
          ...[...kept, ...categories].map((l) => l.label),
          ...colours.map((col) => colourTerm(col.name)),
        ],
      });
    }
    const index = dynamoLabelIndex(dynamo.client, TABLE);
    const wantPartitions = new Map<string, Set<string>>();
    for (const [key, photo] of content) {
      const indexed = await index.get(BUCKET, key);
      const [vector] = await vectors.get([key]);
      if (photo === undefined) {
        expect(indexed?.state, key).toBe('deleted');
        expect(vector, `${key}: deleted, no vector`).toBeUndefined();
        await expect(
          s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key })),
          key,
        ).rejects.toMatchObject({ name: 'NoSuchKey' });
        continue;
      }
      const want = expected.get(photo);
      const tagSet = (await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }))).TagSet ?? [];
      const tags = Object.fromEntries(tagSet.map((t) => [t.Key, t.Value]));
      // Exactly one tag set: each service tag once, the right values.
      expect(
        tagSet
          .filter((t) => isServiceTag(t.Key ?? ''))
          .map((t) => t.Key)
          .sort(),
        key,
      ).toEqual(want?.keys);
      expect(
        {
          top: tags['tagger:top'],
          labels: tags['tagger:labels'],
          categories: tags['tagger:categories'],
          status: tags['tagger:status'],
        },
        key,
      ).toEqual({
        top: want?.top,
        labels: want?.list,
        categories: want?.categories,
        status: 'ok',
      });
      expect(indexed, key).toMatchObject({ state: 'live', status: 'ok' });
      // The vector of its current bytes, under its current ETag.
      expect(vector?.metadata.etag, `${key} vector version`).toBe(indexed?.etag);
      expect(cosineSimilarity(vector?.vector ?? [], want?.embedding ?? []), `${key} vector`).toBeGreaterThan(
        0.9999,
      );
      expect(
        indexed?.labels.map((l) => l.label),
        key,
      ).toEqual(want?.labels);
      for (const label of want?.names ?? []) {
        const n = normalizeLabel(label);
        wantPartitions.set(n, (wantPartitions.get(n) ?? new Set()).add(key));
      }
    }
    // The user's tags survived (no overwrite replaced them: an overwrite's upload has none).
    for (let i = 0; i < IMAGES; i += 5) {
      const key = keyOf(i);
      if (content.get(key) !== i % photos.length) continue;
      const tagSet = (await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }))).TagSet ?? [];
      expect(tagSet, key).toContainEqual({ Key: 'owner', Value: `user-${i}` });
    }
    // Every label partition holds exactly the live objects with that label, and nothing else exists.
    const everyLabel = new Set([...expected.values()].flatMap((e) => e.names.map(normalizeLabel)));
    for (const label of everyLabel)
      expect((await searchAll(index, BUCKET, label, 50)).sort(), label).toEqual(
        [...(wantPartitions.get(label) ?? [])].sort(),
      );
    const items = (await scanLabelItems(dynamo.client, TABLE, BUCKET)).sort();
    const wantItems = [...wantPartitions]
      .flatMap(([label, keys]) => [...keys].map((k) => `${label} ${k}`))
      .sort();
    expect(items).toEqual(wantItems);
  }, 120_000);
});
