/**
 * `npm start -- --check <photo>` end to end: esbuild bundles, a real local S3, a real local
 * DynamoDB, serverless-offline running the bundled handlers; the photo is put under uploads/ and the
 * S3 event must make the tagger (invoked through serverless-offline's Lambda API) tag it; its
 * deletion must reach the tagger as ObjectRemoved; the data routes answer only a signed-in user of
 * the local user pool. Uses loopback ports 3000, 3002, 4569, 4570 and 9229 (the fresh-clone case
 * moves them with LOCAL_*_PORT to 3010, 3012, 4579, 4580 and 9239).
 * And the local S3 alone (any free port): the page's CORS preflight, upload and thumbnail GET, and
 * the ObjectRemoved events of single and multi-object deletes.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localS3Client, startLocalS3 } from '../../scripts/local/local-s3.ts';
import { pageOrigins } from '../../scripts/start.ts';
import { freePorts } from '../helpers/local-stack.ts';
import { photo, ROOT, sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

/** Runs scripts/start.ts as `npm start` does; resolves with its exit code and output. */
async function start(args: string[], env: NodeJS.ProcessEnv = {}, limitMs = 150_000) {
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '--import', 'tsx', join(ROOT, 'scripts/start.ts'), ...args],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGTERM'), limitMs);
  const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
  clearTimeout(timer);
  if (code !== 0) console.log(output);
  return { code, output };
}

