/**
 * npm start [-- --model <name> | --model-dir <dir> | --synthetic] [--user <email>] [--public] [--check <image>]
 *
 * The local stack: builds the bundles, finds (or builds) a trained model folder in
 * layers/model/models/ (the zoo ResNet-18 with network; offline, the MobileNetV2 of ../shared; a
 * synthetic random-weight folder only with --synthetic),
 * starts a real local S3 (s3rver) on 127.0.0.1:4569 with the upload bucket (CORS for the page),
 * a real local DynamoDB (dynalite) on 127.0.0.1:4570 with the label index table, a local S3 Vectors
 * (scripts/local/local-s3-vectors.ts) on 127.0.0.1:4571 with the vector bucket and the model's index
 * (when the model folder has an embedding), and runs
 * serverless-offline (HTTP API on http://127.0.0.1:3000, Lambda invoke API on 127.0.0.1:3002).
 * Every object created or removed in the local S3 under uploads/ invokes the tagger function through
 * serverless-offline with the S3 notification AWS sends (the bucket notifications of
 * serverless.yml: prefix only); the tagger picks the images by suffix in any letter case, as on AWS.
 * Events are delivered as Lambda's asynchronous invocations are (scripts/local/async-invoke.ts): a
 * queue, at most localTaggerConcurrency() at once (so a burst reuses warm workers), 2 retries, then a
 * local failure queue file (docs/local-stack.md).
 * Sign-in as on AWS: a local user pool (cognito-local, scripts/local/local-cognito.ts) on
 * 127.0.0.1:9229 with the app client and groups serverless.yml creates; on its first start (or for a
 * new --user <email>) it adds a user, an editor, and prints the password once. The data routes need
 * its access tokens: serverless-offline checks issuer, client and expiry as API Gateway's JWT
 * authorizer does (ignoreJWTSignature: it cannot check signatures), and the api function verifies
 * them fully (src/auth/tokens.ts). --public: no pool, no sign-in (the publicDemo mode), said in one line.
 * Ports: LOCAL_HTTP_PORT, LOCAL_LAMBDA_PORT, LOCAL_S3_PORT, LOCAL_DYNAMO_PORT, LOCAL_VECTORS_PORT,
 * LOCAL_COGNITO_PORT. Data: .s3-local/, .dynamo-local/, .vectors-local/ and .cognito-local/, or
 * LOCAL_DATA_DIR/{s3,dynamo,vectors,cognito}.
 *
 * --check <image>: once up, signs in (a temporary user, deleted after; a request without a token must
 * get 401), puts the image under uploads/, waits for the tags, prints them, finds
 * it by searching its top label, deletes it and waits until search no longer lists it, then exits
 * (exit code 1 when a step does not happen in time: 60 s for the tags, 30 s for each search).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DeleteObjectCommand, GetObjectTaggingCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Event, S3EventRecord } from 'aws-lambda';
import yaml from 'js-yaml';
import { labelsMeaningful, selectModel } from '../models/select.ts';
import { ROOT } from '../paths.ts';
import { createClassifier } from '../src/classifier/classifier.ts';
import { corsOrigins, readSettings, weightRequest } from '../src/settings.ts';
import { decodeS3Key, formatModelRef } from '../src/tagging/tags.ts';
import { vectorIndexName } from '../src/tagging/vector-index.ts';
import { buildBundles } from './build.ts';
import { asyncInvoker, type FailureRecord } from './local/async-invoke.ts';
import { type LocalCognito, startLocalCognito } from './local/local-cognito.ts';
import { startLocalDynamo } from './local/local-dynamo.ts';
import { listingTokensWork, startLocalS3 } from './local/local-s3.ts';
import { startLocalS3Vectors } from './local/local-s3-vectors.ts';
import { offlineLog, taggerResultSummary } from './local/offline-log.ts';
import { addUser, deleteUser, ensureLocalPool, listUsers, type PoolRef, signIn } from './local/user-pool.ts';
import { quietNodeVersionWarning } from './node-version.ts';

/** The local stack's loopback ports: each one's default and the variable that changes it. */
export const PORTS = {
  http: { env: 'LOCAL_HTTP_PORT', default: 3000, what: 'HTTP API and web page' },
  lambda: { env: 'LOCAL_LAMBDA_PORT', default: 3002, what: 'Lambda invoke API' },
  s3: { env: 'LOCAL_S3_PORT', default: 4569, what: 'local S3' },
  dynamo: { env: 'LOCAL_DYNAMO_PORT', default: 4570, what: 'local DynamoDB' },
  vectors: { env: 'LOCAL_VECTORS_PORT', default: 4571, what: 'local S3 Vectors' },
  cognito: { env: 'LOCAL_COGNITO_PORT', default: 9229, what: 'local user pool (cognito-local)' },
} as const;
type PortName = keyof typeof PORTS;

