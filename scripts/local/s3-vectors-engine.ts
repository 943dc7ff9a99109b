/**
 * What the local S3 Vectors stand-in (scripts/local/local-s3-vectors.ts) and the in-memory fake of
 * the VectorIndex port (test/helpers/memory-vectors.ts) compute alike: S3 Vectors' validation of
 * vectors and metadata, its filter language, and exact (brute-force) nearest-neighbour search.
 * Errors carry the name and HTTP status S3 Vectors answers with (ValidationException 400,
 * NotFoundException 404, ConflictException 409, ServiceQuotaExceededException 402,
 * TooManyRequestsException 429), so a test sees what the SDK would throw on AWS.
 *
 * Where the AWS documentation leaves a detail open, this is what the stand-in does (docs/vector-index.md):
 * metadata sizes are the UTF-8 bytes of its JSON; `$ne` and `$nin` also match a vector without the
 * field; filtering on a non-filterable key is a ValidationException; ties in distance go by key.
 */
import { VECTOR_LIMITS } from '../../src/tagging/vector-index.ts';

export type VectorsErrorName =
  | 'ValidationException'
  | 'NotFoundException'
  | 'ConflictException'
  | 'ServiceQuotaExceededException'
  | 'TooManyRequestsException';

const STATUS: Record<VectorsErrorName, number> = {
  ValidationException: 400,
  NotFoundException: 404,
  ConflictException: 409,
  ServiceQuotaExceededException: 402,
  TooManyRequestsException: 429,
};

/** An error S3 Vectors would answer: `name` is its error code (the SDK's exception name). */
export class VectorsError extends Error {
  readonly status: number;
  constructor(
    name: VectorsErrorName,
    message: string,
    readonly fieldList?: { path: string; message: string }[],
  ) {
    super(message);
    this.name = name;
    this.status = STATUS[name];
  }
}

export const invalid = (path: string, message: string) =>
  new VectorsError('ValidationException', `${path}: ${message}`, [{ path, message }]);

export type DistanceMetric = 'cosine' | 'euclidean';
export type Metadata = Record<string, unknown>;

const utf8Bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

/** A key S3 Vectors accepts: a string of 1 to 1,024 characters. */
export function checkKey(key: unknown, path: string): string {
  if (typeof key !== 'string' || key.length < 1 || key.length > VECTOR_LIMITS.maxKeyLength)
    throw invalid(path, `a vector key is a string of 1 to ${VECTOR_LIMITS.maxKeyLength} characters`);
  return key;
}

/**
 * The vector as float32, checked as S3 Vectors checks it: the index's dimension, finite values only,
 * and (cosine) not all zeros.
 */
export function checkVector(
  data: unknown,
  dimension: number,
  metric: DistanceMetric,
  path: string,
): Float32Array {
  if (!Array.isArray(data) && !(data instanceof Float32Array))
    throw invalid(path, 'vector data is a list of float32 values');
  if (data.length !== dimension)
    throw invalid(path, `the vector has ${data.length} values; the index's dimension is ${dimension}`);
  const out = new Float32Array(dimension);
  let zero = true;
  for (let i = 0; i < dimension; i++) {
    const v = data[i];
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw invalid(path, 'vector data must hold finite numbers only (no NaN or Infinity)');
    out[i] = v;
    if (!Number.isFinite(out[i] as number))
      throw invalid(path, `value ${v} does not fit in float32 (it would be Infinity)`);
    if (v !== 0) zero = false;
  }
  if (zero && metric === 'cosine') throw invalid(path, 'a zero vector has no cosine distance');
  return out;
}

const isPrimitive = (v: unknown): v is string | number | boolean =>
  typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

/**
 * Metadata as S3 Vectors accepts it: a JSON object of strings, numbers, booleans and lists of them,
 * at most 50 keys and 40 KB, of which the filterable keys (all but the index's non-filterable ones)
 * at most 2 KB.
 */
