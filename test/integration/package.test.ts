/**
 * Offline `sls package` (loopback CloudFormation stub, dummy credentials) of the real bundles, the
 * real pruned runtime layer and a model layer made from ../shared; then the generated
 * CloudFormation template is checked for what serverless.yml promises, and the artifacts for
 * Lambda's size limits.
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST } from '../../paths.ts';
import { buildBundles } from '../../scripts/build.ts';
import { buildRuntimeLayer } from '../../scripts/build-runtime-layer.ts';
import { LABEL_TABLE } from '../../scripts/local/label-table.ts';
import { packageOffline } from '../../scripts/package.ts';
import type { ModelMeta } from '../../src/classifier/model-folder.ts';
import { formatModelRef } from '../../src/tagging/tags.ts';
import { NON_FILTERABLE_METADATA_KEYS, vectorIndexName } from '../../src/tagging/vector-index.ts';
import { photo, ROOT, SHARED, sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

const MODEL = 'mobilenetv2-int8';
/** Relative to ROOT: serverless.yml reads it as MODEL_LAYER_DIR. */
const MODEL_LAYER = '.cache/package-test/model-layer';
const MB = 1024 * 1024;
const CFN_VALIDATE = join(SHARED, 'tools/cfn-validate/cfn-validate.mjs');

/** The entries of a zip's central directory: names and uncompressed sizes. */
async function zipEntries(path: string): Promise<{ name: string; size: number }[]> {
  const zip = await readFile(path);
  let eocd = zip.length - 22;
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error(`${path}: no end of central directory`);
  const count = zip.readUInt16LE(eocd + 10);
  let offset = zip.readUInt32LE(eocd + 16);
  const entries = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(offset) !== 0x02014b50) throw new Error(`${path}: bad central directory entry`);
    const nameLength = zip.readUInt16LE(offset + 28);
    entries.push({
      name: zip.toString('utf8', offset + 46, offset + 46 + nameLength),
      size: zip.readUInt32LE(offset + 24),
    });
    offset += 46 + nameLength + zip.readUInt16LE(offset + 30) + zip.readUInt16LE(offset + 32);
  }
  return entries;
}

/** Sum of the uncompressed sizes in a zip's central directory. */
const unzippedSize = async (path: string) => (await zipEntries(path)).reduce((sum, e) => sum + e.size, 0);

type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  DependsOn?: unknown;
  Condition?: string;
};
type Template = {
  Resources: Record<string, Resource>;
  Conditions?: Record<string, unknown>;
  Outputs?: Record<string, { Value: unknown; Condition?: string }>;
};

/** Extra packagings (template only): the access options, the alarm e-mail, CORS origins, Batch Operations. */
const VARIANTS = {
  issuer: [
    'dev',
    '--param=authIssuer=https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example',
    '--param=authClientId=example-client',
    '--param=alarmEmail=ops@example.com',
  ],
  public: ['dev', '--param=publicDemo=true', '--param=weights=u8', '--param=vectors=false'],
  batch: [
    'prod',
    '--param=batchOperations=true',
    '--param=batchManifestArn=arn:aws:s3:::my-inventory/image-tagger/daily/*',
    '--param=batchReportArn=arn:aws:s3:::my-reports/batch/*',
    '--param=corsOrigins=https://tagger.example.com,https://www.example.com',
  ],
} as const;

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
type Policy = { PolicyName: string; PolicyDocument: { Statement: Statement[] } };
/** A role's policies; one under `Fn::If: [condition, policy, AWS::NoValue]` counts when its condition holds. */
const policiesOf = (
  t: Template,
  role: string,
  conditions: Record<string, boolean> = { VectorsEnabled: true },
) =>
  (
    (t.Resources[role]?.Properties.Policies ?? []) as (Policy | { 'Fn::If': [string, Policy, unknown] })[]
  ).flatMap((p) => ('Fn::If' in p ? (conditions[p['Fn::If'][0]] ? [p['Fn::If'][1]] : []) : [p]));
const statementsOf = (t: Template, role: string, conditions?: Record<string, boolean>): Statement[] =>
  policiesOf(t, role, conditions).flatMap((p) => p.PolicyDocument.Statement);
