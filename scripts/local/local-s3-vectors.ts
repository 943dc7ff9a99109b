/**
 * A local Amazon S3 Vectors on loopback: the same HTTP API (restJson1: POST /CreateVectorBucket,
 * /GetVectorBucket, /ListVectorBuckets, /DeleteVectorBucket, /CreateIndex, /GetIndex, /ListIndexes,
 * /DeleteIndex, /PutVectors, /GetVectors, /DeleteVectors, /ListVectors, /QueryVectors), so the SDK
 * adapter (src/aws/s3-vector-index.ts) runs against it unchanged, with AWS_ENDPOINT_URL_S3VECTORS
 * pointing at it. Used by `npm start` (LOCAL_VECTORS_PORT) and the tests. Requests are not
 * authenticated (any SigV4 signature is accepted).
 *
 * Exact search (brute force over the index) instead of S3 Vectors' approximate one. S3 Vectors'
 * limits and error codes (scripts/local/s3-vectors-engine.ts): 500 vectors per PutVectors and
 * DeleteVectors, 100 keys per GetVectors, topK 1..100, dimension 1..4096, keys of 1..1,024
 * characters, metadata of 50 keys and 40 KB of which 2 KB filterable, 10 non-filterable keys per
 * index, 20 MiB per request, and per index 1,000 write requests and 2,500 vectors written or
 * deleted per second (TooManyRequestsException, which the SDK retries).
 *
 * With `directory`, the data persists there: per vector bucket a folder, per index its settings
 * (<index>.index.json) and an append-only log of its writes (<index>.log, one JSON line per
 * PutVectors or DeleteVectors, vector data as base64 float32), compacted when the server starts.
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CreateIndexCommand, CreateVectorBucketCommand, S3VectorsClient } from '@aws-sdk/client-s3vectors';
import { NON_FILTERABLE_METADATA_KEYS, VECTOR_LIMITS } from '../../src/tagging/vector-index.ts';
import {
  checkKey,
  checkMetadata,
  checkTopK,
  checkVector,
  compileFilter,
  type DistanceMetric,
  type EngineVector,
  invalid,
  type Metadata,
  nearest,
  VectorsError,
} from './s3-vectors-engine.ts';

export const LOCAL_VECTORS_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const MAX_BUCKETS = 10_000;
const MAX_INDEXES = 10_000;

interface IndexSettings {
  dimension: number;
  distanceMetric: DistanceMetric;
  nonFilterableMetadataKeys: string[];
  creationTime: number;
}

interface Index extends IndexSettings {
  name: string;
  arn: string;
  vectors: Map<string, EngineVector>;
  /** Write requests of the last second: [time ms, vectors]. */
  writes: [number, number][];
}

interface Bucket {
  name: string;
  arn: string;
  creationTime: number;
  indexes: Map<string, Index>;
}

type Body = Record<string, unknown>;

const bucketArn = (name: string) => `arn:aws:s3vectors:${REGION}:${ACCOUNT}:bucket/${name}`;
const now = () => Date.now() / 1000;

function str(body: Body, field: string, required = false): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) {
    if (required) throw invalid(field, 'is required');
    return undefined;
  }
  if (typeof v !== 'string') throw invalid(field, 'must be a string');
  return v;
}

function name(value: string, field: string): string {
  if (!NAME.test(value))
    throw invalid(field, 'must be 3 to 63 of a-z 0-9 - ., starting and ending with a letter or digit');
  return value;
}

function bool(body: Body, field: string): boolean {
  const v = body[field];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw invalid(field, 'must be a boolean');
  return v;
}

function int(body: Body, field: string, min: number, max: number): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw invalid(field, `must be an integer from ${min} to ${max}`);
  return v;
}

function list(body: Body, field: string, max: number): unknown[] {
  const v = body[field];
  if (!Array.isArray(v)) throw invalid(field, 'is required and must be a list');
  if (v.length < 1 || v.length > max) throw invalid(field, `must hold 1 to ${max} items, got ${v.length}`);
  return v;
}

