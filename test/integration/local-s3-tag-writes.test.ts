/**
 * The local S3 writes an object's tag set atomically, as S3 does: a GetObjectTagging that runs while a
 * PutObjectTagging replaces the set sees the old set or the new one, never an empty one. s3rver wrote
 * the set with a plain fs.writeFile (truncate, then write), so a read in between saw no tags; the
 * tagger then merged its own tags with "no user tags" and wrote the user's tags away (the burst test
 * caught it with duplicated, concurrent deliveries).
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { useLocalS3 } from '../helpers/local-s3.ts';

const Bucket = 'tag-writes';

describe('local S3: tag sets as S3 keeps them', () => {
  const local = useLocalS3([Bucket]);
  let s3: S3Client;
  beforeAll(() => {
    s3 = local.s3;
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

  const tagsOf = async (Key: string) =>
    (await s3.send(new GetObjectTaggingCommand({ Bucket, Key }))).TagSet?.map((t) => [t.Key, t.Value]);
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => 'stored',
      (err: { name?: string; $metadata?: { httpStatusCode?: number } }) =>
        `${err.$metadata?.httpStatusCode} ${err.name}`,
    );

  it.each([
    ['markup', 'note', '<img src=x onerror=alert(1)>'],
    ['an ampersand', 'album', 'a & b'],
    ['a value over 256 characters', 'note', 'v'.repeat(257)],
    ['a key over 128 characters', 'k'.repeat(129), 'v'],
    ['an empty key', '', 'v'],
    ['a reserved aws: key', 'aws:owner', 'v'],
  ])('answers 400 InvalidTag to tags with %s, as S3 does, and stores nothing', async (_what, k, v) => {
    const Key = `uploads/invalid/${encodeURIComponent(k).slice(0, 20)}.jpg`;
    const Tagging = new URLSearchParams([[k, v]]).toString();
    expect(await failure(s3.send(new PutObjectCommand({ Bucket, Key, Body: 'x', Tagging })))).toBe(
      '400 InvalidTag',
    );
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'x' }));
    expect(
      await failure(
        s3.send(new PutObjectTaggingCommand({ Bucket, Key, Tagging: { TagSet: [{ Key: k, Value: v }] } })),
      ),
    ).toBe('400 InvalidTag');
    expect(await tagsOf(Key)).toEqual([]);
  });

  it('answers 400 InvalidTag to 11 tags and to a key given twice', async () => {
    const Key = 'uploads/invalid/many.jpg';
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'x' }));
    const eleven = Array.from({ length: 11 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    const twice = [
      { Key: 'a', Value: '1' },
      { Key: 'a', Value: '2' },
    ];
    for (const TagSet of [eleven, twice])
      expect(await failure(s3.send(new PutObjectTaggingCommand({ Bucket, Key, Tagging: { TagSet } })))).toBe(
        '400 InvalidTag',
      );
  });

  it('keeps tag values as written ("007" stays 007) and allows what S3 allows', async () => {
    const Key = 'uploads/valid.jpg';
    const set = [
      ['code', '007'],
      ['place', 'Été à Paris'],
      ['path', 'a/b:c=d+e-f_g.h@i'],
      ['zh', '金毛猎犬'],
      ['empty', ''],
    ];
    await s3.send(
      new PutObjectCommand({ Bucket, Key, Body: 'x', Tagging: new URLSearchParams(set).toString() }),
    );
    expect(await tagsOf(Key)).toEqual(set);
  });

  it('an overwrite without tags leaves the new version with none; a copy takes the source tags', async () => {
    const Key = 'uploads/overwrite.jpg';
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'one', Tagging: 'owner=alice' }));
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'two' }));
    expect(await tagsOf(Key)).toEqual([]);
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'three', Tagging: 'owner=bob' }));
    await s3.send(new CopyObjectCommand({ Bucket, Key: 'uploads/copy.jpg', CopySource: `${Bucket}/${Key}` }));
    expect(await tagsOf('uploads/copy.jpg')).toEqual([['owner', 'bob']]);
    await s3.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'uploads/copy.jpg',
        CopySource: `${Bucket}/${Key}`,
        TaggingDirective: 'REPLACE',
        Tagging: 'owner=carol',
      }),
    );
    expect(await tagsOf('uploads/copy.jpg')).toEqual([['owner', 'carol']]);
  });

  it('answers keys with an empty segment ("//", a leading "/") in XML the SDK parses', async () => {
    for (const Key of ['uploads//double.jpg', '/uploads/leading.jpg']) {
      expect(await failure(s3.send(new PutObjectCommand({ Bucket, Key, Body: 'x' })))).toBe(
        '400 KeyNotSupportedLocally',
      );
      expect(await failure(s3.send(new GetObjectCommand({ Bucket, Key })))).toBe('404 NoSuchKey');
      expect(await failure(s3.send(new GetObjectTaggingCommand({ Bucket, Key })))).toBe('404 NoSuchKey');
      expect(await failure(s3.send(new DeleteObjectCommand({ Bucket, Key })))).toBe('stored');
    }
  });
});