export function checkMetadata(metadata: unknown, nonFilterable: readonly string[], path: string): Metadata {
  if (metadata === undefined || metadata === null) return {};
  if (typeof metadata !== 'object' || Array.isArray(metadata))
    throw invalid(path, 'metadata is a JSON object');
  const entries = Object.entries(metadata as Metadata);
  if (entries.length > VECTOR_LIMITS.maxMetadataKeys)
    throw invalid(path, `${entries.length} metadata keys; at most ${VECTOR_LIMITS.maxMetadataKeys}`);
  const filterable: Metadata = {};
  for (const [k, v] of entries) {
    const ok = isPrimitive(v) || (Array.isArray(v) && v.every(isPrimitive));
    if (!ok) throw invalid(`${path}.${k}`, 'metadata values are strings, numbers, booleans or lists of them');
    if (!nonFilterable.includes(k)) filterable[k] = v;
  }
  const total = utf8Bytes(metadata);
  if (total > VECTOR_LIMITS.maxMetadataBytes)
    throw invalid(path, `metadata is ${total} bytes; at most ${VECTOR_LIMITS.maxMetadataBytes} per vector`);
  const filterableBytes = utf8Bytes(filterable);
  if (filterableBytes > VECTOR_LIMITS.maxFilterableMetadataBytes)
    throw invalid(
      path,
      `filterable metadata is ${filterableBytes} bytes; at most ${VECTOR_LIMITS.maxFilterableMetadataBytes} per vector (declare large keys non-filterable)`,
    );
  return structuredClone(metadata as Metadata);
}

const COMPARISONS = ['$gt', '$gte', '$lt', '$lte'] as const;

/**
 * Checks a filter and returns its predicate. Operators: $eq $ne (string, number, boolean), $gt $gte
 * $lt $lte (number), $in $nin (non-empty list of those), $exists (boolean), $and $or (non-empty list
 * of filters); a bare value means $eq; several fields in one object must all match.
 */
export function compileFilter(
  filter: unknown,
  nonFilterable: readonly string[] = [],
  path = 'filter',
): (metadata: Metadata) => boolean {
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter))
    throw invalid(path, 'a filter is a JSON object');
  const parts: ((m: Metadata) => boolean)[] = [];
  const entries = Object.entries(filter);
  if (entries.length === 0) throw invalid(path, 'an empty filter');
  for (const [field, condition] of entries) {
    if (field === '$and' || field === '$or') {
      if (!Array.isArray(condition) || condition.length === 0)
        throw invalid(`${path}.${field}`, `${field} takes a non-empty list of filters`);
      const subs = condition.map((c, i) => compileFilter(c, nonFilterable, `${path}.${field}[${i}]`));
      parts.push(field === '$and' ? (m) => subs.every((s) => s(m)) : (m) => subs.some((s) => s(m)));
      continue;
    }
    if (field.startsWith('$')) throw invalid(`${path}.${field}`, `unknown operator ${field}`);
    if (nonFilterable.includes(field))
      throw invalid(`${path}.${field}`, `metadata key ${field} is non-filterable in this index`);
    parts.push(fieldPredicate(field, condition, `${path}.${field}`));
  }
  return (m) => parts.every((p) => p(m));
}

