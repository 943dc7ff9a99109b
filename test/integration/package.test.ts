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
import { DIST } from '../../scripts/paths.ts';
import { NAMESPACE } from '../../src/handlers/powertools.ts';
import { photo, ROOT, SHARED, sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

const MODEL = 'mobilenetv2-int8';
/** Relative to ROOT: serverless.yml reads it as MODEL_LAYER_DIR. */
const MODEL_LAYER = '.cache/package-test/model-layer';
const MB = 1024 * 1024;
const CFN_VALIDATE = join(SHARED, 'tools/cfn-validate/cfn-validate.mjs');

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

type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  DependsOn?: unknown;
  Condition?: string;
};
type Template = { Resources: Record<string, Resource>; Conditions?: Record<string, unknown> };

/** Extra packagings: the auth options and the alarm e-mail param (template only). */
const VARIANTS = {
  jwt: [
    '--param=classifyAuth=jwt',
    '--param=jwtIssuerUrl=https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example',
    '--param=jwtAudience=example-client',
    '--param=alarmEmail=ops@example.com',
  ],
  iam: ['--param=classifyAuth=iam'],
} as const;

describe.skipIf(skipUnlessShared('the offline packaging tests'))('offline sls package', () => {
  let out: string;
  let prod: Template;
  let dev: Template;
  let variants: Record<keyof typeof VARIANTS, Template>;
  let validation: Record<string, string>;
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
    const runs: [string, string, readonly string[]][] = [
      ['prod', 'prod', []],
      ['dev', 'dev', []],
      ...Object.entries(VARIANTS).map(
        ([name, args]) => [name, 'dev', args] as [string, string, readonly string[]],
      ),
    ];
    for (const [name, stage, args] of runs) {
      const r = await packageOffline(
        ['--stage', stage, `--param=modelName=${MODEL}`, ...args, '--package', join(out, name)],
        { env, build: false },
      );
      if (r.code !== 0)
        throw new Error(`sls package --stage ${stage} ${args.join(' ')} failed:\n${r.output}`);
      expect(r.actions).toContain('DescribeStacks');
    }
    const path = (name: string) => join(out, name, 'cloudformation-template-update-stack.json');
    const read = async (name: string) => JSON.parse(await readFile(path(name), 'utf8')) as Template;
    prod = await read('prod');
    dev = await read('dev');
    variants = { jwt: await read('jwt'), iam: await read('iam') };
    // AWS's resource schemas (../shared/tools/cfn-validate); ajv comes with osls (a devDependency).
    validation = {};
    for (const [name] of runs) {
      try {
        validation[name] = execFileSync(process.execPath, [CFN_VALIDATE, path(name)], {
          env: { ...process.env, AJV_DIR: join(ROOT, 'node_modules') },
          encoding: 'utf8',
        });
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; status?: number };
        validation[name] = `exit ${e.status}\n${e.stdout ?? ''}${e.stderr ?? ''}`;
      }
    }
  }, 300_000);
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  const ofType = (t: Template, type: string) =>
    Object.entries(t.Resources).filter(([, r]) => r.Type === type);

  it('prod: both functions run on nodejs24.x x86_64 with the two layers, memory 1769', () => {
    for (const name of ['ApiLambdaFunction', 'TaggerLambdaFunction']) {
      const p = prod.Resources[name]?.Properties ?? {};
      expect(p).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['x86_64'], MemorySize: 1769 });
      expect(p.Layers).toEqual([{ Ref: 'RuntimeLambdaLayer' }, { Ref: 'ModelLambdaLayer' }]);
      expect((p.Environment as { Variables: Record<string, string> }).Variables.MODEL_DIR).toBe(
        `/opt/models/${MODEL}`,
      );
    }
    expect(prod.Resources.RuntimeLambdaLayer?.Properties).toMatchObject({
      CompatibleRuntimes: ['nodejs22.x', 'nodejs24.x'],
      CompatibleArchitectures: ['x86_64'],
      LayerName: 'image-tagger-prod-runtime-x86_64',
    });
  });

  it('prod: provisioned concurrency on an alias that both the HTTP integration and the bucket notification invoke', () => {
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
    // One notification: every object created under the upload prefix invokes the alias.
    expect(prod.Resources.UploadBucket?.Properties.NotificationConfiguration).toEqual({
      LambdaConfigurations: [
        {
          Event: 's3:ObjectCreated:*',
          Function: { Ref: 'TaggerProvConcLambdaAlias' },
          Filter: { S3Key: { Rules: [{ Name: 'prefix', Value: 'uploads/' }] } },
        },
      ],
    });
    expect(prod.Resources.UploadBucket?.DependsOn).toEqual(['TaggerS3Permission']);
    expect(prod.Resources.TaggerS3Permission?.Properties).toMatchObject({
      FunctionName: { Ref: 'TaggerProvConcLambdaAlias' },
      Action: 'lambda:InvokeFunction',
      Principal: 's3.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
    });
    // The framework's own S3 events would have added a notification on the unqualified function.
    expect(
      ofType(prod, 'AWS::Lambda::Permission')
        .map(([k]) => k)
        .sort(),
    ).toEqual(['ApiLambdaPermissionHttpApi', 'TaggerS3Permission']);
  });

  it("the trigger filters by prefix only: the suffix rule (any letter case) is the tagger's own", () => {
    // No case-sensitive suffix filter anywhere: isTaggable() with DEFAULT_IMAGE_SUFFIXES decides.
    expect(JSON.stringify(prod)).not.toMatch(/"Name":"suffix"/);
    // The tagger runs with the same rule: default suffixes (no IMAGE_SUFFIXES override), the prefix.
    const env = (
      prod.Resources.TaggerLambdaFunction?.Properties.Environment as
        | { Variables: Record<string, string> }
        | undefined
    )?.Variables;
    expect(env?.UPLOAD_PREFIX).toBe('uploads/');
    expect(env).not.toHaveProperty('IMAGE_SUFFIXES');
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
    const notification = dev.Resources.UploadBucket?.Properties.NotificationConfiguration as {
      LambdaConfigurations: { Function: unknown }[];
    };
    expect(notification.LambdaConfigurations.map((c) => c.Function)).toEqual([
      { 'Fn::GetAtt': ['TaggerLambdaFunction', 'Arn'] },
    ]);
    expect(dev.Resources.TaggerS3Permission?.Properties.FunctionName).toEqual({
      'Fn::GetAtt': ['TaggerLambdaFunction', 'Arn'],
    });
    expect(dev.Resources.TaggerLambdaFunction?.Properties.FunctionName).toBe('image-tagger-dev-tagger');
    expect(dev.Resources.TaggerFailureQueue?.Properties.QueueName).toBe('image-tagger-dev-tagger-failures');
  });

  it('every packaged template passes AWS resource schema validation with no problem', () => {
    expect(Object.keys(validation).sort()).toEqual(['dev', 'iam', 'jwt', 'prod']);
    for (const [name, report] of Object.entries(validation)) {
      expect(report, name).toMatch(/checked \d+ resources of \d+ types: 0 problems$/m);
      expect(report, name).not.toMatch(/warning/);
    }
  });

  it('HTTP API stage throttling and reserved concurrency per function (params with safe defaults)', () => {
    for (const t of [prod, dev]) {
      expect(t.Resources.HttpApiStage?.Properties.DefaultRouteSettings).toEqual({
        DetailedMetricsEnabled: false,
        ThrottlingRateLimit: 10,
        ThrottlingBurstLimit: 20,
      });
      expect(t.Resources.ApiLambdaFunction?.Properties.ReservedConcurrentExecutions).toBe(10);
      expect(t.Resources.TaggerLambdaFunction?.Properties.ReservedConcurrentExecutions).toBe(10);
    }
    // Provisioned instances must fit inside the reservation.
    const provisioned = prod.Resources.ApiProvConcLambdaAlias?.Properties.ProvisionedConcurrencyConfig as {
      ProvisionedConcurrentExecutions: number;
    };
    expect(provisioned.ProvisionedConcurrentExecutions).toBeLessThanOrEqual(10);
  });

  it('auth for POST /classify: off by default, a JWT authorizer or IAM when the param says so', () => {
    const route = (t: Template, key: string) =>
      ofType(t, 'AWS::ApiGatewayV2::Route').find(([, r]) => r.Properties.RouteKey === key)?.[1].Properties;
    for (const t of [prod, dev]) {
      expect(route(t, 'POST /classify')?.AuthorizationType).toBeUndefined();
      expect(ofType(t, 'AWS::ApiGatewayV2::Authorizer')).toEqual([]);
    }
    const jwt = variants.jwt;
    expect(route(jwt, 'POST /classify')).toMatchObject({
      AuthorizationType: 'JWT',
      AuthorizerId: { Ref: 'HttpApiAuthorizerClassifyJwt' },
    });
    expect(jwt.Resources.HttpApiAuthorizerClassifyJwt?.Properties).toMatchObject({
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: {
        Issuer: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example',
        Audience: ['example-client'],
      },
    });
    expect(route(variants.iam, 'POST /classify')?.AuthorizationType).toBe('AWS_IAM');
    // The page and the health check stay public in every variant.
    for (const t of [jwt, variants.iam])
      for (const key of ['GET /', 'GET /health']) expect(route(t, key)?.AuthorizationType).toBeUndefined();
  });

  it('upload bucket: TLS-only bucket policy, Block Public Access, encryption, no ACLs', () => {
    const bucket = prod.Resources.UploadBucket?.Properties ?? {};
    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    expect(bucket.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    const policy = prod.Resources.UploadBucketPolicy;
    expect(policy?.Type).toBe('AWS::S3::BucketPolicy');
    expect(policy?.Properties.Bucket).toEqual({ Ref: 'UploadBucket' });
    const statements = (
      policy?.Properties.PolicyDocument as { Statement: Record<string, unknown>[] } | undefined
    )?.Statement;
    expect(statements).toEqual([
      {
        Sid: 'DenyInsecureTransport',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: [
          { 'Fn::GetAtt': ['UploadBucket', 'Arn'] },
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['UploadBucket', 'Arn'] }, '/*']] },
        ],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ]);
  });

  it('alarms: failure queue, errors and throttles of each function, p99 duration near the timeout', () => {
    type Alarm = {
      Namespace: string;
      MetricName: string;
      Dimensions: { Name: string; Value: unknown }[];
      Statistic?: string;
      ExtendedStatistic?: string;
      Threshold: number;
      ComparisonOperator: string;
      AlarmActions: unknown[];
      OKActions: unknown[];
    };
    const alarms = Object.fromEntries(
      ofType(prod, 'AWS::CloudWatch::Alarm').map(([k, r]) => [k, r.Properties as unknown as Alarm]),
    );
    expect(Object.keys(alarms).sort()).toEqual([
      'ApiDurationAlarm',
      'ApiErrorsAlarm',
      'ApiThrottlesAlarm',
      'FailureQueueAlarm',
      'TaggerDurationAlarm',
      'TaggerErrorsAlarm',
      'TaggerThrottlesAlarm',
    ]);
    for (const a of Object.values(alarms)) {
      expect(a.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
      expect(a.OKActions).toEqual([{ Ref: 'AlarmTopic' }]);
      expect(a.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
    }
    expect(alarms.FailureQueueAlarm).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: prod.Resources.TaggerFailureQueue?.Properties.QueueName }],
      Threshold: 1,
    });
    for (const fn of ['Api', 'Tagger']) {
      const dims = [{ Name: 'FunctionName', Value: { Ref: `${fn}LambdaFunction` } }];
      expect(alarms[`${fn}ErrorsAlarm`]).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: dims,
        Threshold: 1,
      });
      expect(alarms[`${fn}ThrottlesAlarm`]).toMatchObject({
        MetricName: 'Throttles',
        Dimensions: dims,
        Threshold: 1,
      });
      const duration = alarms[`${fn}DurationAlarm`];
      expect(duration).toMatchObject({ MetricName: 'Duration', Dimensions: dims, ExtendedStatistic: 'p99' });
      const timeoutMs = (prod.Resources[`${fn}LambdaFunction`]?.Properties.Timeout as number) * 1000;
      expect(duration?.Threshold).toBe(Math.round(timeoutMs * 0.8));
    }
  });

  it('SNS: the alarm topic always; an e-mail subscription only when alarmEmail is set', () => {
    expect(prod.Resources.AlarmTopic?.Properties.TopicName).toBe('image-tagger-prod-alarms');
    const sub = (t: Template) => t.Resources.AlarmEmailSubscription;
    expect(sub(prod)?.Condition).toBe('HasAlarmEmail');
    expect(prod.Conditions?.HasAlarmEmail).toEqual({ 'Fn::Not': [{ 'Fn::Equals': ['', ''] }] });
    expect(variants.jwt.Conditions?.HasAlarmEmail).toEqual({
      'Fn::Not': [{ 'Fn::Equals': ['ops@example.com', ''] }],
    });
    expect(sub(variants.jwt)?.Properties).toEqual({
      TopicArn: { Ref: 'AlarmTopic' },
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });

  it('dashboard: the EMF metrics of the handlers in their namespace, and the alarm metrics', async () => {
    const env = (
      prod.Resources.ApiLambdaFunction?.Properties.Environment as
        | { Variables: Record<string, string> }
        | undefined
    )?.Variables;
    expect(env?.POWERTOOLS_METRICS_NAMESPACE).toBe(NAMESPACE);
    const body = JSON.parse(prod.Resources.Dashboard?.Properties.DashboardBody as string) as {
      widgets: { properties: { title: string; region: string; metrics: unknown[][] } }[];
    };
    const services = await Promise.all(
      ['http', 's3'].map(async (h) => {
        const src = await readFile(join(ROOT, `src/handlers/${h}.ts`), 'utf8');
        return src.match(/createPowertools\('([^']+)'/)?.[1];
      }),
    );
    const series = body.widgets.flatMap((w) => w.properties.metrics);
    const emf = series.filter((m) => m[0] === NAMESPACE);
    for (const name of ['ImagesClassified', 'InferenceMs', 'DecodeMs'])
      for (const service of services)
        expect(
          emf.some((m) => m[1] === name && m[2] === 'service' && m[3] === service),
          `${name} ${service}`,
        ).toBe(true);
    // Failures have a reason dimension: one line per reason found.
    const search = JSON.stringify(series.filter((m) => typeof m[0] === 'object'));
    expect(search).toContain(`SEARCH('{${NAMESPACE},reason,service} MetricName=\\"Failures\\"'`);
    // No other namespace of our own sneaks in.
    expect(new Set(series.map((m) => m[0]).filter((n) => typeof n === 'string'))).toEqual(
      new Set([NAMESPACE, 'AWS/Lambda', 'AWS/SQS']),
    );
    expect(body.widgets.every((w) => w.properties.region === 'us-east-1')).toBe(true);
    expect(prod.Resources.Dashboard?.Properties.DashboardName).toBe('image-tagger-prod');
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
      await cp(join(DIST, 'http/index.mjs'), join(task, 'dist/http/index.mjs'));
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