/** A port from its variable (or the default); a value that is not a port names the variable. */
export function localPort(name: PortName, env: NodeJS.ProcessEnv = process.env): number {
  const { env: variable, default: fallback } = PORTS[name];
  const raw = env[variable];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || port < 1 || port > 65535)
    throw new Error(`${variable}=${raw} is not a port number (1-65535)`);
  return port;
}

export class PortInUseError extends Error {
  constructor(name: PortName, host: string, port: number) {
    const { env, what } = PORTS[name];
    super(
      `port ${port} (${what}) on ${host} is in use: stop what listens there, or pick another port with ${env}=<port> npm start`,
    );
    this.name = 'PortInUseError';
  }
}

/** Throws PortInUseError for the first of the ports that something already listens on. */
export async function checkPortsFree(host: string, ports: Partial<Record<PortName, number>>): Promise<void> {
  for (const [name, port] of Object.entries(ports) as [PortName, number][]) {
    await new Promise<void>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'EADDRINUSE' ? new PortInUseError(name, host, port) : err),
      );
      probe.listen(port, host, () => probe.close(() => resolve()));
    });
  }
}

export const LOCAL = {
  host: '127.0.0.1',
  bucket: 'image-tagger-dev-uploads-local',
  /** The label index table (serverless.yml names it image-tagger-<stage>-labels on AWS). */
  table: 'image-tagger-dev-labels',
  /** The vector bucket (serverless.yml names it image-tagger-<stage>-vectors on AWS too). */
  vectorBucket: 'image-tagger-dev-vectors',
  /** The local user pool (serverless.yml names it image-tagger-<stage>-users on AWS). */
  userPool: 'image-tagger-dev-users',
  /** The user `npm start` adds on the first start of a pool (an editor) when no --user is named. */
  firstUser: 'local@example.com',
  stage: 'dev',
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
};
const TAGGER = `image-tagger-${LOCAL.stage}-tagger`;

/**
 * How many tagger invocations the local stack runs at once: the stage's reserved concurrency of the
 * tagger (serverless.yml's taggerReservedConcurrency, what bounds it on AWS), and no more than the
 * machine's cores. On AWS each execution has its own vCPU; here all share the machine, and each one
 * is a serverless-offline worker holding its own model, so more than the cores only costs memory.
 */
export async function localTaggerConcurrency(cores = availableParallelism()): Promise<number> {
  const { params } = yaml.load(await readFile(join(ROOT, 'serverless.yml'), 'utf8')) as {
    params: Record<string, { taggerReservedConcurrency?: number }>;
  };
  const reserved =
    params[LOCAL.stage]?.taggerReservedConcurrency ?? params.default?.taggerReservedConcurrency;
  if (!Number.isInteger(reserved) || (reserved as number) < 1)
    throw new Error(`serverless.yml: params.default.taggerReservedConcurrency is not a positive integer`);
  return Math.min(reserved as number, Math.max(1, cores));
}

/** serverless.yml's tagger: maximumRetryAttempts. Lambda waits about 1, then 2 minutes; locally seconds. */
const TAGGER_RETRIES = 2;
const RETRY_DELAYS_MS = [1000, 2000];

/**
 * The origins of the page (`npm start` serves it on both names of the loopback address): they may
 * POST uploads to the local bucket and GET its thumbnails, as the stack's CORS rule allows the
 * HTTP API's origin on AWS.
 */
export function pageOrigins(httpPort: number): string[] {
  return [`http://127.0.0.1:${httpPort}`, `http://localhost:${httpPort}`];
}

const log = (message: string) => console.log(`[start] ${message}`);