const bucketArn = (suffix: string) => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':s3:::',
      {
        'Fn::Join': [
          '-',
          [{ Ref: 'AWS::StackName' }, 'uploads', { Ref: 'AWS::Region' }, { Ref: 'AWS::AccountId' }],
        ],
      },
      ...(suffix ? [suffix] : []),
    ],
  ],
});
const API_ORIGIN = {
  'Fn::Join': [
    '',
    ['https://', { Ref: 'HttpApi' }, '.execute-api.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }],
  ],
};

describe.skipIf(skipUnlessShared('the offline packaging tests'))('offline sls package', () => {
  let out: string;
  let prod: Template;
  let dev: Template;
  let variants: Record<keyof typeof VARIANTS, Template>;
  let validation: Record<string, string>;
  const outputs: Record<string, string> = {};
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
        ([name, [stage, ...args]]) => [name, stage, args] as [string, string, readonly string[]],
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
      outputs[name] = r.output;
    }
    const path = (name: string) => join(out, name, 'cloudformation-template-update-stack.json');
    const read = async (name: string) => JSON.parse(await readFile(path(name), 'utf8')) as Template;
    prod = await read('prod');
    dev = await read('dev');
    variants = { issuer: await read('issuer'), public: await read('public'), batch: await read('batch') };
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
  }, 600_000);
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
    expect(routes.sort()).toEqual(['ANY /{proxy+}', 'GET /', 'GET /health']);
    // Every object created or removed under the upload prefix invokes the alias.
    expect(prod.Resources.UploadBucket?.Properties.NotificationConfiguration).toEqual({
      LambdaConfigurations: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'].map((Event) => ({
        Event,
        Function: { Ref: 'TaggerProvConcLambdaAlias' },
        Filter: { S3Key: { Rules: [{ Name: 'prefix', Value: 'uploads/' }] } },
      })),
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

  it('IAM: the tagger may read and tag under uploads/ only, write the index and send to the queue', () => {
    const statements = (role: string) => statementsOf(prod, role);
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
    // The label index: item reads and writes on the table only, and Query (the members of a group of
    // copies, the taught names); no Scan, batch or transaction.
    const dynamo = tagger.filter((s) => JSON.stringify(s.Action).includes('dynamodb:'));
    expect(dynamo).toEqual([
      {
        Effect: 'Allow',
        Action: [
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:Query',
        ],
        Resource: { 'Fn::GetAtt': ['LabelIndexTable', 'Arn'] },
      },
    ]);
    expect(prod.Resources.TaggerLambdaFunction?.Properties.Role).toEqual({
      'Fn::GetAtt': ['TaggerRole', 'Arn'],
    });
    expect(prod.Resources.ApiLambdaFunction?.Properties.Role).toEqual({ 'Fn::GetAtt': ['ApiRole', 'Arn'] });
  });

  it('IAM: the API may query and write the index (taught names) and read, tag and presign uploads under uploads/ only', () => {
    const api = statementsOf(prod, 'ApiRole').filter(
      (s) => !JSON.stringify(s.Action).includes('logs:') && !JSON.stringify(s.Action).includes('s3vectors:'),
    );
    expect(api).toEqual([
      {
        Effect: 'Allow',
        Action: [
          'dynamodb:Query',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
        ],
        Resource: { 'Fn::GetAtt': ['LabelIndexTable', 'Arn'] },
      },
      {
        Effect: 'Allow',
        // GET: presigned thumbnails; PUT: the presigned POST of the page's upload; the object's tags.
        Action: ['s3:GetObject', 's3:PutObject', 's3:GetObjectTagging'],
        Resource: bucketArn('/uploads/*'),
      },
      {
        // The user's tags sent with an upload: tag keys required, none of them the service's.
        Effect: 'Allow',
        Action: 's3:PutObjectTagging',
        Resource: bucketArn('/uploads/*'),
        Condition: {
          Null: { 's3:RequestObjectTagKeys': 'false' },
          'ForAllValues:StringNotLike': { 's3:RequestObjectTagKeys': ['tagger:*'] },
        },
      },
      {
        // Teaching and forgetting names (editors only) rewrite tagger:names with the other tags.
        Effect: 'Allow',
        Action: 's3:PutObjectTagging',
        Resource: bucketArn('/uploads/*'),
      },
      {
        // A missing key answers 404 (not 403) only with ListBucket.
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: bucketArn(''),
        Condition: { StringLike: { 's3:prefix': ['uploads/*'] } },
      },
    ]);
    // It cannot delete objects, scan the table or change the vectors.
    expect(JSON.stringify(statementsOf(prod, 'ApiRole'))).not.toMatch(
      /sqs:|s3:DeleteObject|dynamodb:(Scan|Batch)|s3vectors:(Put|Delete|Create)/,
    );
  });

  it("vector index: one S3 Vectors bucket and the model's index (its embedding size, cosine, the non-filterable keys); each function's actions on that index only", async () => {
    const meta = JSON.parse(await readFile(join(sharedModelFolder(), 'model.json'), 'utf8')) as ModelMeta;
    expect(meta.embedding?.dimension).toBe(1280);
    for (const [t, stage] of [
      [prod, 'prod'],
      [dev, 'dev'],
    ] as const) {
      expect(t.Conditions?.VectorsEnabled).toEqual({ 'Fn::Equals': ['true', 'true'] });
      expect(t.Resources.VectorBucket).toEqual({
        Type: 'AWS::S3Vectors::VectorBucket',
        Condition: 'VectorsEnabled',
        Properties: {
          VectorBucketName: `image-tagger-${stage}-vectors`,
          EncryptionConfiguration: { SseType: 'AES256' },
        },
      });
      expect(t.Resources.VectorIndex).toEqual({
        Type: 'AWS::S3Vectors::Index',
        Condition: 'VectorsEnabled',
        Properties: {
          VectorBucketArn: { 'Fn::GetAtt': ['VectorBucket', 'VectorBucketArn'] },
          // The name the functions and npm start derive from the model (one index per name@version).
          IndexName: vectorIndexName(formatModelRef(meta)),
          DataType: 'float32',
          Dimension: meta.embedding?.dimension,
          DistanceMetric: 'cosine',
          MetadataConfiguration: { NonFilterableMetadataKeys: [...NON_FILTERABLE_METADATA_KEYS] },
        },
      });
      const index = { 'Fn::GetAtt': ['VectorIndex', 'IndexArn'] };
      const vectorStatements = (role: string) =>
        statementsOf(t, role).filter((s) => JSON.stringify(s.Action).includes('s3vectors:'));
      expect(vectorStatements('ApiRole')).toEqual([
        { Effect: 'Allow', Action: ['s3vectors:QueryVectors', 's3vectors:GetVectors'], Resource: index },
      ]);
      expect(vectorStatements('TaggerRole')).toEqual([
        {
          Effect: 'Allow',
          Action: [
            's3vectors:PutVectors',
            's3vectors:DeleteVectors',
            's3vectors:QueryVectors',
            's3vectors:GetVectors',
          ],
          Resource: index,
        },
      ]);
      // Without the condition (vectors=false) neither role has any S3 Vectors action.
      for (const role of ['ApiRole', 'TaggerRole'])
        expect(JSON.stringify(statementsOf(t, role, { VectorsEnabled: false }))).not.toContain('s3vectors:');
      for (const fn of ['Api', 'Tagger'])
        expect(
          (
            t.Resources[`${fn}LambdaFunction`]?.Properties.Environment as {
              Variables?: Record<string, unknown>;
            }
          )?.Variables ?? {},
        ).toMatchObject({
          VECTOR_BUCKET: { 'Fn::If': ['VectorsEnabled', `image-tagger-${stage}-vectors`, ''] },
          VECTOR_INDEX: { 'Fn::If': ['VectorsEnabled', vectorIndexName(formatModelRef(meta)), ''] },
        });
    }
    // vectors=false (a model imported --without-embedding): the condition is false, nothing is created.
    expect(variants.public.Conditions?.VectorsEnabled).toEqual({ 'Fn::Equals': ['false', 'true'] });
    expect(prod.Outputs?.VectorIndexArn).toEqual({
      Condition: 'VectorsEnabled',
      Value: { 'Fn::GetAtt': ['VectorIndex', 'IndexArn'] },
    });
  });

  it('label index table: equal to scripts/local/label-table.ts, with TTL, SSE and point-in-time recovery', () => {
    for (const t of [prod, dev]) {
      const table = t.Resources.LabelIndexTable;
      expect(table?.Type).toBe('AWS::DynamoDB::Table');
      expect(table?.Properties).toEqual({
        TableName: t === prod ? 'image-tagger-prod-labels' : 'image-tagger-dev-labels',
        KeySchema: LABEL_TABLE.KeySchema,
        AttributeDefinitions: LABEL_TABLE.AttributeDefinitions,
        BillingMode: LABEL_TABLE.BillingMode,
        TimeToLiveSpecification: { AttributeName: LABEL_TABLE.ttlAttribute, Enabled: true },
        SSESpecification: { SSEEnabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      });
    }
    expect(prod.Outputs?.LabelIndexTableName).toEqual({ Value: { Ref: 'LabelIndexTable' } });
    expect(prod.Outputs?.UploadBucketName).toEqual({ Value: { Ref: 'UploadBucket' } });
    expect(prod.Outputs?.HttpApiUrl?.Value).toEqual(API_ORIGIN);
  });

  it('environment: INDEX_TABLE, UPLOAD_PREFIX and MODEL_WEIGHTS (the weights param) for both functions, UPLOAD_BUCKET for the API', () => {
    const env = (fn: string, t = prod) =>
      (
        t.Resources[`${fn}LambdaFunction`]?.Properties.Environment as
          | { Variables: Record<string, unknown> }
          | undefined
      )?.Variables ?? {};
    for (const fn of ['Api', 'Tagger']) {
      expect(env(fn)).toMatchObject({
        INDEX_TABLE: { Ref: 'LabelIndexTable' },
        UPLOAD_PREFIX: 'uploads/',
        MODEL_WEIGHTS: 'auto',
      });
      expect(env(fn, variants.public).MODEL_WEIGHTS).toBe('u8');
    }
    expect(env('Api').UPLOAD_BUCKET).toEqual({ Ref: 'UploadBucket' });
    expect(env('Tagger')).not.toHaveProperty('UPLOAD_BUCKET');
  });

  it("bucket CORS: POST, GET and HEAD from the HTTP API's own origin, plus corsOrigins when set", () => {
    const rules = (t: Template) =>
      (
        t.Resources.UploadBucket?.Properties.CorsConfiguration as
          | { CorsRules: Record<string, unknown>[] }
          | undefined
      )?.CorsRules ?? [];
    for (const t of [prod, variants.batch]) {
      expect(rules(t)).toHaveLength(1);
      expect(rules(t)[0]).toEqual({
        Id: 'page-uploads-and-thumbnails',
        AllowedMethods: ['POST', 'GET', 'HEAD'],
        AllowedOrigins: {
          'Fn::If': [
            'HasCorsOrigins',
            { 'Fn::Split': [',', { 'Fn::Join': [',', [API_ORIGIN, expect.any(String)]] }] },
            [API_ORIGIN],
          ],
        },
        MaxAge: 3600,
      });
    }
    expect(prod.Conditions?.HasCorsOrigins).toEqual({ 'Fn::Not': [{ 'Fn::Equals': ['', ''] }] });
    const origins = 'https://tagger.example.com,https://www.example.com';
    expect(variants.batch.Conditions?.HasCorsOrigins).toEqual({
      'Fn::Not': [{ 'Fn::Equals': [origins, ''] }],
    });
    expect(JSON.stringify(rules(variants.batch))).toContain(`"${origins}"`);
  });

  it('S3 Batch Operations role: only with batchOperations=true; invokes the tagger, reads manifests, writes reports', () => {
    // The role is in every template, created only when its condition holds.
    expect(dev.Conditions?.BatchOperationsEnabled).toEqual({ 'Fn::Equals': ['false', 'true'] });
    expect(variants.batch.Conditions?.BatchOperationsEnabled).toEqual({ 'Fn::Equals': ['true', 'true'] });
    for (const t of [dev, variants.batch]) {
      const role = t.Resources.BatchOperationsRole;
      expect(role?.Condition).toBe('BatchOperationsEnabled');
      expect(role?.Properties.AssumeRolePolicyDocument).toEqual({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: 'batchoperations.s3.amazonaws.com' },
            Action: 'sts:AssumeRole',
          },
        ],
      });
      expect(t.Outputs?.BatchOperationsRoleArn).toMatchObject({
        Condition: 'BatchOperationsEnabled',
        Value: { 'Fn::GetAtt': ['BatchOperationsRole', 'Arn'] },
      });
    }
    const fn = { 'Fn::GetAtt': ['TaggerLambdaFunction', 'Arn'] };
    // dev: the function; the manifest and report default to prefixes of the upload bucket.
    expect(statementsOf(dev, 'BatchOperationsRole')).toEqual([
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: [fn] },
      {
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:GetObjectVersion'],
        Resource: {
          'Fn::If': [
            'HasBatchManifestArn',
            '',
            { 'Fn::Join': ['', [bucketArn(''), '/batch-operations/manifests/*']] },
          ],
        },
      },
      {
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: {
          'Fn::If': [
            'HasBatchReportArn',
            '',
            { 'Fn::Join': ['', [bucketArn(''), '/batch-operations/reports/*']] },
          ],
        },
      },
      {
        Effect: 'Allow',
        Action: 's3:GetBucketLocation',
        Resource: ['HasBatchManifestArn', 'HasBatchReportArn'].map((c) => ({
          'Fn::If': [c, { 'Fn::Select': [0, { 'Fn::Split': ['/', ''] }] }, bucketArn('')],
        })),
      },
    ]);
    // Neither prefix is under uploads/: manifests and reports never trigger the tagger.
    expect(JSON.stringify(statementsOf(dev, 'BatchOperationsRole'))).not.toContain('/uploads/');
    // prod with the params: the function and its provisioned alias; the given manifest and report.
    const manifest = 'arn:aws:s3:::my-inventory/image-tagger/daily/*';
    const report = 'arn:aws:s3:::my-reports/batch/*';
    expect(statementsOf(variants.batch, 'BatchOperationsRole')).toEqual([
      {
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: [fn, { Ref: 'TaggerProvConcLambdaAlias' }],
      },
      {
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:GetObjectVersion'],
        Resource: { 'Fn::If': ['HasBatchManifestArn', manifest, expect.anything()] },
      },
      {
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: { 'Fn::If': ['HasBatchReportArn', report, expect.anything()] },
      },
      {
        Effect: 'Allow',
        Action: 's3:GetBucketLocation',
        Resource: [
          ['HasBatchManifestArn', manifest],
          ['HasBatchReportArn', report],
        ].map(([c, arn]) => ({
          'Fn::If': [c, { 'Fn::Select': [0, { 'Fn::Split': ['/', arn] }] }, expect.anything()],
        })),
      },
    ]);
    expect(variants.batch.Conditions?.HasBatchManifestArn).toEqual({
      'Fn::Not': [{ 'Fn::Equals': [manifest, ''] }],
    });
  });

  it('dev: no provisioned concurrency, so the notification and integration target the function', () => {
    expect(ofType(dev, 'AWS::Lambda::Alias')).toEqual([]);
    const notification = dev.Resources.UploadBucket?.Properties.NotificationConfiguration as {
      LambdaConfigurations: { Function: unknown }[];
    };
    expect(notification.LambdaConfigurations.map((c) => c.Function)).toEqual([
      { 'Fn::GetAtt': ['TaggerLambdaFunction', 'Arn'] },
      { 'Fn::GetAtt': ['TaggerLambdaFunction', 'Arn'] },
    ]);
    expect(dev.Resources.TaggerS3Permission?.Properties.FunctionName).toEqual({
      'Fn::GetAtt': ['TaggerLambdaFunction', 'Arn'],
    });
    expect(dev.Resources.TaggerLambdaFunction?.Properties.FunctionName).toBe('image-tagger-dev-tagger');
    expect(dev.Resources.TaggerFailureQueue?.Properties.QueueName).toBe('image-tagger-dev-tagger-failures');
  });

  it('every packaged template passes AWS resource schema validation with no problem', () => {
    expect(Object.keys(validation).sort()).toEqual(['batch', 'dev', 'issuer', 'prod', 'public']);
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

  const routes = (t: Template) =>
    ofType(t, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties as Record<string, unknown>);
  const POOL_ISSUER = {
    'Fn::If': [
      'CreateUserPool',
      {
        'Fn::Join': [
          '',
          [
            'https://cognito-idp.',
            { Ref: 'AWS::Region' },
            '.',
            { Ref: 'AWS::URLSuffix' },
            '/',
            { Ref: 'UserPool' },
          ],
        ],
      },
      '',
    ],
  };

  it('private by default: a user pool, and every route but GET / and GET /health behind its JWT authorizer', () => {
    for (const t of [prod, dev]) {
      expect(
        routes(t)
          .map((r) => r.RouteKey)
          .sort(),
      ).toEqual(['ANY /{proxy+}', 'GET /', 'GET /health']);
      for (const route of routes(t)) {
        const isPublic = route.RouteKey === 'GET /' || route.RouteKey === 'GET /health';
        if (isPublic) expect(route.AuthorizationType, String(route.RouteKey)).toBeUndefined();
        else
          expect(route, String(route.RouteKey)).toMatchObject({
            AuthorizationType: 'JWT',
            AuthorizerId: { Ref: 'HttpApiAuthorizerUserPool' },
          });
      }
      expect(t.Resources.HttpApiAuthorizerUserPool?.Properties).toMatchObject({
        AuthorizerType: 'JWT',
        IdentitySource: ['$request.header.Authorization'],
        JwtConfiguration: {
          Issuer: POOL_ISSUER,
          Audience: [{ 'Fn::If': ['CreateUserPool', { Ref: 'UserPoolClient' }, ''] }],
        },
      });
      expect(t.Conditions?.CreateUserPool).toEqual({
        'Fn::And': [{ 'Fn::Equals': ['false', 'false'] }, { 'Fn::Equals': ['', ''] }],
      });
      const pool = t.Resources.UserPool;
      expect(pool?.Type).toBe('AWS::Cognito::UserPool');
      expect(pool?.Condition).toBe('CreateUserPool');
      expect(pool?.Properties).toMatchObject({
        AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
        UsernameAttributes: ['email'],
        UserPoolTier: 'LITE',
      });
      expect(t.Resources.UserPoolClient?.Properties).toMatchObject({
        UserPoolId: { Ref: 'UserPool' },
        GenerateSecret: false,
        ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
      });
      expect(t.Resources.EditorsGroup?.Properties).toMatchObject({ GroupName: 'editors' });
      expect(t.Resources.ViewersGroup?.Properties).toMatchObject({ GroupName: 'viewers' });
      // The function verifies the same tokens again.
      expect(t.Resources.ApiLambdaFunction?.Properties.Environment).toMatchObject({
        Variables: {
          AUTH_PUBLIC: 'false',
          AUTH_ISSUER: POOL_ISSUER,
          AUTH_CLIENT_ID: { 'Fn::If': ['CreateUserPool', { Ref: 'UserPoolClient' }, ''] },
        },
      });
      expect(Object.keys(t.Outputs ?? {})).toEqual(
        expect.arrayContaining(['UserPoolId', 'UserPoolClientId']),
      );
    }
    expect(outputs.dev).toMatch(/Private: the data routes need sign-in to the stack's Cognito user pool/);
    expect(outputs.dev).not.toMatch(/PUBLIC DEMO/);
  });

  it('an existing pool by params: no pool created, its issuer and client on the authorizer and the function', () => {
    const t = variants.issuer;
    const issuer = 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example';
    expect(t.Conditions?.CreateUserPool).toEqual({
      'Fn::And': [{ 'Fn::Equals': ['false', 'false'] }, { 'Fn::Equals': [issuer, ''] }],
    });
    expect(t.Resources.HttpApiAuthorizerUserPool?.Properties.JwtConfiguration).toEqual({
      Issuer: { 'Fn::If': [POOL_ISSUER['Fn::If'][0], POOL_ISSUER['Fn::If'][1], issuer] },
      Audience: [{ 'Fn::If': ['CreateUserPool', { Ref: 'UserPoolClient' }, 'example-client'] }],
    });
    for (const route of routes(t))
      if (route.RouteKey === 'ANY /{proxy+}') expect(route.AuthorizationType).toBe('JWT');
    expect(outputs.issuer).toContain(`Private: the data routes need access tokens of ${issuer}`);
  });

  it('publicDemo=true: no authorizer, no pool, AUTH_PUBLIC on the function, and the package says so in one line', () => {
    const t = variants.public;
    expect(ofType(t, 'AWS::ApiGatewayV2::Authorizer')).toEqual([]);
    for (const route of routes(t)) expect(route.AuthorizationType, String(route.RouteKey)).toBeUndefined();
    expect(t.Conditions?.CreateUserPool).toEqual({
      'Fn::And': [{ 'Fn::Equals': ['true', 'false'] }, { 'Fn::Equals': ['', ''] }],
    });
    expect(t.Resources.ApiLambdaFunction?.Properties.Environment).toMatchObject({
      Variables: { AUTH_PUBLIC: 'true', AUTH_ISSUER: '', AUTH_CLIENT_ID: '' },
    });
    const lines = outputs.public?.split('\n').filter((l) => /PUBLIC DEMO/.test(l)) ?? [];
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/anyone with the URL can search, view, upload and classify/);
  });

  it('API CORS: none by default (the page is same-origin); exactly corsOrigins when set', () => {
    for (const t of [prod, variants.batch])
      expect(t.Resources.HttpApi?.Properties.CorsConfiguration).toEqual({
        'Fn::If': [
          'HasCorsOrigins',
          {
            AllowOrigins: {
              'Fn::Split': [',', t === prod ? '' : 'https://tagger.example.com,https://www.example.com'],
            },
            AllowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
            AllowHeaders: ['authorization', 'content-type', 'x-id-token'],
            MaxAge: 3600,
          },
          { Ref: 'AWS::NoValue' },
        ],
      });
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
    expect(variants.issuer.Conditions?.HasAlarmEmail).toEqual({
      'Fn::Not': [{ 'Fn::Equals': ['ops@example.com', ''] }],
    });
    expect(sub(variants.issuer)?.Properties).toEqual({
      TopicArn: { Ref: 'AlarmTopic' },
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });

  it('Powertools: each function names its service and the namespace in its environment; the dashboard reads the same', async () => {
    const env = (fn: string) =>
      (
        prod.Resources[`${fn}LambdaFunction`]?.Properties.Environment as
          | { Variables: Record<string, string> }
          | undefined
      )?.Variables ?? {};
    // The names the dashboards and alarms of a deployed stack were made with: changing them is a
    // change of the metrics' identity, so it has to be made here on purpose.
    expect(env('Api')).toMatchObject({
      POWERTOOLS_SERVICE_NAME: 'image-tagger-api',
      POWERTOOLS_METRICS_NAMESPACE: 'ImageTagger',
    });
    expect(env('Tagger')).toMatchObject({
      POWERTOOLS_SERVICE_NAME: 'image-tagger-tagger',
      POWERTOOLS_METRICS_NAMESPACE: 'ImageTagger',
    });
    const NAMESPACE = env('Api').POWERTOOLS_METRICS_NAMESPACE ?? '';
    const services = [env('Api').POWERTOOLS_SERVICE_NAME ?? '', env('Tagger').POWERTOOLS_SERVICE_NAME ?? ''];
    const body = JSON.parse(prod.Resources.Dashboard?.Properties.DashboardBody as string) as {
      widgets: { properties: { title: string; region: string; metrics: unknown[][] } }[];
    };
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
    // Defined once: the code takes them from the environment and holds no copy.
    const sources = await readdir(join(ROOT, 'src'), { recursive: true });
    for (const file of sources.filter((f) => f.endsWith('.ts'))) {
      const text = await readFile(join(ROOT, 'src', file), 'utf8');
      for (const name of [NAMESPACE, ...services]) expect(text, `src/${file}`).not.toContain(name);
    }
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

  it("each function's zip holds its bundle and the chunks it loads on first use, no source maps", async () => {
    for (const fn of ['api', 'tagger']) {
      const built = (await readdir(join(DIST, fn)))
        .filter((f) => f.endsWith('.mjs'))
        .map((f) => `dist/${fn}/${f}`);
      const zipped = (await zipEntries(join(out, 'prod', `${fn}.zip`))).map((e) => e.name);
      expect(zipped.sort()).toEqual(built.sort());
      expect(built).toContain(`dist/${fn}/index.mjs`);
    }
    // The api's image routes are a chunk of their own (the AWS SDK clients, loaded on first use).
    expect((await readdir(join(DIST, 'api'))).some((f) => /^image-ports-.*\.mjs$/.test(f))).toBe(true);
  });

  it('the bundle classifies with the packages of the pruned runtime layer', async () => {
    // Lay the function out as in Lambda, with the layer's node_modules as the only place to find them.
    const task = await mkdtemp(join(tmpdir(), 'lambda-task-'));
    try {
      await cp(join(DIST, 'api'), join(task, 'dist/api'), { recursive: true });
      await symlink(join(layerDir, 'nodejs/node_modules'), join(task, 'node_modules'), 'dir');
      const script = `
        const { handler } = await import(${JSON.stringify(join(task, 'dist/api/index.mjs'))});
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
          AUTH_PUBLIC: 'true',
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