function fieldPredicate(field: string, condition: unknown, path: string): (m: Metadata) => boolean {
  const ops =
    typeof condition === 'object' && condition !== null && !Array.isArray(condition)
      ? Object.entries(condition)
      : [['$eq', condition] as [string, unknown]];
  if (ops.length === 0) throw invalid(path, 'an empty condition');
  const values = (m: Metadata): unknown[] | undefined => {
    if (!(field in m)) return undefined;
    const v = m[field];
    return Array.isArray(v) ? v : [v];
  };
  const tests = ops.map(([op, arg]): ((m: Metadata) => boolean) => {
    const at = `${path}.${op}`;
    switch (op) {
      case '$eq':
      case '$ne': {
        if (!isPrimitive(arg)) throw invalid(at, `${op} takes a string, number or boolean`);
        const has = (m: Metadata) => values(m)?.includes(arg) ?? false;
        return op === '$eq' ? has : (m) => !has(m);
      }
      case '$in':
      case '$nin': {
        if (!Array.isArray(arg) || arg.length === 0 || !arg.every(isPrimitive))
          throw invalid(at, `${op} takes a non-empty list of strings, numbers or booleans`);
        const has = (m: Metadata) => values(m)?.some((v) => (arg as unknown[]).includes(v)) ?? false;
        return op === '$in' ? has : (m) => !has(m);
      }
      case '$exists':
        if (typeof arg !== 'boolean') throw invalid(at, '$exists takes true or false');
        return (m) => field in m === arg;
      default: {
        if (!(COMPARISONS as readonly string[]).includes(op)) throw invalid(at, `unknown operator ${op}`);
        if (typeof arg !== 'number' || !Number.isFinite(arg)) throw invalid(at, `${op} takes a number`);
        const cmp =
          op === '$gt'
            ? (v: number) => v > arg
            : op === '$gte'
              ? (v: number) => v >= arg
              : op === '$lt'
                ? (v: number) => v < arg
                : (v: number) => v <= arg;
        return (m) => values(m)?.some((v) => typeof v === 'number' && cmp(v)) ?? false;
      }
    }
  });
  return (m) => tests.every((t) => t(m));
}

export interface EngineVector {
  data: Float32Array;
  metadata: Metadata;
}

/** Distance as S3 Vectors reports it: cosine distance (1 - cosine similarity) or euclidean distance. */
export function distance(metric: DistanceMetric, a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  let sq = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
    sq += (x - y) * (x - y);
  }
  return metric === 'cosine' ? 1 - dot / Math.sqrt(na * nb) : Math.sqrt(sq);
}

/** Each stored vector's length, computed once (cosine needs only a dot product per comparison then). */
const norms = new WeakMap<Float32Array, number>();
function norm(v: Float32Array): number {
  let n = norms.get(v);
  if (n === undefined) {
    let sum = 0;
    for (let i = 0; i < v.length; i++) sum += (v[i] as number) * (v[i] as number);
    n = Math.sqrt(sum);
    norms.set(v, n);
  }
  return n;
}

/** The topK nearest of `vectors` that pass `filter`, nearest first (ties by key), exactly. */
export function nearest(
  vectors: Map<string, EngineVector>,
  query: Float32Array,
  topK: number,
  metric: DistanceMetric,
  filter?: (m: Metadata) => boolean,
): { key: string; distance: number; vector: EngineVector }[] {
  const best: { key: string; distance: number; vector: EngineVector }[] = [];
  const worse = (a: { key: string; distance: number }, b: { key: string; distance: number }) =>
    a.distance > b.distance || (a.distance === b.distance && a.key > b.key);
  const qn = norm(query);
  const dim = query.length;
  for (const [key, vector] of vectors) {
    if (filter && !filter(vector.metadata)) continue;
    let d: number;
    if (metric === 'cosine') {
      const v = vector.data;
      let dot = 0;
      for (let i = 0; i < dim; i++) dot += (query[i] as number) * (v[i] as number);
      d = 1 - dot / (qn * norm(v));
    } else d = distance(metric, query, vector.data);
    if (best.length === topK && d > (best[topK - 1] as { distance: number }).distance) continue;
    const hit = { key, distance: d, vector };
    if (best.length === topK && !worse(best[best.length - 1] as typeof hit, hit)) continue;
    let i = best.length;
    while (i > 0 && worse(best[i - 1] as typeof hit, hit)) i--;
    best.splice(i, 0, hit);
    if (best.length > topK) best.pop();
  }
  return best;
}

/** topK as S3 Vectors takes it: an integer from 1 to 100. */
export function checkTopK(topK: unknown): number {
  if (typeof topK !== 'number' || !Number.isInteger(topK) || topK < 1 || topK > VECTOR_LIMITS.maxTopK)
    throw invalid('topK', `topK is an integer from 1 to ${VECTOR_LIMITS.maxTopK}`);
  return topK;
}
