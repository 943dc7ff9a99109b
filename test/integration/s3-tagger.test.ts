/**
 * The S3 tagger against a real local S3 (s3rver on loopback): objects are put with the AWS SDK,
 * the server's own ObjectCreated events (re-encoded as AWS encodes keys) are handed to the real
 * handler with the real classifier, and the tags are read back from the server.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteObjectCommand,
  GetObjectTaggingCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '../../scripts/local/local-dynamo.ts';
import { type LocalS3, startLocalS3 } from '../../scripts/local/local-s3.ts';
import { dynamoLabelIndex } from '../../src/aws/dynamo-index.ts';
import { s3ObjectStore } from '../../src/aws/s3-object-store.ts';
import { type Classifier, createClassifier } from '../../src/classifier/classifier.ts';
import { DEFAULT_LIMITS } from '../../src/classifier/preprocess.ts';
import { taggerSettings } from '../../src/settings.ts';
import { normalizeLabel } from '../../src/tagging/label-index.ts';
import { createS3Tagger } from '../../src/tagging/notifications.ts';
import { parseLabelList } from '../../src/tagging/tags.ts';
import { photo, sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

const BUCKET = 'uploads-test';
const MAX_BYTES = 1024 * 1024;
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

describe.skipIf(skipUnlessShared('the S3 tagger tests'))('S3 tagger against a local S3', () => {
  let dir: string;
  let s3server: LocalS3;
  let s3: S3Client;
  let classifier: Classifier;
  let tagger: ReturnType<typeof createS3Tagger>;
  let retriever: Buffer;
  let dynamo: LocalDynamo | undefined;
  const events: S3Event[] = [];
  const commands: { name: string; key?: string; range?: string }[] = [];
  const failures: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 's3-tagger-'));
    s3server = await startLocalS3({
      directory: dir,
      buckets: [BUCKET],
      onEvent: (e) => void events.push(e),
    });
    s3 = new S3Client({
      endpoint: s3server.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials,
    });
    // Records which S3 operations the tagger performs (observation only; every call goes to the server).
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Key?: string; Range?: string };
        commands.push({ name: context.commandName ?? '?', key: input.Key, range: input.Range });
        return next(args);
      },
      { step: 'initialize', name: 'recordCommands' },
    );
    classifier = await createClassifier(sharedModelFolder(), {
      threads: 2,
      limits: { ...DEFAULT_LIMITS, maxBytes: MAX_BYTES },
    });
    tagger = createS3Tagger({
      store: s3ObjectStore(s3),
      classifier,
      ...taggerSettings({ UPLOAD_PREFIX: 'uploads/' }),
      telemetry: { classified() {}, failed: (reason) => void failures.push(reason), info() {} },
    });
    retriever = await readFile(photo('207-Golden-Retriever.jpg'));
  });
  afterAll(async () => {
    await dynamo?.close();
    await s3server?.close();
    await classifier?.release();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Puts an object and returns the ObjectCreated event the server emitted for it (waits up to 5 s). */
  async function put(
    key: string,
    body: Uint8Array | string,
    tags?: Record<string, string>,
  ): Promise<S3Event> {
    const before = events.length;
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    // s3rver ignores x-amz-tagging on PUT, so the user's tags are set right after the upload.
    if (tags) {
      const TagSet = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
      await s3.send(new PutObjectTaggingCommand({ Bucket: BUCKET, Key: key, Tagging: { TagSet } }));
    }
    for (let i = 0; i < 100; i++) {
      const found = events
        .slice(before)
        .find((e) => e.Records.some((r) => r.eventName.startsWith('ObjectCreated')));
      if (found) return found;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no ObjectCreated event for ${key} within 5 s`);
  }

  async function tagsOf(key: string): Promise<Record<string, string>> {
    const out = await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }));
    return Object.fromEntries((out.TagSet ?? []).map((t) => [t.Key, t.Value]));
  }

  it('tags an uploaded photo with its labels, scores, model and status', async () => {
    const event = await put('uploads/dog.jpg', retriever);
    const [outcome] = await tagger(event);
    expect(outcome).toMatchObject({ result: 'tagged', status: 'ok' });
    const tags = await tagsOf('uploads/dog.jpg');
    expect(tags['tagger:status']).toBe('ok');
    expect(tags['tagger:top']).toBe('Golden Retriever');
    expect(tags['tagger:model']).toBe('mobilenetv2-int8@1');
    // Only the labels scoring at least MIN_CONFIDENCE (0.1); the model is sure of this one.
    const labels = parseLabelList(tags['tagger:labels'] ?? '');
    expect(labels.length).toBeGreaterThanOrEqual(1);
    expect(labels[0]?.label).toBe('Golden Retriever');
    expect(labels[0]?.score).toBeGreaterThan(0.3);
    for (const l of labels) expect(l.score).toBeGreaterThanOrEqual(0.1);
    // The vocabulary's categories, each the sum over its classes: "dog" at least the top label's score.
    const categories = parseLabelList(tags['tagger:categories'] ?? '');
    expect(categories.map((c) => c.label)).toEqual(expect.arrayContaining(['animal', 'mammal', 'dog']));
    expect(categories.find((c) => c.label === 'dog')?.score).toBeGreaterThanOrEqual(
      labels[0]?.score as number,
    );
    expect(tags['tagger:vocabulary']).toBe('imagenet-1k@1');
    // Tagging did not produce another ObjectCreated event (nothing the tagger writes re-triggers it).
    const created = events.flatMap((e) => e.Records).filter((r) => r.s3.object.key === 'uploads/dog.jpg');
    expect(created).toHaveLength(1);
  });

  it('a repeated delivery of the same event changes nothing', async () => {
    const event = await put('uploads/twice.jpg', retriever);
    await tagger(event);
    const first = await tagsOf('uploads/twice.jpg');
    const writes = commands.filter((c) => c.name === 'PutObjectTaggingCommand').length;
    const [again] = await tagger(event);
    expect(again).toMatchObject({ result: 'unchanged' });
    expect(await tagsOf('uploads/twice.jpg')).toEqual(first);
    expect(commands.filter((c) => c.name === 'PutObjectTaggingCommand').length).toBe(writes);
  });

  it("keeps the user's tags, replaces stale service tags, and respects the 10-tag limit", async () => {
    const event = await put('uploads/tagged.jpg', retriever, {
      owner: 'alice',
      project: 'x-1',
      'tagger:top': 'stale',
    });
    await tagger(event);
    const tags = await tagsOf('uploads/tagged.jpg');
    expect(tags).toMatchObject({ owner: 'alice', project: 'x-1', 'tagger:top': 'Golden Retriever' });
    expect(Object.keys(tags)).toHaveLength(9); // 2 of the user's, 7 of ours (tagger:colours too)

    const eight = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`user${i}`, `v${i}`]));
    const crowded = await put('uploads/crowded.jpg', retriever, eight);
    const [outcome] = await tagger(crowded);
    const after = await tagsOf('uploads/crowded.jpg');
    expect(Object.keys(after)).toHaveLength(10);
    for (let i = 0; i < 8; i++) expect(after[`user${i}`]).toBe(`v${i}`);
    expect(after['tagger:status']).toBe('ok');
    expect(after['tagger:top']).toBe('Golden Retriever');
    expect(outcome).toMatchObject({
      dropped: ['tagger:categories', 'tagger:labels', 'tagger:model', 'tagger:vocabulary', 'tagger:colours'],
    });
    expect(failures).toContain('TagLimit');
  });

  it('decodes keys with spaces, plus signs and non-ASCII characters', async () => {
    const key = 'uploads/my dog+cat été 🐕 (1).JPG';
    const event = await put(key, retriever);
    const encoded = event.Records[0]?.s3.object.key ?? '';
    expect(encoded).toBe('uploads/my+dog%2Bcat+%C3%A9t%C3%A9+%F0%9F%90%95+%281%29.JPG');
    const [outcome] = await tagger(event);
    expect(outcome).toMatchObject({ key, result: 'tagged' });
    expect((await tagsOf(key))['tagger:top']).toBe('Golden Retriever');
  });

  it('gives non-images and corrupt images a status tag without throwing', async () => {
    const text = await put('uploads/notes.png', 'this is not an image');
    expect(await tagger(text)).toMatchObject([{ result: 'tagged', status: 'UnsupportedFormat' }]);
    expect(await tagsOf('uploads/notes.png')).toEqual({
      'tagger:status': 'UnsupportedFormat',
      'tagger:model': 'mobilenetv2-int8@1',
      'tagger:vocabulary': 'imagenet-1k@1',
    });
    const empty = await put('uploads/empty.jpg', '');
    expect(await tagger(empty)).toMatchObject([{ result: 'tagged', status: 'CorruptImage' }]);
    const cut = await put('uploads/cut.jpg', retriever.subarray(0, 2048));
    await tagger(cut);
    const tags = await tagsOf('uploads/cut.jpg');
    expect(tags['tagger:status']).toBe('CorruptImage');
    expect(tags['tagger:top']).toBeUndefined();
  });

  it('refuses an oversize object with a 1-byte read, without downloading it', async () => {
    const big = Buffer.alloc(MAX_BYTES + 10, 0);
    retriever.copy(big);
    const event = await put('uploads/big.jpg', big);
    expect(event.Records[0]?.s3.object.size).toBe(MAX_BYTES + 10);
    const [outcome] = await tagger(event);
    expect(outcome).toMatchObject({ result: 'tagged', status: 'ImageTooLarge' });
    expect((await tagsOf('uploads/big.jpg'))['tagger:status']).toBe('ImageTooLarge');
    const reads = commands.filter((c) => c.key === 'uploads/big.jpg' && c.name === 'GetObjectCommand');
    expect(reads.map((c) => c.range)).toEqual(['bytes=0-0']);
  });

  it('an event that understates the size never makes the tagger read more than the limit', async () => {
    const big = Buffer.alloc(MAX_BYTES * 3, 0);
    retriever.copy(big);
    const event = await put('uploads/liar.jpg', big);
    const record = event.Records[0];
    if (record) record.s3.object.size = 1000;
    const received: number[] = [];
    const counting = new S3Client({
      endpoint: s3server.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials,
    });
    counting.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        const length = (out.response as { headers?: Record<string, string> }).headers?.['content-length'];
        if (length) received.push(Number(length));
        return out;
      },
      { step: 'deserialize', name: 'countBytes' },
    );
    const liar = createS3Tagger({ store: s3ObjectStore(counting), classifier, ...taggerSettings({}) });
    const [outcome] = await liar(event);
    expect(outcome).toMatchObject({ result: 'tagged', status: 'ImageTooLarge' });
    counting.destroy();
    // The one GetObject answered MAX_BYTES bytes of a 3 MB object (Range: bytes=0-(MAX_BYTES-1)).
    expect(received).toContain(MAX_BYTES);
    expect(Math.max(...received)).toBe(MAX_BYTES);
  });

  it('S3 requests per image: fresh upload, upload with user tags, oversize object, duplicate event', async () => {
    const big = Buffer.alloc(MAX_BYTES + 10, 0);
    retriever.copy(big);
    const fresh = await put('uploads/count-fresh.jpg', retriever);
    const owned = await put('uploads/count-owned.jpg', retriever, { owner: 'ann' });
    const oversize = await put('uploads/count-big.jpg', big);
    const requests = async (event: S3Event) => {
      const before = commands.length;
      await tagger(event);
      return commands.slice(before).map((c) => c.name.replace(/Command$/, ''));
    };
    const perImage = {
      fresh: await requests(fresh),
      userTags: await requests(owned),
      oversize: await requests(oversize),
      duplicate: await requests(fresh),
    };
    console.info('S3 requests per image (s3rver):', JSON.stringify(perImage));
    // No HeadObject; the tags are always read right before they are written (see tagger.ts).
    expect(perImage).toEqual({
      fresh: ['GetObject', 'GetObjectTagging', 'PutObjectTagging'],
      userTags: ['GetObject', 'GetObjectTagging', 'PutObjectTagging'],
      oversize: ['GetObject', 'GetObjectTagging', 'PutObjectTagging'],
      duplicate: ['GetObject', 'GetObjectTagging'],
    });
  });

  it('ignores keys outside the prefix or without an image suffix, and deleted objects', async () => {
    const other = await put('elsewhere/dog.jpg', retriever);
    expect(await tagger(other)).toMatchObject([{ result: 'ignored', reason: 'prefix-or-suffix' }]);
    expect(await tagsOf('elsewhere/dog.jpg')).toEqual({});
    const txt = await put('uploads/readme.txt', 'hello');
    expect(await tagger(txt)).toMatchObject([{ result: 'ignored' }]);
    const ghost = structuredClone(other);
    const record = ghost.Records[0];
    if (record) record.s3.object.key = 'uploads/deleted+meanwhile.jpg';
    expect(await tagger(ghost)).toMatchObject([{ result: 'missing', key: 'uploads/deleted meanwhile.jpg' }]);
  });

  it('throws on S3 errors that are not about the image, so Lambda retries', async () => {
    const event = await put('uploads/retry.jpg', retriever);
    const unreachable = new S3Client({
      endpoint: 'http://127.0.0.1:9',
      forcePathStyle: true,
      region: 'us-east-1',
      credentials,
      maxAttempts: 1,
    });
    const broken = createS3Tagger({ store: s3ObjectStore(unreachable), classifier, ...taggerSettings({}) });
    await expect(broken(event)).rejects.toThrow(/ECONNREFUSED|connect/);
  });
  it('with the label index (dynalite): a replaced version is superseded, its own event tags and indexes, a delete unindexes', async () => {
    dynamo = await startLocalDynamo({ tables: ['labels-s3-tagger'] });
    const index = dynamoLabelIndex(dynamo.client, 'labels-s3-tagger');
    const indexed = createS3Tagger({ store: s3ObjectStore(s3), classifier, index, ...taggerSettings({}) });
    const key = 'uploads/indexed.jpg';
    const first = await put(key, retriever);
    const panda = await readFile(photo('387-red-panda.jpg'));
    const second = await put(key, panda);
    const sequencers = [first, second].map((e) => e.Records[0]?.s3.object.sequencer ?? '');
    expect((sequencers[1] ?? '') > (sequencers[0] ?? '')).toBe(true);
    // s3rver ignores If-Match: the ETag of its answer tells the tagger that v1 is gone.
    const before = commands.length;
    expect(await indexed(first)).toMatchObject([{ result: 'superseded' }]);
    expect(commands.slice(before).map((c) => c.name)).toEqual(['GetObjectCommand']);
    expect(await index.get(BUCKET, key)).toBeUndefined();
    const [outcome] = await indexed(second);
    expect(outcome).toMatchObject({ result: 'tagged', status: 'ok' });
    // S3 requests per image are those of the tagger without an index.
    expect(commands.slice(before + 1).map((c) => c.name.replace(/Command$/, ''))).toEqual([
      'GetObject',
      'GetObjectTagging',
      'PutObjectTagging',
    ]);
    const top = (await tagsOf(key))['tagger:top'] ?? '';
    const direct = await classifier.classify(panda, { topK: 3 });
    expect(top).toBe(direct.labels[0]?.label);
    expect(top).not.toBe('Golden Retriever');
    expect((await index.get(BUCKET, key))?.labels[0]?.label).toBe(top);
    expect(
      (await index.search(BUCKET, normalizeLabel(top.toUpperCase()), { limit: 10 })).items.map((i) => i.key),
    ).toEqual([key]);
    // The first event again, late: still superseded; then the delete.
    expect(await indexed(first)).toMatchObject([{ result: 'superseded' }]);
    const deletedAt = events.length;
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    for (let i = 0; i < 100 && events.length === deletedAt; i++) await new Promise((r) => setTimeout(r, 50));
    const removal = events[deletedAt];
    expect(removal?.Records[0]?.eventName).toBe('ObjectRemoved:Delete');
    expect(await indexed(removal as S3Event)).toMatchObject([{ result: 'removed', index: 'written' }]);
    expect((await index.search(BUCKET, normalizeLabel(top), { limit: 10 })).items).toEqual([]);
    expect(await indexed(second)).toMatchObject([{ result: 'missing' }]);
  });
});