describe.skipIf(skipUnlessShared('the local stack test'))('npm start (local stack)', () => {
  it('tags an object put into the local bucket and serves /health', async () => {
    const modelDir = sharedModelFolder();
    const { code, output } = await start([
      '--model-dir',
      modelDir,
      '--check',
      photo('207-Golden-Retriever.jpg'),
    ]);
    expect(code).toBe(0);
    // Signed in (a temporary user of the local pool); without a token the data routes answer 401.
    expect(output).toMatch(
      /signed in as check-\d+@example\.com; GET \/images without a token: 401, with a tampered token: 401/,
    );
    expect(output).toContain('local user pool on http://127.0.0.1:9229, pool local_');
    expect(output).toContain('tagger:status = ok');
    expect(output).toContain('tagger:top = Golden Retriever');
    // Labels over MIN_CONFIDENCE (0.1), and the vocabulary's categories.
    expect(output).toMatch(/tagger:labels = Golden Retriever=0\.\d{3}(\/|\n)/);
    expect(output).toMatch(/tagger:categories = animal=0\.\d{3}\/.*dog=0\.\d{3}/);
    expect(output).toContain('tagger:vocabulary = imagenet-1k@1');
    expect(output).toContain('tagger:model = mobilenetv2-int8@1');
    expect(output).toMatch(
      /GET \/health: ok, model mobilenetv2-int8@1, weights (s8|u8), threads \d+, init \d+ ms, /,
    );
    // Through serverless-offline's HTTP API emulation, both body forms arrive intact.
    expect(output).toMatch(/POST \/classify \(multipart\): 200 Golden Retriever \d+\.\d%/);
    expect(output).toMatch(/POST \/classify \(octet-stream\): 200 Golden Retriever \d+\.\d%/);
    // The tagger's index entry (local DynamoDB) is found by searching its label.
    expect(output).toMatch(/GET \/health: ok, .*features: search, upload/);
    expect(output).toMatch(/GET \/images\?label=Golden Retriever: lists uploads\/check /);
    // The deletion reaches the tagger as S3 sends it.
    expect(output).toMatch(
      /tagger done for ObjectRemoved:Delete s3:\/\/image-tagger-dev-uploads-local\/uploads\/check /,
    );
    expect(output).toContain('local DynamoDB on http://127.0.0.1:4570, table image-tagger-dev-labels');
    // Quiet: no SDK version warning, each route once, short lines, one verdict at the end.
    expect(output).not.toContain('NodeVersionSupportWarning');
    expect(output).not.toContain('/2015-03-31/functions/api/invocations');
    expect(output.match(/│\s+GET\s+\| http:\/\/127\.0\.0\.1:3000\/health /g)).toHaveLength(1);
    expect(Math.max(...output.split('\n').map((l) => l.length))).toBeLessThanOrEqual(300);
    const verdicts = output.split('\n').filter((l) => l.startsWith('[start] --check '));
    expect(verdicts).toEqual([expect.stringMatching(/^\[start\] --check PASS: .* \(\d+\.\d s\)$/)]);
  }, 180_000);

  it('on a fresh clone with no network, builds a trained model from ../shared and tags with a real label', async () => {
    // A fresh clone: no model layer folder, no cache. No network: the lock file's default source and
    // labels point at a closed loopback port, so the default build fails as it does offline.
    const tmp = await mkdtemp(join(tmpdir(), 'fresh-clone-'));
    try {
      const lock = JSON.parse(await readFile(join(ROOT, 'models/sources.lock.json'), 'utf8'));
      lock.defaults.source = 'http://127.0.0.1:9/resnet18-v1-7.onnx';
      lock.defaults.labels = 'http://127.0.0.1:9/imagenet-simple-labels.json';
      lock.defaults.calibration = join(ROOT, 'models/calibration-photos.json');
      await writeFile(join(tmp, 'lock.json'), JSON.stringify(lock));
      // Other ports, through the variables that `npm start` documents.
      const { code, output } = await start(
        ['--check', photo('207-Golden-Retriever.jpg')],
        {
          MODEL_LAYER_DIR: join(tmp, 'layer'),
          MODEL_SOURCES_LOCK: join(tmp, 'lock.json'),
          MODEL_CACHE_DIR: join(tmp, 'cache'),
          LOCAL_HTTP_PORT: '3010',
          LOCAL_LAMBDA_PORT: '3012',
          LOCAL_S3_PORT: '4579',
          LOCAL_DYNAMO_PORT: '4580',
          LOCAL_VECTORS_PORT: '4581',
          LOCAL_COGNITO_PORT: '9239',
          LOCAL_DATA_DIR: join(tmp, 'data'),
          // The functions' settings, from the shell as docs/configuration.md says.
          MIN_CONFIDENCE: '0.3',
          TAG_LANGUAGE: 'zh',
          UPLOAD_PREFIX: 'photos/',
        },
        240_000,
      );
      expect(code).toBe(0);
      expect(output).toContain('web page      http://127.0.0.1:3010/');
      expect(output).toContain(
        `local S3 on http://127.0.0.1:4579, bucket image-tagger-dev-uploads-local (data in ${join(tmp, 'data', 's3')})`,
      );
      expect(output).toContain(
        `local DynamoDB on http://127.0.0.1:4580, table image-tagger-dev-labels (data in ${join(tmp, 'data', 'dynamo')}`,
      );
      // The model's vector index when its folder has an embedding; the stand-in either way.
      expect(output).toMatch(
        /local S3 Vectors on http:\/\/127\.0\.0\.1:4581(, bucket image-tagger-dev-vectors, index mobilenetv2-1 |: the model folder has no embedding)/,
      );
      expect(output).toContain('Offline [http for lambda] listening on http://127.0.0.1:3012');
      // One short line says what is built and why; nothing reads as a failure.
      expect(output).toContain(
        '[start] building the bundled trained MobileNetV2 (../shared, once, about a minute): the ResNet-18 download (127.0.0.1:9) is unreachable',
      );
      expect(output).not.toMatch(/\bfail(ed|s)?\b|\berror\b|warning/i);
      expect(output).toMatch(/\[start\] --check PASS: /);
      // A fresh pool: its first user, an editor, printed once with its password.
      expect(output).toMatch(
        /\[start\] local user: local@example\.com {2}password: \S{20} {2}\(shown once; an editor\./,
      );
      expect(output).toContain(`local user pool on http://127.0.0.1:9239, pool local_`);
      expect(output).toMatch(
        /signed in as check-\d+@example\.com; GET \/images without a token: 401, with a tampered token: 401/,
      );
      expect(output).toContain(`model folder: ${join(tmp, 'layer', 'models', 'mobilenetv2')}`);
      expect(output).not.toContain('MEANINGLESS');
      expect(output).toContain('tagger:top = 金毛猎犬');
      const labels = /tagger:labels = (.*)/.exec(output)?.[1] ?? '';
      expect(labels).toMatch(/^金毛猎犬=0\.\d{3}/);
      for (const score of labels.split('/').map((l) => Number(l.split('=')[1])))
        expect(score).toBeGreaterThanOrEqual(0.3);
      expect(output).toContain('tagger:model = mobilenetv2@1');
      expect(output).toMatch(/GET \/images\?label=金毛猎犬: lists photos\/check /);
      expect(output).toMatch(/GET \/health: ok, model mobilenetv2@1, weights /);
      expect(output).not.toContain('MEANINGLESS');
      expect(output).toMatch(/POST \/classify \(octet-stream\): 200 Golden Retriever \d+\.\d%/);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }, 300_000);
});

describe('npm start: ports', () => {
  it('a port in use stops it with one line naming the port and the variable that moves it', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as AddressInfo;
    try {
      const { code, output } = await start([], { LOCAL_S3_PORT: String(port) }, 60_000);
      expect(code).toBe(1);
      const lines = output.split('\n').filter((l) => l.startsWith('[start]'));
      expect(lines).toEqual([
        `[start] port ${port} (local S3) on 127.0.0.1 is in use: stop what listens there, or pick another port with LOCAL_S3_PORT=<port> npm start`,
      ]);
      expect(output).not.toContain('EADDRINUSE');
      const bad = await start([], { LOCAL_HTTP_PORT: 'http' }, 60_000);
      expect(bad.code).toBe(1);
      expect(bad.output).toContain('[start] LOCAL_HTTP_PORT=http is not a port number (1-65535)');
    } finally {
      await new Promise((r) => busy.close(r));
    }
  }, 130_000);
});

describe('npm start: settings', () => {
  // A bad value stops the start with the handlers' one-line ConfigError naming the variable, before
  // anything is built or listens (every setting: test/unit/start-settings.test.ts).
  it.each([
    ['MIN_CONFIDENCE', '2'],
    ['MODEL_WEIGHTS', 'bogus'],
  ])(
    '%s=%s stops it with one line naming the variable',
    async (variable, value) => {
      const { code, output } = await start([], { [variable]: value }, 60_000);
      expect(code).toBe(1);
      const lines = output.split('\n').filter((l) => l.startsWith('[start]'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^\\[start\\] ${variable} .*"${value}"`));
    },
    60_000,
  );
});

describe.skipIf(skipUnlessShared('the bad model test of npm start'))(
  'npm start: a model it cannot load',
  () => {
    it('stops with one line naming the file, exit 1, and never says ready', async () => {
      const tmp = await mkdtemp(join(tmpdir(), 'corrupt-model-'));
      try {
        const dir = join(tmp, 'corrupt');
        await cp(sharedModelFolder(), dir, { recursive: true });
        // Both weight storages, so whichever this CPU picks is random bytes.
        for (const file of ['model.onnx', 'model.u8.onnx'])
          await writeFile(join(dir, file), randomBytes(4096));
        const [http, lambda, s3, dynamo, vectors] = await freePorts(5);
        const { code, output } = await start(
          ['--model-dir', dir],
          {
            LOCAL_HTTP_PORT: String(http),
            LOCAL_LAMBDA_PORT: String(lambda),
            LOCAL_S3_PORT: String(s3),
            LOCAL_DYNAMO_PORT: String(dynamo),
            LOCAL_VECTORS_PORT: String(vectors),
            LOCAL_DATA_DIR: join(tmp, 'data'),
          },
          90_000,
        );
        expect(code).toBe(1);
        const lines = output.split('\n').filter((l) => l.startsWith('[start]'));
        expect(lines.at(-1)).toMatch(
          new RegExp(
            `^\\[start\\] ${dir}/model(\\.u8)?\\.onnx is not a model ONNX Runtime can load: Protobuf parsing failed\\.$`,
          ),
        );
        expect(output).not.toContain('ready');
        expect(output).not.toMatch(/^\s+at /m);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    }, 120_000);
  },
);

describe('local S3 of npm start: CORS for the page, ObjectRemoved events', () => {
  const [origin] = pageOrigins(3000) as [string];
  const bucket = 'cors-bucket';
  const events: S3Event[] = [];
  let dir: string;
  let server: Awaited<ReturnType<typeof startLocalS3>>;
  let s3: S3Client;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'local-s3-cors-'));
    server = await startLocalS3({
      directory: dir,
      buckets: [bucket],
      corsOrigins: pageOrigins(3000),
      onEvent: (e) => events.push(e),
    });
    s3 = localS3Client(server.endpoint);
  });
  afterAll(async () => {
    s3?.destroy();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const preflight = (from: string, method: string, headers?: string) =>
    fetch(`${server.endpoint}/${bucket}/uploads/x.jpg`, {
      method: 'OPTIONS',
      headers: {
        origin: from,
        'access-control-request-method': method,
        ...(headers ? { 'access-control-request-headers': headers } : {}),
      },
    });

  it("answers the page's preflight for POST and GET, and refuses other origins and methods", async () => {
    for (const method of ['POST', 'GET']) {
      const res = await preflight(origin, method);
      expect(res.status, method).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBeTruthy();
      expect(res.headers.get('access-control-allow-methods')).toBe('POST, GET, HEAD');
    }
    expect((await preflight('http://127.0.0.1:3000', 'POST')).status).toBe(200);
    expect((await preflight('http://localhost:3000', 'POST')).status).toBe(200);
    expect((await preflight('http://evil.example', 'POST')).status).toBe(403);
    expect((await preflight(origin, 'PUT')).status).toBe(403);
    expect((await preflight(origin, 'DELETE')).status).toBe(403);
    // No request headers are allowed: a form post and an <img> need none.
    expect((await preflight(origin, 'POST', 'x-amz-meta-owner')).status).toBe(403);
  });

  it('takes a presigned POST from the page origin and serves the object back to it', async () => {
    const key = 'uploads/from-page.jpg';
    const bytes = await readFile(photo('207-Golden-Retriever.jpg')).catch(() => Buffer.from('not a photo'));
    const post = await createPresignedPost(s3, {
      Bucket: bucket,
      Key: key,
      Conditions: [['content-length-range', 1, 26214400]],
      Fields: { 'Content-Type': 'image/jpeg' },
      Expires: 300,
    });
    const form = new FormData();
    for (const [name, value] of Object.entries(post.fields)) form.append(name, value);
    form.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), 'from-page.jpg');
    const res = await fetch(post.url, { method: 'POST', body: form, headers: { origin } });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    expect(events.at(-1)?.Records[0]).toMatchObject({
      eventName: 'ObjectCreated:Post',
      s3: { bucket: { name: bucket }, object: { key: 'uploads/from-page.jpg', size: bytes.length } },
    });
    // The thumbnail: a presigned GET, read by the page's origin.
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 60 });
    const got = await fetch(url, { headers: { origin } });
    expect(got.status).toBe(200);
    expect(got.headers.get('access-control-allow-origin')).toBe(origin);
    expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
    const other = await fetch(url, { headers: { origin: 'http://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('reports ObjectRemoved:Delete for DeleteObject and for each key of DeleteObjects', async () => {
    const keys = ['uploads/a b.jpg', 'uploads/c.jpg', 'uploads/d.jpg'];
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'x' }));
    events.length = 0;
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: keys[0] }));
    await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: keys.slice(1).map((Key) => ({ Key })) },
      }),
    );
    const removed = events.flatMap((e) => e.Records);
    expect(removed.map((r) => r.eventName)).toEqual(Array(3).fill('ObjectRemoved:Delete'));
    // Keys as S3 encodes them in notifications ('+' for spaces).
    expect(removed.map((r) => r.s3.object.key)).toEqual([
      'uploads/a+b.jpg',
      'uploads/c.jpg',
      'uploads/d.jpg',
    ]);
    expect(removed.every((r) => r.s3.bucket.name === bucket)).toBe(true);
  });
});