/**
 * The variables serverless.yml's provider.environment and functions' environments set from a param
 * (MIN_CONFIDENCE from minConfidence, CORS_ORIGINS from corsOrigins, ...): serverless-offline
 * renders them over the shell's environment, so a value set for `npm start` reaches the functions
 * only as that param.
 */
export async function paramBackedVariables(): Promise<Record<string, string>> {
  const { provider, functions } = yaml.load(await readFile(join(ROOT, 'serverless.yml'), 'utf8')) as {
    provider: { environment: Record<string, unknown> };
    functions: Record<string, { environment?: Record<string, unknown> }>;
  };
  const byVariable: Record<string, string> = {};
  const environments = [provider.environment, ...Object.values(functions).map((f) => f.environment ?? {})];
  for (const [variable, value] of environments.flatMap((e) => Object.entries(e))) {
    const param = typeof value === 'string' ? /^\$\{param:(\w+)\}$/.exec(value)?.[1] : undefined;
    if (param) byVariable[variable] = param;
  }
  return byVariable;
}

/**
 * The functions' settings as `npm start` hands them to serverless-offline: each param-backed
 * variable set in `env` as `--param=<param>=<value>`; every other variable reaches the handlers
 * through --localEnvironment (serverless-offline passes only AWS_* without it). The values are
 * validated first, as the handlers validate them at init, so a bad one stops the start with the
 * handlers' one-line ConfigError naming the variable, before anything is built or started.
 */
export async function functionSettings(
  env: NodeJS.ProcessEnv,
): Promise<{ params: string[]; prefix: string }> {
  // The local table and buckets are npm start's own (LOCAL): a shell's INDEX_TABLE, UPLOAD_BUCKET,
  // VECTOR_BUCKET or VECTOR_INDEX never reaches them.
  const { prefix } = readSettings({
    ...env,
    INDEX_TABLE: undefined,
    UPLOAD_BUCKET: undefined,
    VECTOR_BUCKET: undefined,
    VECTOR_INDEX: undefined,
    MODEL_DIR: env.MODEL_DIR || '(chosen below)',
  });
  corsOrigins(env);
  const params = Object.entries(await paramBackedVariables())
    .filter(([variable]) => env[variable] !== undefined && env[variable] !== '')
    .map(([variable, param]) => `--param=${param}=${env[variable]}`);
  return { params, prefix };
}

/**
 * Where the local S3 and DynamoDB keep their data: .s3-local/ and .dynamo-local/ in the project, or
 * s3/ and dynamo/ under LOCAL_DATA_DIR (tests use a temporary one); and the local failure queue of
 * the tagger (one JSON record a line, as Lambda sends them to the on-failure destination).
 */
export function localDataDirs(env: NodeJS.ProcessEnv = process.env) {
  const base = env.LOCAL_DATA_DIR ? resolve(env.LOCAL_DATA_DIR) : undefined;
  return base
    ? {
        s3: join(base, 's3'),
        dynamo: join(base, 'dynamo'),
        vectors: join(base, 'vectors'),
        failures: join(base, 'tagger-failures.jsonl'),
        s3Name: join(base, 's3'),
        dynamoName: join(base, 'dynamo'),
        vectorsName: join(base, 'vectors'),
        cognito: join(base, 'cognito'),
        cognitoName: join(base, 'cognito'),
      }
    : {
        s3: join(ROOT, '.s3-local'),
        dynamo: join(ROOT, '.dynamo-local'),
        vectors: join(ROOT, '.vectors-local'),
        failures: join(ROOT, '.tagger-failures-local.jsonl'),
        s3Name: '.s3-local/',
        dynamoName: '.dynamo-local/',
        vectorsName: '.vectors-local/',
        cognito: join(ROOT, '.cognito-local'),
        cognitoName: '.cognito-local/',
      };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(url: string, seconds: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < seconds * 4; i++) {
    if (child.exitCode !== null) throw new Error(`serverless-offline exited with code ${child.exitCode}`);
    const res = await fetch(url).catch(() => undefined);
    if (res?.ok) {
      // serverless-offline answers 200 with its own error body when a handler fails to initialise.
      const body = await res.text();
      const status = (() => {
        try {
          return (JSON.parse(body) as { status?: unknown }).status;
        } catch {
          return undefined;
        }
      })();
      if (status === 'ok') return;
      throw new Error(`${url} answered 200 without "status":"ok": ${body.slice(0, 300)}`);
    }
    await sleep(250);
  }
  throw new Error(`${url} did not answer within ${seconds} s`);
}