const toBase64 = (data: Float32Array) =>
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
const fromBase64 = (s: string) => {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

/** Opaque page tokens: the last key of the page, base64url. */
const token = (key: string) => Buffer.from(key, 'utf8').toString('base64url');
const untoken = (t: string | undefined) =>
  t === undefined ? undefined : Buffer.from(t, 'base64url').toString('utf8');

/**
 * One page of a List call: the names `keep` takes, in key order, after the request's nextToken, at
 * most its maxResults (1..`maxResults`, 500 when absent); nextToken when more follow.
 */
function listPage(names: Iterable<string>, body: Body, maxResults: number, keep = (_name: string) => true) {
  const max = int(body, 'maxResults', 1, maxResults) ?? 500;
  const after = untoken(str(body, 'nextToken'));
  const kept = [...names].filter((n) => (after === undefined || n > after) && keep(n)).sort();
  const page = kept.slice(0, max);
  return { page, ...(kept.length > max ? { nextToken: token(page[page.length - 1] as string) } : {}) };
}

/** The S3 Vectors state of the stand-in: buckets, indexes, vectors, persisted under `directory`. */
export class S3VectorsStore {
  readonly buckets = new Map<string, Bucket>();
  /** Milliseconds; the write rate limits count by it (tests replace it). */
  clock: () => number = Date.now;

  constructor(
    readonly directory?: string,
    readonly rateLimits = true,
  ) {
    if (directory) this.load(directory);
  }

  private load(dir: string): void {
    if (!existsSync(dir)) return;
    for (const b of readdirSync(dir, { withFileTypes: true })) {
      if (!b.isDirectory() || !NAME.test(b.name)) continue;
      const bdir = join(dir, b.name);
      const meta = JSON.parse(readFileSync(join(bdir, 'bucket.json'), 'utf8')) as { creationTime: number };
      const bucket: Bucket = {
        name: b.name,
        arn: bucketArn(b.name),
        creationTime: meta.creationTime,
        indexes: new Map(),
      };
      this.buckets.set(b.name, bucket);
      for (const f of readdirSync(bdir)) {
        const m = /^(.+)\.index\.json$/.exec(f);
        if (!m) continue;
        const iname = m[1] as string;
        const settings = JSON.parse(readFileSync(join(bdir, f), 'utf8')) as IndexSettings;
        const index: Index = {
          ...settings,
          name: iname,
          arn: `${bucket.arn}/index/${iname}`,
          vectors: new Map(),
          writes: [],
        };
        bucket.indexes.set(iname, index);
        const log = join(bdir, `${iname}.log`);
        if (!existsSync(log)) continue;
        let lines = 0;
        for (const line of readFileSync(log, 'utf8').split('\n')) {
          if (!line) continue;
          lines++;
          let op: { put?: { key: string; data: string; metadata: Metadata }[]; delete?: string[] };
          try {
            op = JSON.parse(line);
          } catch {
            break; // a line cut off by a crash: what came before it stands
          }
          for (const v of op.put ?? [])
            index.vectors.set(v.key, { data: fromBase64(v.data), metadata: v.metadata });
          for (const k of op.delete ?? []) index.vectors.delete(k);
        }
        // Compaction: one line per 500 live vectors.
        if (lines > Math.ceil(index.vectors.size / VECTOR_LIMITS.putBatch)) {
          const tmp = `${log}.tmp`;
          writeFileSync(tmp, '');
          const entries = [...index.vectors];
          for (let i = 0; i < entries.length; i += VECTOR_LIMITS.putBatch)
            appendFileSync(tmp, `${this.putLine(entries.slice(i, i + VECTOR_LIMITS.putBatch))}\n`);
          renameSync(tmp, log);
        }
      }
    }
  }

  private putLine(entries: [string, EngineVector][]): string {
    return JSON.stringify({
      put: entries.map(([key, v]) => ({ key, data: toBase64(v.data), metadata: v.metadata })),
    });
  }

  private bucketDir(bucket: string): string | undefined {
    return this.directory ? join(this.directory, bucket) : undefined;
  }

  private bucketOf(body: Body): Bucket {
    const arn = str(body, 'vectorBucketArn');
    const bname =
      arn !== undefined
        ? /^arn:[^:]+:s3vectors:[^:]*:[^:]*:bucket\/([^/]+)$/.exec(arn)?.[1]
        : str(body, 'vectorBucketName', true);
    if (bname === undefined) throw invalid('vectorBucketArn', 'is not a vector bucket ARN');
    const bucket = this.buckets.get(bname);
    if (!bucket) throw new VectorsError('NotFoundException', `vector bucket ${bname} does not exist`);
    return bucket;
  }

  private indexOf(body: Body): Index {
    const arn = str(body, 'indexArn');
    let bucket: Bucket;
    let iname: string;
    if (arn !== undefined) {
      const m = /^arn:[^:]+:s3vectors:[^:]*:[^:]*:bucket\/([^/]+)\/index\/([^/]+)$/.exec(arn);
      if (!m) throw invalid('indexArn', 'is not a vector index ARN');
      bucket = this.bucketOf({ vectorBucketName: m[1] });
      iname = m[2] as string;
    } else {
      bucket = this.bucketOf(body);
      iname = str(body, 'indexName', true) as string;
    }
    const index = bucket.indexes.get(iname);
    if (!index)
      throw new VectorsError(
        'NotFoundException',
        `index ${iname} does not exist in vector bucket ${bucket.name}`,
      );
    return index;
  }

  /** S3 Vectors' write limits per index, over the last second. */
  private admitWrite(index: Index, vectors: number): void {
    if (!this.rateLimits) return;
    const t = this.clock();
    index.writes = index.writes.filter(([at]) => at > t - 1000);
    const requests = index.writes.length;
    const written = index.writes.reduce((s, [, n]) => s + n, 0);
    if (
      requests + 1 > VECTOR_LIMITS.writeRequestsPerSecond ||
      written + vectors > VECTOR_LIMITS.vectorWritesPerSecond
    )
      throw new VectorsError(
        'TooManyRequestsException',
        `index ${index.name}: over ${VECTOR_LIMITS.writeRequestsPerSecond} write requests or ${VECTOR_LIMITS.vectorWritesPerSecond} vectors written per second`,
      );
    index.writes.push([t, vectors]);
  }

  private log(index: Index, line: string): void {
    const dir = this.bucketDir(this.bucketNameOf(index));
    if (dir) appendFileSync(join(dir, `${index.name}.log`), `${line}\n`);
  }

  private bucketNameOf(index: Index): string {
    return /bucket\/([^/]+)\/index\//.exec(index.arn)?.[1] as string;
  }

  CreateVectorBucket(body: Body) {
    const bname = name(str(body, 'vectorBucketName', true) as string, 'vectorBucketName');
    if (this.buckets.has(bname))
      throw new VectorsError('ConflictException', `vector bucket ${bname} already exists`);
    if (this.buckets.size >= MAX_BUCKETS)
      throw new VectorsError(
        'ServiceQuotaExceededException',
        `at most ${MAX_BUCKETS} vector buckets per region`,
      );
    const bucket: Bucket = { name: bname, arn: bucketArn(bname), creationTime: now(), indexes: new Map() };
    const dir = this.bucketDir(bname);
    if (dir) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'bucket.json'), JSON.stringify({ creationTime: bucket.creationTime }));
    }
    this.buckets.set(bname, bucket);
    return { vectorBucketArn: bucket.arn };
  }

  GetVectorBucket(body: Body) {
    const b = this.bucketOf(body);
    return {
      vectorBucket: {
        vectorBucketName: b.name,
        vectorBucketArn: b.arn,
        creationTime: b.creationTime,
        encryptionConfiguration: { sseType: 'AES256' },
      },
    };
  }

  ListVectorBuckets(body: Body) {
    const prefix = str(body, 'prefix') ?? '';
    const { page, nextToken } = listPage(this.buckets.keys(), body, 500, (n) => n.startsWith(prefix));
    return {
      vectorBuckets: page.map((n) => {
        const b = this.buckets.get(n) as Bucket;
        return { vectorBucketName: b.name, vectorBucketArn: b.arn, creationTime: b.creationTime };
      }),
      ...(nextToken ? { nextToken } : {}),
    };
  }

  DeleteVectorBucket(body: Body) {
    const b = this.bucketOf(body);
    if (b.indexes.size > 0)
      throw new VectorsError(
        'ConflictException',
        `vector bucket ${b.name} is not empty: delete its indexes first`,
      );
    this.buckets.delete(b.name);
    const dir = this.bucketDir(b.name);
    if (dir) rmSync(dir, { recursive: true, force: true });
    return {};
  }

  CreateIndex(body: Body) {
    const bucket = this.bucketOf(body);
    const iname = name(str(body, 'indexName', true) as string, 'indexName');
    if (str(body, 'dataType', true) !== 'float32') throw invalid('dataType', 'must be float32');
    const dimension = int(body, 'dimension', VECTOR_LIMITS.minDimension, VECTOR_LIMITS.maxDimension);
    if (dimension === undefined) throw invalid('dimension', 'is required');
    const metric = str(body, 'distanceMetric', true);
    if (metric !== 'cosine' && metric !== 'euclidean')
      throw invalid('distanceMetric', 'must be cosine or euclidean');
    const config = body.metadataConfiguration as { nonFilterableMetadataKeys?: unknown } | undefined;
    const keys =
      config === undefined || config === null
        ? []
        : list(config as Body, 'nonFilterableMetadataKeys', VECTOR_LIMITS.maxNonFilterableKeys);
    if (!keys.every((k) => typeof k === 'string' && k.length >= 1 && k.length <= 63))
      throw invalid(
        'metadataConfiguration.nonFilterableMetadataKeys',
        'keys are strings of 1 to 63 characters',
      );
    if (bucket.indexes.has(iname))
      throw new VectorsError(
        'ConflictException',
        `index ${iname} already exists in vector bucket ${bucket.name}`,
      );
    if (bucket.indexes.size >= MAX_INDEXES)
      throw new VectorsError(
        'ServiceQuotaExceededException',
        `at most ${MAX_INDEXES} indexes per vector bucket`,
      );
    const settings: IndexSettings = {
      dimension,
      distanceMetric: metric,
      nonFilterableMetadataKeys: keys as string[],
      creationTime: now(),
    };
    const index: Index = {
      ...settings,
      name: iname,
      arn: `${bucket.arn}/index/${iname}`,
      vectors: new Map(),
      writes: [],
    };
    const dir = this.bucketDir(bucket.name);
    if (dir) {
      writeFileSync(join(dir, `${iname}.index.json`), JSON.stringify(settings));
      writeFileSync(join(dir, `${iname}.log`), '');
    }
    bucket.indexes.set(iname, index);
    return { indexArn: index.arn };
  }

  GetIndex(body: Body) {
    const i = this.indexOf(body);
    return {
      index: {
        vectorBucketName: this.bucketNameOf(i),
        indexName: i.name,
        indexArn: i.arn,
        creationTime: i.creationTime,
        dataType: 'float32',
        dimension: i.dimension,
        distanceMetric: i.distanceMetric,
        ...(i.nonFilterableMetadataKeys.length
          ? { metadataConfiguration: { nonFilterableMetadataKeys: i.nonFilterableMetadataKeys } }
          : {}),
      },
    };
  }

  ListIndexes(body: Body) {
    const bucket = this.bucketOf(body);
    const prefix = str(body, 'prefix') ?? '';
    const { page, nextToken } = listPage(bucket.indexes.keys(), body, 500, (n) => n.startsWith(prefix));
    return {
      indexes: page.map((n) => {
        const i = bucket.indexes.get(n) as Index;
        return {
          vectorBucketName: bucket.name,
          indexName: i.name,
          indexArn: i.arn,
          creationTime: i.creationTime,
        };
      }),
      ...(nextToken ? { nextToken } : {}),
    };
  }

  DeleteIndex(body: Body) {
    const i = this.indexOf(body);
    const bname = this.bucketNameOf(i);
    this.buckets.get(bname)?.indexes.delete(i.name);
    const dir = this.bucketDir(bname);
    if (dir) for (const f of [`${i.name}.index.json`, `${i.name}.log`]) rmSync(join(dir, f), { force: true });
    return {};
  }

  PutVectors(body: Body) {
    const index = this.indexOf(body);
    const input = list(body, 'vectors', VECTOR_LIMITS.putBatch);
    const checked = input.map((raw, n): [string, EngineVector] => {
      if (typeof raw !== 'object' || raw === null) throw invalid(`vectors[${n}]`, 'must be an object');
      const v = raw as Body;
      const key = checkKey(v.key, `vectors[${n}].key`);
      const data = v.data as { float32?: unknown } | undefined;
      if (typeof data !== 'object' || data === null || !('float32' in data))
        throw invalid(`vectors[${n}].data`, 'must be {"float32": [...]}');
      return [
        key,
        {
          data: checkVector(
            data.float32,
            index.dimension,
            index.distanceMetric,
            `vectors[${n}].data.float32`,
          ),
          metadata: checkMetadata(v.metadata, index.nonFilterableMetadataKeys, `vectors[${n}].metadata`),
        },
      ];
    });
    this.admitWrite(index, checked.length);
    for (const [key, v] of checked) index.vectors.set(key, v);
    this.log(index, this.putLine(checked));
    return {};
  }

  DeleteVectors(body: Body) {
    const index = this.indexOf(body);
    const keys = list(body, 'keys', VECTOR_LIMITS.deleteBatch).map((k, n) => checkKey(k, `keys[${n}]`));
    this.admitWrite(index, keys.length);
    for (const k of keys) index.vectors.delete(k);
    this.log(index, JSON.stringify({ delete: keys }));
    return {};
  }

  private output(key: string, v: EngineVector, data: boolean, metadata: boolean) {
    return {
      key,
      ...(data ? { data: { float32: Array.from(v.data) } } : {}),
      ...(metadata ? { metadata: v.metadata } : {}),
    };
  }

  GetVectors(body: Body) {
    const index = this.indexOf(body);
    const keys = list(body, 'keys', VECTOR_LIMITS.getBatch).map((k, n) => checkKey(k, `keys[${n}]`));
    const data = bool(body, 'returnData');
    const metadata = bool(body, 'returnMetadata');
    const vectors = [];
    for (const key of new Set(keys)) {
      const v = index.vectors.get(key);
      if (v) vectors.push(this.output(key, v, data, metadata));
    }
    return { vectors };
  }

  ListVectors(body: Body) {
    const index = this.indexOf(body);
    const segmentCount = int(body, 'segmentCount', 1, 16);
    const segmentIndex = int(body, 'segmentIndex', 0, 15);
    if ((segmentCount === undefined) !== (segmentIndex === undefined))
      throw invalid('segmentIndex', 'segmentCount and segmentIndex go together');
    if (segmentCount !== undefined && (segmentIndex as number) >= segmentCount)
      throw invalid('segmentIndex', 'must be less than segmentCount');
    const inSegment = (key: string) => {
      if (segmentCount === undefined) return true;
      let h = 0;
      for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0;
      return h % segmentCount === segmentIndex;
    };
    const { page, nextToken } = listPage(index.vectors.keys(), body, 1000, inSegment);
    const data = bool(body, 'returnData');
    const metadata = bool(body, 'returnMetadata');
    return {
      vectors: page.map((k) => this.output(k, index.vectors.get(k) as EngineVector, data, metadata)),
      ...(nextToken ? { nextToken } : {}),
    };
  }

  QueryVectors(body: Body) {
    const index = this.indexOf(body);
    const topK = checkTopK(body.topK);
    const q = body.queryVector as { float32?: unknown } | undefined;
    if (typeof q !== 'object' || q === null || !('float32' in q))
      throw invalid('queryVector', 'must be {"float32": [...]}');
    const query = checkVector(q.float32, index.dimension, index.distanceMetric, 'queryVector.float32');
    const filter =
      body.filter === undefined || body.filter === null
        ? undefined
        : compileFilter(body.filter, index.nonFilterableMetadataKeys);
    const withDistance = bool(body, 'returnDistance');
    const withMetadata = bool(body, 'returnMetadata');
    return {
      vectors: nearest(index.vectors, query, topK, index.distanceMetric, filter).map((hit) => ({
        key: hit.key,
        ...(withDistance ? { distance: Math.fround(hit.distance) } : {}),
        ...(withMetadata ? { metadata: hit.vector.metadata } : {}),
      })),
      distanceMetric: index.distanceMetric,
    };
  }
}

