/**
 * The local S3 writes an object's tag set atomically, as S3 does: a GetObjectTagging that runs while a
 * PutObjectTagging replaces the set sees the old set or the new one, never an empty one. s3rver wrote
 * the set with a plain fs.writeFile (truncate, then write), so a read in between saw no tags; the
 * tagger then merged its own tags with "no user tags" and wrote the user's tags away (the burst test
 * caught it with duplicated, concurrent deliveries).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetObjectTaggingCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalS3, localS3Client, startLocalS3 } from '../../scripts/local/local-s3.ts';

const Bucket = 'tag-writes';

describe('local S3: tag sets', () => {
  let dir: string;
  let server: LocalS3;
  let s3: S3Client;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'local-s3-tags-'));
    server = await startLocalS3({ directory: dir, buckets: [Bucket] });
    s3 = localS3Client(server.endpoint);
  });
  afterAll(async () => {
    s3?.destroy();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a read during a tag write sees the old or the new set, never an empty one', async () => {
    const Key = 'uploads/a.jpg';
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'x', Tagging: 'owner=alice' }));
    // A long set makes each write take longer, so reads land inside it.
    const set = (n: number) => [
      { Key: 'owner', Value: 'alice' },
      ...Array.from({ length: 9 }, (_, i) => ({ Key: `k${i}`, Value: `${n}-${'v'.repeat(240)}` })),
    ];
    let empty = 0;
    let reads = 0;
    for (let round = 0; round < 40; round++) {
      await Promise.all([
        ...Array.from({ length: 4 }, (_, w) =>
          s3.send(new PutObjectTaggingCommand({ Bucket, Key, Tagging: { TagSet: set(round * 4 + w) } })),
        ),
        ...Array.from({ length: 8 }, async () => {
          const { TagSet = [] } = await s3.send(new GetObjectTaggingCommand({ Bucket, Key }));
          reads++;
          if (!TagSet.some((t) => t.Key === 'owner')) empty++;
        }),
      ]);
    }
    expect(reads).toBe(320);
    expect(empty).toBe(0);
  });
});