/**
 * Whether GET /images?label=<label> lists the key (following the cursor, at most 20 pages);
 * undefined when the API has no search (404: the routes are not wired into the handler).
 */
async function searchLists(
  base: string,
  label: string,
  key: string,
  headers: Record<string, string>,
): Promise<boolean | undefined> {
  let cursor: string | undefined;
  for (let page = 0; page < 20; page++) {
    const query = new URLSearchParams({ label, limit: '50', ...(cursor ? { cursor } : {}) });
    const res = await fetch(`${base}/images?${query}`, { headers });
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`GET /images?${query}: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { items?: { key: string }[]; cursor?: string };
    if ((body.items ?? []).some((item) => item.key === key)) return true;
    if (!body.cursor) return false;
    cursor = body.cursor;
  }
  return false;
}

/** Polls searchLists until it answers `want` (or undefined: no search), at most `seconds`. */
async function waitForSearch(
  base: string,
  label: string,
  key: string,
  want: boolean,
  headers: Record<string, string>,
  seconds = 30,
): Promise<boolean | undefined> {
  let listed: boolean | undefined;
  for (let i = 0; i < seconds * 4; i++) {
    listed = await searchLists(base, label, key, headers);
    if (listed === undefined || listed === want) return listed;
    await sleep(250);
  }
  return listed;
}

async function main(argv: string[]): Promise<number> {
  // Quiet from here on (the children inherit it); said once, after the checks that stop with one line.
  const notice = quietNodeVersionWarning();
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      'model-dir': { type: 'string' },
      check: { type: 'string' },
      synthetic: { type: 'boolean' },
      public: { type: 'boolean' },
      user: { type: 'string' },
    },
  });
  const isPublic = values.public ?? false;
  if (isPublic && values.user)
    throw new Error('--user and --public exclude each other: --public has no sign-in');
  const ports = {
    http: localPort('http'),
    lambda: localPort('lambda'),
    s3: localPort('s3'),
    dynamo: localPort('dynamo'),
    vectors: localPort('vectors'),
    ...(isPublic ? {} : { cognito: localPort('cognito') }),
  };
  const settings = await functionSettings(process.env);
  await checkPortsFree(LOCAL.host, ports);
  if (!listingTokensWork())
    log(
      'WARNING: listings of the local S3 over 1,000 keys will fail (its continuation tokens need DES): ' +
        'start with `node --openssl-legacy-provider --import tsx scripts/start.ts`, as `npm start` does',
    );
  const dataDirs = localDataDirs();
  if (notice) log(notice);
  await buildBundles(log);
  const explicitDir = values['model-dir'] ? resolve(values['model-dir']) : undefined;
  const wanted = values.model ?? process.env.MODEL_NAME;
  const selected = explicitDir
    ? { name: basename(explicitDir), dir: explicitDir }
    : await selectModel({ ...(wanted ? { model: wanted } : {}), synthetic: values.synthetic ?? false, log });
  const model = selected.name;
  const modelDir = selected.dir;
  // Loaded once here, as each handler will load it: a folder ONNX Runtime cannot use stops npm start
  // with one line naming the file, before anything starts or says ready.
  const loaded = await createClassifier(modelDir, {
    threads: 1,
    weights: weightRequest(process.env),
  });
  await loaded.release();
  // The model's vector index (one per model name@version), when its folder gives an embedding.
  const { embedding } = loaded.folder.meta;
  const vectorIndex = embedding?.dimension
    ? { name: vectorIndexName(formatModelRef(loaded.folder.meta)), dimension: embedding.dimension }
    : undefined;
  log(`model folder: ${modelDir}`);
  if (!labelsMeaningful(modelDir))
    log(
      'WARNING: this model has synthetic random weights: its labels are MEANINGLESS (the page and /health say so too)',
    );

  const endpoint = `http://${LOCAL.host}:${ports.s3}`;
  const invokeUrl = `http://${LOCAL.host}:${ports.lambda}/2015-03-31/functions/${TAGGER}/invocations`;
  const concurrency = await localTaggerConcurrency();
  const describeRecord = (record: S3EventRecord) =>
    `${record.eventName} s3://${LOCAL.bucket}/${decodeS3Key(record.s3.object.key)}`;
  // Lambda's asynchronous invocation of the tagger, as S3 notifications get it on AWS: bounded
  // concurrency (so serverless-offline reuses warm workers instead of loading the model per event),
  // retries, and a failure queue for what still fails.
  const invoker = asyncInvoker<{ Records: [S3EventRecord] }>({
    functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${TAGGER}`,
    concurrency,
    retries: TAGGER_RETRIES,
    retryDelaysMs: RETRY_DELAYS_MS,
    invoke: async (notification) => {
      const what = describeRecord(notification.Records[0]);
      const started = performance.now();
      const res = await fetch(invokeUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-amz-invocation-type': 'RequestResponse' },
        body: JSON.stringify(notification),
      }).catch((err: Error) => {
        log(`tagger invocation failed for ${what}: ${err.message}`);
        throw err;
      });
      const text = await res.text();
      const failed = res.headers.get('x-amz-function-error') ?? res.headers.get('x-amzn-errortype');
      const ms = Math.round(performance.now() - started);
      log(
        failed
          ? `tagger FAILED (${failed}) for ${what}: ${text.slice(0, 400)}`
          : `tagger done for ${what}: ${taggerResultSummary(text)} (${ms} ms)`,
      );
      return failed ? { ok: false, error: failed, payload: text } : { ok: true };
    },
    onFailure: async (failure: FailureRecord<{ Records: [S3EventRecord] }>) => {
      const { condition, approximateInvokeCount: attempts } = failure.requestContext;
      if (condition !== 'Stopped')
        log(
          `tagger FAILURE QUEUE: ${describeRecord(failure.requestPayload.Records[0])} failed ${attempts} times; recorded in ${dataDirs.failures} (npm run backfill tags what is untagged)`,
        );
      await mkdir(dirname(dataDirs.failures), { recursive: true });
      await appendFile(dataDirs.failures, `${JSON.stringify(failure)}\n`);
    },
  });
  log(
    `tagger: S3 events run at most ${concurrency} at a time (reserved concurrency, at most the cores), ${TAGGER_RETRIES} retries, then ${dataDirs.failures}`,
  );

  // The bucket notifications of serverless.yml, locally: every object created or removed under the
  // upload prefix invokes the tagger, one record per event as S3 sends them; the tagger picks the
  // images (and forgets removed ones in the label index).
  const onEvent = (event: S3Event) => {
    for (const record of event.Records) {
      const key = decodeS3Key(record.s3.object.key);
      const notified = /^Object(Created|Removed):/.test(record.eventName);
      if (!notified || !key.startsWith(settings.prefix)) continue;
      invoker.enqueue({ Records: [record] });
    }
  };
  const listening = <T>(name: PortName, port: number, started: Promise<T>): Promise<T> =>
    started.catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'EADDRINUSE' ? new PortInUseError(name, LOCAL.host, port) : err;
    });
  const s3server = await listening(
    's3',
    ports.s3,
    startLocalS3({
      directory: dataDirs.s3,
      buckets: [LOCAL.bucket],
      port: ports.s3,
      address: LOCAL.host,
      corsOrigins: pageOrigins(ports.http),
      onEvent,
    }),
  );
  log(`local S3 on ${endpoint}, bucket ${LOCAL.bucket} (data in ${dataDirs.s3Name})`);
  const dynamo = await listening(
    'dynamo',
    ports.dynamo,
    startLocalDynamo({
      tables: [LOCAL.table],
      port: ports.dynamo,
      address: LOCAL.host,
      directory: dataDirs.dynamo,
    }),
  ).catch(async (err: Error) => {
    await s3server.close();
    throw err;
  });
  log(
    `local DynamoDB on ${dynamo.endpoint}, table ${LOCAL.table} (data in ${dataDirs.dynamoName}; it indexes ${dataDirs.s3Name}: delete both or neither)`,
  );
  const vectors = await listening(
    'vectors',
    ports.vectors,
    startLocalS3Vectors({
      port: ports.vectors,
      address: LOCAL.host,
      directory: dataDirs.vectors,
      indexes: vectorIndex
        ? [{ bucket: LOCAL.vectorBucket, index: vectorIndex.name, dimension: vectorIndex.dimension }]
        : [],
    }),
  ).catch(async (err: Error) => {
    await Promise.allSettled([s3server.close(), dynamo.close()]);
    throw err;
  });
  log(
    vectorIndex
      ? `local S3 Vectors on ${vectors.endpoint}, bucket ${LOCAL.vectorBucket}, index ${vectorIndex.name} (${vectorIndex.dimension} dimensions, cosine; data in ${dataDirs.vectorsName}; it indexes ${dataDirs.s3Name} too)`
      : `local S3 Vectors on ${vectors.endpoint}: the model folder has no embedding, so no vectors (no similar images or duplicates)`,
  );
  // The local user pool, unless --public.
  let cognito: LocalCognito | undefined;
  let pool: PoolRef | undefined;
  if (ports.cognito !== undefined) {
    const cognitoPort = ports.cognito;
    cognito = await listening(
      'cognito',
      cognitoPort,
      startLocalCognito({ directory: dataDirs.cognito, port: cognitoPort, address: LOCAL.host }),
    ).catch(async (err: Error) => {
      await Promise.allSettled([s3server.close(), dynamo.close()]);
      throw err;
    });
    pool = await ensureLocalPool(cognito.endpoint, LOCAL.userPool);
    log(
      `local user pool on ${cognito.endpoint}, pool ${pool.poolId}, app client ${pool.clientId} (data in ${dataDirs.cognitoName})`,
    );
    const named = values.user;
    const users = await listUsers(pool);
    if (named || users.length === 0) {
      const email = named ?? LOCAL.firstUser;
      const user = await addUser(pool, email, users.length === 0 ? { role: 'editor' } : {});
      if (user.password)
        log(
          `local user: ${email}  password: ${user.password}  (shown once; an editor. More users: npm run users -- add <email> [--editor])`,
        );
      else log(`local user: ${email} (exists; its password was shown when it was added)`);
    } else
      log(`local users: ${users.map((u) => u.email).join(', ')} (npm run users -- add <email> to add one)`);
  } else
    log(
      'PUBLIC (--public): sign-in is off; anyone who can reach this API may search, view, upload and classify',
    );

  const offline = spawn(
    join(ROOT, 'node_modules/.bin/sls'),
    [
      'offline',
      'start',
      '--stage',
      LOCAL.stage,
      '--localEnvironment',
      `--param=modelName=${model}`,
      ...settings.params,
      `--param=publicDemo=${isPublic}`,
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        OFFLINE_MODEL_DIR: modelDir,
        // serverless.yml's INDEX_TABLE and UPLOAD_BUCKET are Refs on AWS; locally these names.
        OFFLINE_INDEX_TABLE: LOCAL.table,
        OFFLINE_UPLOAD_BUCKET: LOCAL.bucket,
        // Blank (no vectors) when the model folder has no embedding.
        OFFLINE_VECTOR_BUCKET: vectorIndex ? LOCAL.vectorBucket : '',
        OFFLINE_VECTOR_INDEX: vectorIndex?.name ?? '',
        ...(pool ? { OFFLINE_AUTH_ISSUER: pool.issuer, OFFLINE_AUTH_CLIENT_ID: pool.clientId } : {}),
        LOCAL_HTTP_PORT: String(ports.http),
        LOCAL_LAMBDA_PORT: String(ports.lambda),
        AWS_ENDPOINT_URL_S3: endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_ENDPOINT_URL_S3VECTORS: vectors.endpoint,
        AWS_ACCESS_KEY_ID: LOCAL.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL.credentials.secretAccessKey,
        AWS_REGION: 'us-east-1',
        POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
        SLS_TELEMETRY_DISABLED: '1',
        SLS_NOTIFICATIONS_MODE: 'off',
      },
    },
  );
  // serverless-offline's output, one short line per request (scripts/local/offline-log.ts).
  const filter = offlineLog();
  for (const [from, to] of [
    [offline.stdout, process.stdout],
    [offline.stderr, process.stderr],
  ] as const)
    if (from)
      createInterface({ input: from, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
        for (const out of filter(line)) to.write(`${out}\n`);
      });
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    const undelivered = await invoker.stop();
    if (undelivered > 0)
      log(
        `tagger FAILURE QUEUE: ${undelivered} S3 events not delivered (stopped); recorded in ${dataDirs.failures} (npm run backfill tags what is untagged)`,
      );
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
    await Promise.allSettled([s3server.close(), dynamo.close(), vectors.close(), cognito?.close()]);
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

  const base = `http://${LOCAL.host}:${ports.http}`;
  // A handler that cannot initialise stops everything (serverless-offline too: it would outlive us).
  await waitFor(`${base}/health`, 120, offline).catch(async (err: Error) => {
    log(values.check ? `--check FAIL: ${err.message}` : err.message);
    await stop(1);
  });
  // The data routes' curls carry the token of a signed-in user (none with --public).
  const auth = pool ? ` -H "authorization: Bearer $TOKEN"` : '';
  log(`ready:
  web page      ${base}/${pool ? '  (sign in with a local user)' : ''}
  health        curl ${base}/health${
    pool
      ? `
  sign in       TOKEN=$(npm run -s users -- token <email>)   (asks for the password; the curls below send it)`
      : ''
  }
  classify      curl${auth} --data-binary @photo.jpg -H 'content-type: application/octet-stream' '${base}/classify?topK=3'
                curl${auth} -F image=@photo.jpg ${base}/classify
  search        curl${auth} '${base}/images?label=golden%20retriever&limit=10'
  one image     curl${auth} '${base}/image?key=uploads/photo.jpg'
  upload        curl${auth} -X POST ${base}/uploads -H 'content-type: application/json' -d '{"filename":"photo.jpg","contentType":"image/jpeg"}'
                (answers a presigned POST {key, url, fields}: post the fields and file=@photo.jpg as a form to url; the page does this)
  tag in S3     AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER aws --endpoint-url ${endpoint} s3 cp photo.jpg s3://${LOCAL.bucket}/uploads/photo.jpg
                AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER aws --endpoint-url ${endpoint} s3api get-object-tagging --bucket ${LOCAL.bucket} --key uploads/photo.jpg
  index         AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws --endpoint-url ${dynamo.endpoint} dynamodb scan --table-name ${LOCAL.table}
  vectors       AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws --endpoint-url ${vectors.endpoint} s3vectors list-vectors --vector-bucket-name ${LOCAL.vectorBucket} --index-name ${vectorIndex?.name ?? '<none>'}
  ${values.check ? `--check ${values.check}: runs now, then stops everything` : 'Ctrl-C stops everything.'}`);

  const checked = performance.now();
  // --check signs in as a temporary member of the local pool, deleted when the check ends.
  let checkUser: string | undefined;
  const verdict = async (failure?: string) => {
    if (pool && checkUser) await deleteUser(pool, checkUser).catch(() => {});
    const seconds = ((performance.now() - checked) / 1000).toFixed(1);
    log(
      failure
        ? `--check FAIL: ${failure}`
        : `--check PASS: tagged, classified, found by search, forgotten once deleted (${seconds} s)`,
    );
    await stop(failure ? 1 : 0);
    return failure ? 1 : 0;
  };
  if (values.check) {
    return runCheck(values.check).catch((err: Error) =>
      verdict(`${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ''}`),
    );
  }
  return new Promise<number>(() => {}); // runs until Ctrl-C

  /** --check: the steps in order; a step that does not happen in time is the FAIL line's reason. */
  async function runCheck(photo: string): Promise<number> {
    // Signed in as the page signs in; without a token, and with a tampered one, the data routes refuse.
    const signedIn: Record<string, string> = {};
    if (pool) {
      checkUser = `check-${Date.now()}@example.com`;
      const { password } = await addUser(pool, checkUser);
      const tokens = await signIn(pool, checkUser, password ?? '');
      signedIn.authorization = `Bearer ${tokens.accessToken}`;
      const anonymous = await fetch(`${base}/images?label=dog`);
      // The same token with another user in it (signature unchanged): the gateway's claim checks pass,
      // the function's signature check must not.
      const [header, payload, signature] = tokens.accessToken.split('.');
      const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString());
      const other = Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url');
      const tampered = await fetch(`${base}/images?label=dog`, {
        headers: { authorization: `Bearer ${header}.${other}.${signature}` },
      });
      log(
        `signed in as ${checkUser}; GET /images without a token: ${anonymous.status}, with a tampered token: ${tampered.status}`,
      );
      if (anonymous.status !== 401 || tampered.status !== 401)
        return verdict('a data route answered without a valid token');
    }
    const s3 = new S3Client({
      endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: LOCAL.credentials,
    });
    const key = `${settings.prefix}check ${Date.now()}/${basename(photo)}`;
    await s3.send(new PutObjectCommand({ Bucket: LOCAL.bucket, Key: key, Body: await readFile(photo) }));
    log(`put s3://${LOCAL.bucket}/${key}; waiting for tags`);
    for (let i = 0; i < 240; i++) {
      const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: LOCAL.bucket, Key: key }));
      if ((tags.TagSet ?? []).length > 0) {
        log(`tags of s3://${LOCAL.bucket}/${key}:`);
        for (const t of tags.TagSet ?? []) console.log(`  ${t.Key} = ${t.Value}`);
        const health = (await (await fetch(`${base}/health`)).json()) as HealthAnswer;
        log(`GET /health: ${healthSummary(health)}`);
        const bytes = new Uint8Array(await readFile(photo));
        const form = new FormData();
        form.append('image', new Blob([bytes]), basename(photo));
        for (const [form_, body, type] of [
          ['multipart', form, {}],
          ['octet-stream', bytes, { 'content-type': 'application/octet-stream' }],
        ] as const) {
          const res = await fetch(`${base}/classify?topK=3`, {
            method: 'POST',
            body,
            headers: { ...signedIn, ...type },
          });
          const out = (await res.json()) as { labels?: { label: string; score: number }[] };
          const top = (out.labels ?? []).map((l) => `${l.label} ${(l.score * 100).toFixed(1)}%`).join(', ');
          log(`POST /classify (${form_}): ${res.status} ${top || JSON.stringify(out)}`);
          if (!res.ok) return verdict(`POST /classify (${form_}) answered ${res.status}`);
        }
        // The label index: the tagger's entry is found by searching the top label.
        const label = (tags.TagSet ?? []).find((t) => t.Key === 'tagger:top')?.Value;
        const search = label ? `GET /images?label=${label}` : undefined;
        if (search) {
          const listed = await waitForSearch(base, label ?? '', key, true, signedIn);
          if (listed) log(`${search}: lists ${key}`);
          else
            return verdict(
              listed === undefined
                ? `${search}: 404, the API serves no search (UPLOAD_BUCKET and INDEX_TABLE unset?)`
                : `${search}: does not list ${key} within 30 s`,
            );
        }
        // ObjectRemoved reaches the tagger too, and the index forgets the object.
        await s3.send(new DeleteObjectCommand({ Bucket: LOCAL.bucket, Key: key }));
        log(`deleted s3://${LOCAL.bucket}/${key}`);
        for (let j = 0; j < 40 && invoker.waiting + invoker.running === 0; j++) await sleep(250);
        await invoker.idle();
        if (search && (await waitForSearch(base, label ?? '', key, false, signedIn)) === true)
          return verdict(`${search}: still lists ${key} 30 s after it was deleted`);
        if (!search) return verdict(`no tagger:top tag on ${key}`);
        return verdict();
      }
      await sleep(250);
    }
    return verdict(`no tags on ${key} within 60 s`);
  }
}

interface HealthAnswer {
  status?: string;
  model?: { name?: string; version?: string; labelsMeaningful?: boolean };
  weights?: { storage?: string };
  threads?: number;
  initMs?: number;
  features?: Record<string, boolean>;
}

/** GET /health in one line: status, model, weight storage, threads, init time, features on. */
export function healthSummary(h: HealthAnswer): string {
  const features = Object.entries(h.features ?? {})
    .filter(([, on]) => on)
    .map(([name]) => name);
  return [
    h.status ?? 'no status',
    `model ${h.model?.name}@${h.model?.version}${h.model?.labelsMeaningful === false ? ' (MEANINGLESS labels)' : ''}`,
    `weights ${h.weights?.storage ?? '?'}`,
    `threads ${h.threads ?? '?'}`,
    `init ${h.initMs ?? '?'} ms`,
    `features: ${features.join(', ') || 'none'}`,
  ].join(', ');
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  main(process.argv.slice(2)).catch((err: Error) => {
    console.error(`[start] ${err.message}`);
    process.exit(1);
  });
