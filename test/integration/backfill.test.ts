/**
 * `npm run backfill` end to end: the real CLI (node --import tsx tools/backfill/cli.ts) with the real
 * classifier (the int8 MobileNetV2 of ../shared) against a real local S3 (s3rver on loopback)
 * holding objects put before any tagger ran. Between the CLI and s3rver sits a loopback proxy
 * that counts the S3 requests by operation, so "writes nothing" is observed outside the CLI.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetObjectTaggingCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '../../scripts/local/local-dynamo.ts';
import { type LocalS3, startLocalS3 } from '../../scripts/local/local-s3.ts';
import { parseLabelList } from '../../src/tagging/tags.ts';
import { s3BucketListing } from '../../tools/backfill/bucket-listing.ts';
import { photo, ROOT, runTs, sharedModelFolder, sharedPhotos, skipUnlessShared } from '../helpers/shared.ts';

const BUCKET = 'backfill-test';
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** The S3 operation of a path-style request, from its method and query. */
function operation(method: string, url: URL): string {
  if (url.searchParams.get('list-type') === '2') return 'ListObjectsV2';
  if (url.searchParams.has('tagging')) return method === 'PUT' ? 'PutObjectTagging' : 'GetObjectTagging';
  if (method === 'GET') return 'GetObject';
  return method;
}

