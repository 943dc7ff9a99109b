/**
 * Offline `sls package` (loopback CloudFormation stub, dummy credentials) of the real bundles, the
 * real pruned runtime layer and a model layer made from ../shared; then the generated
 * CloudFormation template is checked for what serverless.yml promises, and the artifacts for
 * Lambda's size limits.
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundles } from '../../scripts/build.ts';
import { buildRuntimeLayer } from '../../scripts/build-runtime-layer.ts';
import { packageOffline } from '../../scripts/package.ts';
import { photo, ROOT, sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

const MODEL = 'mobilenetv2-int8';
const MODEL_LAYER = '.cache/package-test/model-layer';
const MB = 1024 * 1024;

/** Sum of the uncompressed sizes in a zip's central directory. */
async function unzippedSize(path: string): Promise<number> {
  const zip = await readFile(path);
  let eocd = zip.length - 22;
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error(`${path}: no end of central directory`);
  const entries = zip.readUInt16LE(eocd + 10);
  let offset = zip.readUInt32LE(eocd + 16);
  let total = 0;
  for (let i = 0; i < entries; i++) {
    if (zip.readUInt32LE(offset) !== 0x02014b50) throw new Error(`${path}: bad central directory entry`);
    total += zip.readUInt32LE(offset + 24);
    offset +=
      46 + zip.readUInt16LE(offset + 28) + zip.readUInt16LE(offset + 30) + zip.readUInt16LE(offset + 32);
  }
  return total;
}

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: unknown };
type Template = { Resources: Record<string, Resource> };