const OPERATIONS = [
  'CreateVectorBucket',
  'GetVectorBucket',
  'ListVectorBuckets',
  'DeleteVectorBucket',
  'CreateIndex',
  'GetIndex',
  'ListIndexes',
  'DeleteIndex',
  'PutVectors',
  'GetVectors',
  'DeleteVectors',
  'ListVectors',
  'QueryVectors',
] as const;
type Operation = (typeof OPERATIONS)[number];

function send(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > VECTOR_LIMITS.maxPayloadBytes) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Handles one HTTP request of the S3 Vectors API. */
export async function handleRequest(
  store: S3VectorsStore,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const op = new URL(req.url ?? '/', 'http://local').pathname.slice(1) as Operation;
  if (req.method !== 'POST' || !OPERATIONS.includes(op)) {
    req.resume();
    send(
      res,
      404,
      { message: `${req.method} ${req.url}: no such S3 Vectors operation` },
      'UnknownOperationException',
    );
    return;
  }
  try {
    const raw = await readBody(req);
    if (raw === undefined)
      throw invalid('body', `the request payload is over ${VECTOR_LIMITS.maxPayloadBytes} bytes (20 MiB)`);
    let body: unknown;
    try {
      body = raw.length ? JSON.parse(raw.toString('utf8')) : {};
    } catch {
      throw invalid('body', 'is not JSON');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw invalid('body', 'must be a JSON object');
    send(res, 200, store[op](body as Body));
  } catch (err) {
    if (err instanceof VectorsError)
      send(
        res,
        err.status,
        { message: err.message, ...(err.fieldList ? { fieldList: err.fieldList } : {}) },
        err.name,
      );
    else send(res, 500, { message: (err as Error).message }, 'InternalServerException');
  }
}

export interface LocalS3Vectors {
  endpoint: string;
  client: S3VectorsClient;
  store: S3VectorsStore;
  close(): Promise<void>;
}

/** An index to have at start: created when missing, its settings checked when present. */
export interface LocalVectorIndex {
  bucket: string;
  index: string;
  dimension: number;
}

/** Starts the stand-in; creates the vector buckets and indexes asked for (cosine, NON_FILTERABLE_METADATA_KEYS). */
export async function startLocalS3Vectors(options: {
  port?: number;
  address?: string;
  directory?: string;
  indexes?: LocalVectorIndex[];
  /** S3 Vectors' write rate limits (default true). */
  rateLimits?: boolean;
}): Promise<LocalS3Vectors> {
  const address = options.address ?? '127.0.0.1';
  const store = new S3VectorsStore(options.directory, options.rateLimits ?? true);
  const server = createServer((req, res) => void handleRequest(store, req, res));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, address, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://${address}:${port}`;
  const client = new S3VectorsClient({ endpoint, region: REGION, credentials: LOCAL_VECTORS_CREDENTIALS });
  for (const want of options.indexes ?? []) {
    if (!store.buckets.has(want.bucket))
      await client.send(new CreateVectorBucketCommand({ vectorBucketName: want.bucket }));
    const have = store.buckets.get(want.bucket)?.indexes.get(want.index);
    if (have && have.dimension !== want.dimension)
      throw new Error(
        `local S3 Vectors: index ${want.index} of ${want.bucket} holds vectors of dimension ${have.dimension}, the model's have ${want.dimension}: delete ${options.directory ?? 'its data'} or use another index name`,
      );
    if (!have)
      await client.send(
        new CreateIndexCommand({
          vectorBucketName: want.bucket,
          indexName: want.index,
          dataType: 'float32',
          dimension: want.dimension,
          distanceMetric: 'cosine',
          metadataConfiguration: { nonFilterableMetadataKeys: [...NON_FILTERABLE_METADATA_KEYS] },
        }),
      );
  }
  return {
    endpoint,
    client,
    store,
    close: async () => {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
