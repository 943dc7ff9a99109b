/**
 * npm start [-- --model <name> | --model-dir <dir> | --synthetic] [--check <image>]
 *
 * The local stack: builds the bundles, finds (or builds) a trained model folder in
 * layers/model/models/ (the zoo ResNet-18 with network; offline, the MobileNetV2 of ../shared; a
 * synthetic random-weight folder only with --synthetic),
 * starts a real local S3 (s3rver) on 127.0.0.1:4569 with the upload bucket, and runs
 * serverless-offline (HTTP API on http://127.0.0.1:3000, Lambda invoke API on 127.0.0.1:3002).
 * Every object created in the local S3 under uploads/ invokes the tagger function through
 * serverless-offline with the S3 notification AWS sends (the bucket notification of
 * serverless.yml: prefix only); the tagger picks the images by suffix in any letter case, as on AWS.
 *
 * --check <image>: once up, puts the image under uploads/, waits for the tags, prints them and exits
 * (exit code 1 when no tags appear within 60 s).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { GetObjectTaggingCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { labelsMeaningful, selectModel } from '../models/select.ts';
import { DEFAULT_UPLOAD_PREFIX, decodeS3Key } from '../src/tagging/tags.ts';
import { buildBundles } from './build.ts';
import { startLocalS3 } from './local/local-s3.ts';
import { ROOT } from './paths.ts';

export const LOCAL = {
  host: '127.0.0.1',
  httpPort: 3000,
  lambdaPort: 3002,
  s3Port: 4569,
  bucket: 'image-tagger-dev-uploads-local',
  stage: 'dev',
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
};
const TAGGER = `image-tagger-${LOCAL.stage}-tagger`;

const log = (message: string) => console.log(`[start] ${message}`);

async function waitFor(url: string, seconds: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < seconds * 4; i++) {
    if (child.exitCode !== null) throw new Error(`serverless-offline exited with code ${child.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${seconds} s`);
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      'model-dir': { type: 'string' },
      check: { type: 'string' },
      synthetic: { type: 'boolean' },
    },
  });
  await buildBundles(log);
  const explicitDir = values['model-dir'] ? resolve(values['model-dir']) : undefined;
  const wanted = values.model ?? process.env.MODEL_NAME;
  const selected = explicitDir
    ? { name: basename(explicitDir), dir: explicitDir }
    : await selectModel({ ...(wanted ? { model: wanted } : {}), synthetic: values.synthetic ?? false, log });
  const model = selected.name;
  const modelDir = selected.dir;
  if (!existsSync(join(modelDir, 'model.onnx'))) throw new Error(`${modelDir} has no model.onnx`);
  log(`model folder: ${modelDir}`);
  if (!labelsMeaningful(modelDir))
    log(
      'WARNING: this model has synthetic random weights: its labels are MEANINGLESS (the page and /health say so too)',
    );

  const endpoint = `http://${LOCAL.host}:${LOCAL.s3Port}`;
  const invokeUrl = `http://${LOCAL.host}:${LOCAL.lambdaPort}/2015-03-31/functions/${TAGGER}/invocations`;
  const pending = new Set<Promise<void>>();

  // The bucket notification of serverless.yml, locally: every object created under the upload
  // prefix invokes the tagger, one record per event as S3 sends them; the tagger picks the images.
  const onEvent = (event: S3Event) => {
    for (const record of event.Records) {
      const key = decodeS3Key(record.s3.object.key);
      if (!record.eventName.startsWith('ObjectCreated:') || !key.startsWith(DEFAULT_UPLOAD_PREFIX)) continue;
      const notification = { Records: [record] };
      const job = fetch(invokeUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-amz-invocation-type': 'RequestResponse' },
        body: JSON.stringify(notification),
      })
        .then(async (res) => {
          const text = await res.text();
          const failed = res.headers.get('x-amz-function-error') ?? res.headers.get('x-amzn-errortype');
          log(
            `tagger ${failed ? `FAILED (${failed})` : 'done'} for s3://${LOCAL.bucket}/${key}: ${text.slice(0, 400)}`,
          );
        })
        .catch((err: Error) => log(`tagger invocation failed for ${key}: ${err.message}`))
        .finally(() => pending.delete(job));
      pending.add(job);
    }
  };
  const s3server = await startLocalS3({
    directory: join(ROOT, '.s3-local'),
    buckets: [LOCAL.bucket],
    port: LOCAL.s3Port,
    address: LOCAL.host,
    onEvent,
  });
  log(`local S3 on ${endpoint}, bucket ${LOCAL.bucket} (data in .s3-local/)`);

  const offline = spawn(
    join(ROOT, 'node_modules/.bin/sls'),
    ['offline', 'start', '--stage', LOCAL.stage, `--param=modelName=${model}`],
    {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: {
        ...process.env,
        OFFLINE_MODEL_DIR: modelDir,
        AWS_ENDPOINT_URL_S3: endpoint,
        AWS_ACCESS_KEY_ID: LOCAL.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL.credentials.secretAccessKey,
        AWS_REGION: 'us-east-1',
        POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
        SLS_TELEMETRY_DISABLED: '1',
        SLS_NOTIFICATIONS_MODE: 'off',
      },
    },
  );
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await Promise.allSettled([...pending]);
    if (offline.exitCode === null) {
      offline.kill('SIGINT');
      await new Promise((r) => {
        const t = setTimeout(() => {
          offline.kill('SIGKILL');
          r(undefined);
        }, 5000);
        offline.once('exit', () => {
          clearTimeout(t);
          r(undefined);
        });
      });
    }
    await s3server.close();
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));
  offline.once('exit', (code) => {
    if (!stopping) {
      log(`serverless-offline exited (${code})`);
      void stop(code ?? 1);
    }
  });

  const base = `http://${LOCAL.host}:${LOCAL.httpPort}`;
  await waitFor(`${base}/health`, 120, offline);
  log(`ready:
  web page      ${base}/
  health        curl ${base}/health
  classify      curl --data-binary @photo.jpg -H 'content-type: application/octet-stream' '${base}/classify?topK=3'
                curl -F image=@photo.jpg ${base}/classify
  tag in S3     AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER aws --endpoint-url ${endpoint} s3 cp photo.jpg s3://${LOCAL.bucket}/uploads/photo.jpg
                AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER aws --endpoint-url ${endpoint} s3api get-object-tagging --bucket ${LOCAL.bucket} --key uploads/photo.jpg
  Ctrl-C stops everything.`);

  if (values.check) {
    const s3 = new S3Client({
      endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: LOCAL.credentials,
    });
    const key = `uploads/check ${Date.now()}/${basename(values.check)}`;
    await s3.send(
      new PutObjectCommand({ Bucket: LOCAL.bucket, Key: key, Body: await readFile(values.check) }),
    );
    log(`put s3://${LOCAL.bucket}/${key}; waiting for tags`);
    for (let i = 0; i < 240; i++) {
      const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: LOCAL.bucket, Key: key }));
      if ((tags.TagSet ?? []).length > 0) {
        log(`tags of s3://${LOCAL.bucket}/${key}:`);
        for (const t of tags.TagSet ?? []) console.log(`  ${t.Key} = ${t.Value}`);
        const health = await (await fetch(`${base}/health`)).json();
        log(`GET /health: ${JSON.stringify(health)}`);
        const bytes = new Uint8Array(await readFile(values.check));
        const form = new FormData();
        form.append('image', new Blob([bytes]), basename(values.check));
        for (const [form_, body, headers] of [
          ['multipart', form, {}],
          ['octet-stream', bytes, { 'content-type': 'application/octet-stream' }],
        ] as const) {
          const res = await fetch(`${base}/classify?topK=3`, { method: 'POST', body, headers });
          const out = (await res.json()) as { labels?: { label: string; score: number }[] };
          const top = (out.labels ?? []).map((l) => `${l.label} ${(l.score * 100).toFixed(1)}%`).join(', ');
          log(`POST /classify (${form_}): ${res.status} ${top || JSON.stringify(out)}`);
        }
        await stop(0);
        return 0;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    log('no tags within 60 s');
    await stop(1);
    return 1;
  }
  return new Promise<number>(() => {}); // runs until Ctrl-C
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  main(process.argv.slice(2)).catch((err: Error) => {
    console.error(`[start] ${err.message}`);
    process.exit(1);
  });