describe.skipIf(skipUnlessShared('the offline packaging tests'))('offline sls package', () => {
  let out: string;
  let prod: Template;
  let dev: Template;
  let layerDir: string;

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'sls-package-'));
    await buildBundles();
    layerDir = await buildRuntimeLayer('x64');
    const modelDir = join(ROOT, MODEL_LAYER, 'models', MODEL);
    await rm(join(ROOT, MODEL_LAYER), { recursive: true, force: true });
    await mkdir(join(ROOT, MODEL_LAYER, 'models'), { recursive: true });
    await cp(sharedModelFolder(), modelDir, { recursive: true });
    const env = { MODEL_LAYER_DIR: MODEL_LAYER };
    for (const stage of ['prod', 'dev'] as const) {
      const r = await packageOffline(
        ['--stage', stage, `--param=modelName=${MODEL}`, '--package', join(out, stage)],
        { env, build: false },
      );
      if (r.code !== 0) throw new Error(`sls package --stage ${stage} failed:\n${r.output}`);
      expect(r.actions).toContain('DescribeStacks');
    }
    const read = async (stage: string) =>
      JSON.parse(
        await readFile(join(out, stage, 'cloudformation-template-update-stack.json'), 'utf8'),
      ) as Template;
    prod = await read('prod');
    dev = await read('dev');
  }, 300_000);
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  const ofType = (t: Template, type: string) =>
    Object.entries(t.Resources).filter(([, r]) => r.Type === type);

  it('prod: both functions run on nodejs22.x x86_64 with the two layers, memory 1769', () => {
    for (const name of ['ApiLambdaFunction', 'TaggerLambdaFunction']) {
      const p = prod.Resources[name]?.Properties ?? {};
      expect(p).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['x86_64'], MemorySize: 1769 });
      expect(p.Layers).toEqual([{ Ref: 'RuntimeLambdaLayer' }, { Ref: 'ModelLambdaLayer' }]);
      expect((p.Environment as { Variables: Record<string, string> }).Variables.MODEL_DIR).toBe(
        `/opt/models/${MODEL}`,
      );
    }
    expect(prod.Resources.RuntimeLambdaLayer?.Properties).toMatchObject({
      CompatibleRuntimes: ['nodejs22.x'],
      CompatibleArchitectures: ['x86_64'],
      LayerName: 'image-tagger-prod-runtime-x86_64',
    });
  });

  it('prod: provisioned concurrency on an alias that both the HTTP integration and the S3 notification invoke', () => {
    for (const fn of ['Api', 'Tagger']) {
      const alias = prod.Resources[`${fn}ProvConcLambdaAlias`];
      expect(alias?.Type).toBe('AWS::Lambda::Alias');
      expect(alias?.Properties).toMatchObject({
        Name: 'provisioned',
        ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 1 },
      });
    }
    const [, integration] = ofType(prod, 'AWS::ApiGatewayV2::Integration')[0] ?? [];
    expect(integration?.Properties.IntegrationUri).toEqual({
      'Fn::Join': [':', [{ 'Fn::GetAtt': ['ApiLambdaFunction', 'Arn'] }, 'provisioned']],
    });
    const routes = ofType(prod, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties.RouteKey);
    expect(routes.sort()).toEqual(['GET /', 'GET /health', 'POST /classify']);
    const bucket = prod.Resources.UploadBucket?.Properties as {
      NotificationConfiguration: {
        LambdaConfigurations: { Event: string; Function: unknown; Filter: unknown }[];
      };
    };
    const configs = bucket.NotificationConfiguration.LambdaConfigurations;
    expect(configs.length).toBeGreaterThanOrEqual(8);
    for (const c of configs) {
      expect(c.Event).toBe('s3:ObjectCreated:*');
      expect(c.Function).toEqual({ Ref: 'TaggerProvConcLambdaAlias' });
      expect(JSON.stringify(c.Filter)).toContain('{"Name":"prefix","Value":"uploads/"}');
    }
    expect(prod.Resources.TaggerS3Permission?.Properties).toMatchObject({
      FunctionName: { Ref: 'TaggerProvConcLambdaAlias' },
      Principal: 's3.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
    });
    expect(prod.Resources.UploadBucket?.DependsOn).toEqual(['TaggerS3Permission']);
    // The framework's own S3 events would have added a notification on the unqualified function.
    expect(
      ofType(prod, 'AWS::Lambda::Permission')
        .map(([k]) => k)
        .sort(),
    ).toEqual(['ApiLambdaPermissionHttpApi', 'TaggerS3Permission']);
  });

  it('prod: failures go to the SQS queue, for invocations of the alias', () => {
    const [, config] = ofType(prod, 'AWS::Lambda::EventInvokeConfig')[0] ?? [];
    expect(config?.Properties).toMatchObject({
      FunctionName: { Ref: 'TaggerLambdaFunction' },
      Qualifier: 'provisioned',
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['TaggerFailureQueue', 'Arn'] } } },
    });
    expect(prod.Resources.TaggerFailureQueue?.Properties.QueueName).toBe('image-tagger-prod-tagger-failures');
  });

  it('IAM: the tagger may read and tag under uploads/ only and send to the queue; the API gets no S3 access', () => {
    const statements = (role: string) =>
      (
        (prod.Resources[role]?.Properties.Policies ?? []) as {
          PolicyDocument: { Statement: Record<string, unknown>[] };
        }[]
      ).flatMap((p) => p.PolicyDocument.Statement);
    const tagger = statements('TaggerRole');
    const s3 = tagger.find((s) => JSON.stringify(s.Action).includes('s3:PutObjectTagging'));
    expect(s3?.Action).toEqual(['s3:GetObject', 's3:GetObjectTagging', 's3:PutObjectTagging']);
    expect(JSON.stringify(s3?.Resource)).toMatch(/"\/uploads\/\*"\]\]\}$/);
    const actions = tagger.flatMap((s) => [s.Action].flat() as string[]);
    expect(actions.filter((a) => a.startsWith('s3:')).sort()).toEqual([
      's3:GetObject',
      's3:GetObjectTagging',
      's3:ListBucket',
      's3:PutObjectTagging',
    ]);
    expect(tagger.find((s) => s.Action === 's3:ListBucket')?.Condition).toEqual({
      StringLike: { 's3:prefix': ['uploads/*'] },
    });
    expect(tagger.find((s) => s.Action === 'sqs:SendMessage')?.Resource).toEqual({
      'Fn::GetAtt': ['TaggerFailureQueue', 'Arn'],
    });
    expect(actions.some((a) => a.includes('*') && !a.startsWith('logs:'))).toBe(false);
    expect(JSON.stringify(statements('ApiRole'))).not.toMatch(/s3:|sqs:/);
    expect(prod.Resources.TaggerLambdaFunction?.Properties.Role).toEqual({
      'Fn::GetAtt': ['TaggerRole', 'Arn'],
    });
    expect(prod.Resources.ApiLambdaFunction?.Properties.Role).toEqual({ 'Fn::GetAtt': ['ApiRole', 'Arn'] });
  });

  it('dev: no provisioned concurrency, so the notification and integration target the function', () => {
    expect(ofType(dev, 'AWS::Lambda::Alias')).toEqual([]);
    const bucket = dev.Resources.UploadBucket?.Properties as {
      NotificationConfiguration: { LambdaConfigurations: { Function: unknown }[] };
    };
    for (const c of bucket.NotificationConfiguration.LambdaConfigurations)
      expect(c.Function).toEqual({ 'Fn::GetAtt': ['TaggerLambdaFunction', 'Arn'] });
    expect(dev.Resources.TaggerLambdaFunction?.Properties.FunctionName).toBe('image-tagger-dev-tagger');
    expect(dev.Resources.TaggerFailureQueue?.Properties.QueueName).toBe('image-tagger-dev-tagger-failures');
  });

  it('artifacts: each under 50 MB zipped; function plus layers under 250 MB unzipped', async () => {
    const sizes: Record<string, { zipped: number; unzipped: number }> = {};
    for (const name of ['api', 'tagger', 'runtime', 'model']) {
      const path = join(out, 'prod', `${name}.zip`);
      sizes[name] = { zipped: (await stat(path)).size, unzipped: await unzippedSize(path) };
    }
    console.log(
      Object.entries(sizes)
        .map(
          ([n, s]) =>
            `${n}: ${(s.zipped / MB).toFixed(1)} MB zipped, ${(s.unzipped / MB).toFixed(1)} MB unzipped`,
        )
        .join('\n'),
    );
    for (const s of Object.values(sizes)) expect(s.zipped).toBeLessThan(50 * MB);
    const layers = (sizes.runtime?.unzipped ?? 0) + (sizes.model?.unzipped ?? 0);
    for (const fn of ['api', 'tagger']) expect((sizes[fn]?.unzipped ?? 0) + layers).toBeLessThan(250 * MB);
    expect(sizes.runtime?.unzipped).toBeGreaterThan(20 * MB); // the native binaries really are in it
  });

  it('the bundle classifies with the packages of the pruned runtime layer', async () => {
    // Lay the function out as in Lambda, with the layer's node_modules as the only place to find them.
    const task = await mkdtemp(join(tmpdir(), 'lambda-task-'));
    try {
      await cp(join(ROOT, 'dist/http/index.mjs'), join(task, 'dist/http/index.mjs'));
      await symlink(join(layerDir, 'nodejs/node_modules'), join(task, 'node_modules'), 'dir');
      const script = `
        const { handler } = await import(${JSON.stringify(join(task, 'dist/http/index.mjs'))});
        const fs = await import('node:fs');
        const body = fs.readFileSync(${JSON.stringify(photo('207-Golden-Retriever.jpg'))}).toString('base64');
        const r = await handler({ rawPath: '/classify', requestContext: { http: { method: 'POST' } },
          headers: { 'content-type': 'application/octet-stream' }, body, isBase64Encoded: true });
        process.stdout.write('RESULT ' + r.body);`;
      const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: task,
        env: {
          PATH: process.env.PATH,
          MODEL_DIR: join(ROOT, MODEL_LAYER, 'models', MODEL),
          POWERTOOLS_METRICS_DISABLED: 'true',
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1769',
        },
        encoding: 'utf8',
        timeout: 60_000,
      });
      const result = JSON.parse(stdout.slice(stdout.indexOf('RESULT ') + 7));
      expect(result.labels[0]).toMatchObject({ index: 207, label: 'Golden Retriever' });
    } finally {
      await rm(task, { recursive: true, force: true });
    }
  });
});