/** A loopback HTTP proxy to `target` that counts requests by S3 operation. */
async function countingProxy(target: string) {
  const counts: Record<string, number> = {};
  let onResponse: (op: string, count: number) => void | Promise<void> = () => {};
  const server: Server = createServer((req, res) => {
    const op = operation(req.method ?? 'GET', new URL(req.url ?? '/', 'http://proxy'));
    const upstream = request(
      `${target}${req.url}`,
      { method: req.method, headers: req.headers },
      async (response) => {
        counts[op] = (counts[op] ?? 0) + 1;
        await onResponse(op, counts[op]);
        res.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    take() {
      const out = { ...counts };
      for (const k of Object.keys(counts)) delete counts[k];
      return out;
    },
    /** Called for each response, before it is passed on. */
    onResponse(f: (op: string, count: number) => void | Promise<void>) {
      onResponse = f;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The --json summary (last stdout line). */
  summary: Record<string, unknown> & { failed: Record<string, number>; skipped: Record<string, number> };
}

const skip = skipUnlessShared('the backfill CLI tests');

describe.skipIf(skip)('npm run backfill against a local S3', () => {
  let dir: string;
  let checkpoints: string;
  let s3server: LocalS3;
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  let s3: S3Client;
  // Read only when the tests run: the describe body is collected even when skipped.
  const photos = skip ? [] : sharedPhotos().slice(0, 6);

  /** Runs the CLI; `started` gets the child process (to signal it). */
  function backfill(args: string[], started?: (child: ChildProcess) => void): Promise<Run> {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'tools/backfill/cli.ts',
        '--bucket',
        BUCKET,
        '--endpoint',
        proxy.endpoint,
        '--json',
        '--checkpoint-dir',
        checkpoints,
        ...args,
      ],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          MODEL_DIR: sharedModelFolder(),
          MODEL_THREADS: '2',
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    started?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => {
      stdout += d;
    });
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => {
        const last = stdout.trim().split('\n').at(-1) ?? '';
        let summary: Run['summary'];
        try {
          summary = JSON.parse(last);
        } catch {
          reject(
            new Error(`backfill exited ${code} without a JSON summary\nstdout: ${stdout}\nstderr: ${stderr}`),
          );
          return;
        }
        resolve({ code, stdout, stderr, summary });
      });
    });
  }

  async function tagsOf(key: string): Promise<Record<string, string>> {
    const out = await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }));
    return Object.fromEntries((out.TagSet ?? []).map((t) => [t.Key, t.Value]));
  }

  const put = (Key: string, Body: Uint8Array | string) =>
    s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body }));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backfill-it-'));
    checkpoints = join(dir, 'checkpoints');
    // No onEvent: nothing tags on upload, these objects were there before the tagger.
    s3server = await startLocalS3({ directory: join(dir, 's3'), buckets: [BUCKET] });
    proxy = await countingProxy(s3server.endpoint);
    s3 = new S3Client({
      endpoint: s3server.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials,
    });
    for (const p of photos) await put(`uploads/${p.file}`, await readFile(p.path));
    await put('uploads/notes.txt', 'not an image');
    const jpeg = await readFile(photo(photos[0]?.file ?? ''));
    await put('uploads/broken.jpg', jpeg.subarray(0, 400)); // a JPEG cut short: CorruptImage
    await put('other/outside.jpg', jpeg);
    await s3.send(
      new PutObjectTaggingCommand({
        Bucket: BUCKET,
        Key: `uploads/${photos[1]?.file}`,
        Tagging: { TagSet: [{ Key: 'owner', Value: 'alice' }] },
      }),
    );
  });
  afterAll(async () => {
    await proxy?.close();
    await s3server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the S3 listing lists in key order with sizes, and resumes after a key (StartAfter)', async () => {
    // One page: s3rver's continuation tokens use DES, which Node 20's OpenSSL 3 refuses without
    // --openssl-legacy-provider (InternalError); paging is unit-tested against a fake client.
    const listing = s3BucketListing(s3);
    const objects = [];
    for await (const page of listing.pages(BUCKET, 'uploads/')) objects.push(...page);
    const keys = objects.map((o) => o.key);
    expect(keys).toHaveLength(8);
    expect([...keys].sort()).toEqual(keys);
    expect(objects.find((o) => o.key === 'uploads/notes.txt')?.size).toBe('not an image'.length);
    const after: string[] = [];
    for await (const page of listing.pages(BUCKET, 'uploads/', keys[4]))
      after.push(...page.map((o) => o.key));
    expect(after).toEqual(keys.slice(5));
  });

  it('--dry-run lists the untagged images and writes nothing', async () => {
    const run = await backfill(['--dry-run']);
    expect(run.code).toBe(0);
    const would = run.stdout.split('\n').filter((l) => l.startsWith('would tag '));
    expect(would.sort()).toEqual(
      [...photos.map((p) => `uploads/${p.file}`), 'uploads/broken.jpg']
        .sort()
        .map((k) => `would tag ${k} (untagged)`),
    );
    const counts = proxy.take();
    expect(counts.PutObjectTagging).toBeUndefined();
    expect(counts.GetObject).toBeUndefined();
    expect(await readdir(checkpoints).catch(() => [])).toEqual([]);
  });

  it('tags the pre-existing images, keeps user tags, and reports the corrupt one (exit 2)', async () => {
    const run = await backfill(['--concurrency', '2']);
    expect(run.code, run.stderr).toBe(2);
    expect(run.summary).toMatchObject({
      listed: 8,
      tagged: 6,
      unchanged: 0,
      indexed: 0,
      skipped: { notTaggable: 1, current: 0, otherModel: 0, missing: 0, newer: 0 },
      failed: { CorruptImage: 1 },
      interrupted: false,
    });
    for (const p of photos) {
      const tags = await tagsOf(`uploads/${p.file}`);
      expect(tags['tagger:status']).toBe('ok');
      expect(tags['tagger:model']).toBe('mobilenetv2-int8@1');
      // The top-3 labels that score at least MIN_CONFIDENCE (0.1), and the categories.
      const labels = parseLabelList(tags['tagger:labels'] ?? '');
      expect(labels.length).toBeGreaterThanOrEqual(1);
      expect(labels.length).toBeLessThanOrEqual(3);
      for (const l of labels) expect(l.score).toBeGreaterThanOrEqual(0.1);
      expect(tags['tagger:vocabulary']).toBe('imagenet-1k@1');
    }
    expect(await tagsOf(`uploads/${photos[1]?.file}`)).toMatchObject({ owner: 'alice' });
    expect((await tagsOf('uploads/broken.jpg'))['tagger:status']).toBe('CorruptImage');
    expect(await tagsOf('uploads/notes.txt')).toEqual({});
    expect(await tagsOf('other/outside.jpg')).toEqual({});
    const counts = proxy.take();
    expect(counts.PutObjectTagging).toBe(7);
    expect(counts.GetObject).toBe(7);
    expect(counts.ListObjectsV2).toBe(1);
    // A complete run leaves no checkpoint.
    expect(await readdir(checkpoints).catch(() => [])).toEqual([]);
  });

  it('a second run tags nothing and writes nothing: one GetObjectTagging per image, no GetObject', async () => {
    const run = await backfill([]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.summary).toMatchObject({
      listed: 8,
      tagged: 0,
      skipped: { notTaggable: 1, current: 7 },
      failed: {},
    });
    expect(proxy.take()).toEqual({ ListObjectsV2: 1, GetObjectTagging: 7 });
  });

  it('Ctrl-C stops after the object in flight; the same command resumes and tags each image once', async () => {
    const names = sharedPhotos()
      .slice(6, 14)
      .map((p) => p.file);
    for (const name of names) await put(`uploads/resume/${name}`, await readFile(photo(name)));
    proxy.take();
    let child: ChildProcess | undefined;
    proxy.onResponse(async (op, n) => {
      // SIGINT while the third tag write is answered (held 200 ms so the signal is handled first):
      // the CLI must finish that object and stop.
      if (op === 'PutObjectTagging' && n === 3) {
        child?.kill('SIGINT');
        await new Promise((r) => setTimeout(r, 200));
      }
    });
    const first = await backfill(['--prefix', 'uploads/resume/', '--concurrency', '1'], (c) => {
      child = c;
    });
    proxy.onResponse(() => {});
    expect(first.code, first.stderr).toBe(130);
    expect(first.summary).toMatchObject({ interrupted: true, tagged: 3 });
    expect(await readdir(checkpoints)).toHaveLength(1);
    const firstCounts = proxy.take();
    expect(firstCounts.PutObjectTagging).toBe(3);

    const second = await backfill(['--prefix', 'uploads/resume/', '--concurrency', '1']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/resumed after uploads\/resume\//);
    expect(second.summary).toMatchObject({ listed: 8, tagged: 8, failed: {} });
    const secondCounts = proxy.take();
    // Over both runs, each image was read and tagged exactly once.
    expect((firstCounts.GetObject ?? 0) + (secondCounts.GetObject ?? 0)).toBe(8);
    expect(secondCounts.PutObjectTagging).toBe(5);
    // The resumed run listed only what follows the checkpoint: 5 tag reads, not 8.
    expect(secondCounts.GetObjectTagging).toBe(5 * 2); // the selection read, and tagObject's read before writing
    for (const name of names) expect((await tagsOf(`uploads/resume/${name}`))['tagger:status']).toBe('ok');
    expect(await readdir(checkpoints)).toEqual([]);
  });
});

describe('npm run backfill: a bad --endpoint or --table stops it before the model loads and any object', () => {
  let dynamo: LocalDynamo;
  beforeAll(async () => {
    dynamo = await startLocalDynamo({ tables: ['labels'] });
  });
  afterAll(() => dynamo?.close());

  /** The CLI's exit code and stderr lines; MODEL_DIR names no folder, so loading the model would fail. */
  const fails = (args: string[], env: Record<string, string> = {}) =>
    runTs('tools/backfill/cli.ts', ['--bucket', BUCKET, ...args], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        MODEL_DIR: '/nonexistent/model',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        ...env,
      },
    }).then(
      () => expect.fail('backfill succeeded'),
      (err: { code: number; stderr: string }) => ({
        code: err.code,
        lines: err.stderr.split('\n').filter((l) => l.startsWith('backfill')),
      }),
    );

  it('an endpoint that is not a URL names the flag or the variable it came from', async () => {
    expect(await fails(['--endpoint', 'not-a-url'])).toEqual({
      code: 1,
      lines: ['backfill: --endpoint not-a-url is not a URL: give the S3 endpoint as http(s)://host[:port]'],
    });
    expect((await fails([], { AWS_ENDPOINT_URL_S3: 'ftp://127.0.0.1:9' })).lines).toEqual([
      'backfill: AWS_ENDPOINT_URL_S3 ftp://127.0.0.1:9 is not a URL: give the S3 endpoint as http(s)://host[:port]',
    ]);
  });

  it('a table that does not exist is named with its flag; one that exists passes on to the model', async () => {
    // Port 9 is closed: no S3 request is made before the table check.
    const s3 = ['--endpoint', 'http://127.0.0.1:9'];
    expect(await fails([...s3, '--table', 'no-such-table'])).toEqual({
      code: 1,
      lines: [
        `backfill: --table no-such-table: no such DynamoDB table at AWS_ENDPOINT_URL_DYNAMODB=${dynamo.endpoint}`,
      ],
    });
    expect((await fails(s3, { INDEX_TABLE: 'no-such-table' })).lines).toEqual([
      `backfill: INDEX_TABLE no-such-table: no such DynamoDB table at AWS_ENDPOINT_URL_DYNAMODB=${dynamo.endpoint}`,
    ]);
    const good = await fails([...s3, '--table', 'labels']);
    expect(good.code).toBe(1);
    expect(good.lines.join('\n')).toContain('/nonexistent/model');
  });
});
