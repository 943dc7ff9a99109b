/**
 * Dollars per million images for the S3 tagger on Lambda: the arithmetic only (no I/O), so that a
 * unit test can check it. bench/cost.ts feeds it measured durations and prints the table.
 *
 * List prices, US East (N. Virginia), on-demand, no free tier, no Savings Plans. Sources and the
 * date they were read are in PRICES.source; re-check before quoting.
 */

export type Arch = 'x86_64' | 'arm64';

export const PRICES = {
  /** When and where the prices below were read. */
  source:
    'aws.amazon.com/lambda/pricing, /s3/pricing, /rekognition/pricing (us-east-1); ' +
    'read on 2026-11-29 from page snapshots dated 2026-09-20 (Lambda and S3) and ' +
    '2026-10-07 (Rekognition)',
  lambda: {
    /** $ per GB-second of duration (first 6 billion GB-s a month). */
    gbSecond: { x86_64: 0.0000166667, arm64: 0.0000133334 } as Record<Arch, number>,
    /** $ per request. */
    request: 0.2 / 1e6,
    /** Provisioned concurrency: $ per GB-second configured, whether used or not. */
    provisionedGbSecond: { x86_64: 0.0000041667, arm64: 0.0000033334 } as Record<Arch, number>,
    /** Duration on a provisioned instance: $ per GB-second. */
    provisionedDurationGbSecond: { x86_64: 0.0000097222, arm64: 0.0000077778 } as Record<Arch, number>,
  },
  s3: {
    /** GET, SELECT and all other requests (GetObject, HeadObject, GetObjectTagging). */
    get: 0.0004 / 1000,
    /** PUT, COPY, POST, LIST (PutObjectTagging is one). */
    put: 0.005 / 1000,
  },
  /**
   * EventBridge: S3's events are "AWS opt-in data events", billed per event ingested on the default
   * bus at the custom-event rate (the pricing page's table renders by script in the stored copy;
   * $1.00 per million is the published custom/opt-in event rate: re-check).
   */
  eventBridgeEvent: 1.0 / 1e6,
  /**
   * DynamoDB on-demand (the label index): $ per write request unit (1 KB) and per read request unit
   * (4 KB strongly consistent, or two eventually consistent reads), after the November 2024 price cut.
   * Read from a third-party page quoting us-east-1; AWS's own pricing page was not readable here.
   */
  dynamo: { writeUnit: 0.625 / 1e6, readUnit: 0.125 / 1e6 },
  /** Amazon Rekognition DetectLabels (Image, Group 2), first 1 million images a month. */
  rekognitionDetectLabels: 1.0 / 1000,
  /**
   * Amazon Cognito user pools, Lite feature plan (the stack's pool, docs/access.md): monthly active
   * users (a user who signs in or refreshes a token in the month) free up to `freeMau`, then $ per MAU
   * by band (each band up to its MAU count). From aws.amazon.com/cognito/pricing as published with the
   * feature plans (November 2024). Re-checked 2026-12-07: the free 10,000, $0.0055 and $0.0046 are the
   * pricing page's worked examples as transcribed on 2026-09-20 (raw.githubusercontent.com/
   * api-evangelist/amazon-cognito/.../plans/amazon-cognito-plans-pricing.yml); the two highest bands
   * were found on no stored page (unconfirmed). Essentials would be $0.015 per MAU after the same free
   * tier.
   */
  cognitoLite: {
    freeMau: 10_000,
    bands: [
      { upTo: 100_000, perMau: 0.0055 },
      { upTo: 1_000_000, perMau: 0.0046 },
      { upTo: 10_000_000, perMau: 0.00325 },
      { upTo: Number.POSITIVE_INFINITY, perMau: 0.0025 },
    ],
  },
} as const;

/** Seconds in the month AWS prices provisioned concurrency by (730 hours). */
export const MONTH_SECONDS = 730 * 3600;

export interface S3Requests {
  get: number;
  put: number;
}

/** DynamoDB request units per image (the label index). */
export interface DynamoUnits {
  write: number;
  read: number;
}

export interface CostInput {
  arch: Arch;
  memoryMb: number;
  /** Billed duration of one invocation (one image), milliseconds; Lambda bills per 1 ms, rounded up. */
  durationMs: number;
  /** S3 requests per image. */
  s3: S3Requests;
  /** Lambda invocations per image (1: one S3 record per event). */
  invocationsPerImage?: number;
  /**
   * EventBridge events per image (default 0: the tagger is triggered by an S3 notification). With
   * EventBridge on for a bucket S3 sends it every event: Object Created and the Object Tags Added our
   * own tagging causes, 2 per image.
   */
  eventsPerImage?: number;
  /** Label index request units per image (default none: tags only). */
  dynamo?: DynamoUnits;
}

export interface CostPerMillion {
  compute: number;
  requests: number;
  s3: number;
  events: number;
  index: number;
  total: number;
}

/** Lambda memory is billed in GB of 1,024 MB. */
export const gigabytes = (memoryMb: number) => memoryMb / 1024;

/** Dollars per million images, on demand. */
export function costPerMillion(input: CostInput, prices = PRICES): CostPerMillion {
  if (!(input.durationMs >= 0) || !(input.memoryMb > 0))
    throw new RangeError('duration and memory must be positive');
  const n = 1e6;
  const invocations = n * (input.invocationsPerImage ?? 1);
  const billedSeconds = Math.ceil(input.durationMs) / 1000;
  const compute =
    invocations * billedSeconds * gigabytes(input.memoryMb) * prices.lambda.gbSecond[input.arch];
  const requests = invocations * prices.lambda.request;
  const s3 = n * (input.s3.get * prices.s3.get + input.s3.put * prices.s3.put);
  const events = n * (input.eventsPerImage ?? 0) * prices.eventBridgeEvent;
  const index =
    n *
    ((input.dynamo?.write ?? 0) * prices.dynamo.writeUnit +
      (input.dynamo?.read ?? 0) * prices.dynamo.readUnit);
  return { compute, requests, s3, events, index, total: compute + requests + s3 + events + index };
}

/** Monthly cost of keeping `instances` provisioned instances of a function (before any use). */
export function provisionedPerMonth(
  arch: Arch,
  memoryMb: number,
  instances: number,
  prices = PRICES,
): number {
  return instances * gigabytes(memoryMb) * MONTH_SECONDS * prices.lambda.provisionedGbSecond[arch];
}

/** Rekognition DetectLabels for a million images at the first-tier price (the first million in a month). */
export const rekognitionPerMillion = (prices = PRICES) => 1e6 * prices.rekognitionDetectLabels;

/** $ per month of the user pool (Lite) for this many monthly active users: the free tier, then the bands. */
export function userPoolPerMonth(mau: number, prices = PRICES): number {
  const { freeMau, bands } = prices.cognitoLite;
  let total = 0;
  let from: number = freeMau;
  for (const band of bands) {
    if (mau <= from) break;
    total += (Math.min(mau, band.upTo) - from) * band.perMau;
    from = band.upTo;
  }
  return total;
}

/**
 * How much longer arm64 may take than x86_64 and still cost no more per GB-second-priced image
 * (x86 price / arm price: 1.25 at list prices).
 */
export const armBreakEvenSlowdown = (prices = PRICES) =>
  prices.lambda.gbSecond.x86_64 / prices.lambda.gbSecond.arm64;

/**
 * Amazon S3 Vectors (the vector index), us-east-1. Storage, PUT and query-request prices: AWS's S3
 * pricing page (aws.amazon.com/s3/pricing, "S3 Vectors"), whose figures are readable in the stored
 * copy only in its worked examples: $0.06 per GB-month, $0.20 per GB PUT, $2.50 per million query
 * requests (transcribed 2026-09-20 in raw.githubusercontent.com/api-evangelist/amazon-s3/.../plans/
 * amazon-s3-plans-pricing.yml). PUT's 128 KB minimum per request: caylent.com's "Architecting GenAI
 * at scale: lessons from Amazon S3 Vector Store" ("each PUT has a minimum charge based on 128 KB").
 * Query data processed (average vector + key + filterable metadata size x the index's vectors) per
 * TB: $0.004 for the first 100,000 vectors of an index, $0.002 beyond, AWS's launch prices, NOT read
 * from a page here (the June 2026 update cut the rate for indexes over 10 million vectors by up to
 * 80%: dev.classmethod.jp/en/articles/20260616-s3-vectors-query-charges): re-check before quoting.
 * Re-checked 2026-12-07 (docs/vector-index.md, "Cost"): storage, PUT, query request and the 128 KB
 * minimum unchanged; the data-processed rate still found on no stored page.
 */
export const VECTOR_PRICES = {
  storageGbMonth: 0.06,
  putPerGb: 0.2,
  putMinimumBytes: 128 * 1024,
  queryRequest: 2.5 / 1e6,
  processedPerTb: { first100k: 0.004, beyond: 0.002 },
} as const;

export interface VectorStoreInput {
  /** Values per vector (ResNet-18 512, MobileNetV2 1280); 4 bytes each. */
  dimension: number;
  /** Bytes of the key and of the metadata (filterable and not) per vector. */
  keyBytes: number;
  filterableBytes: number;
  nonFilterableBytes: number;
  /** Vectors per PutVectors call (the tagger: 1; the backfill: up to 500). */
  vectorsPerPut: number;
}

const GB = 1024 ** 3;
const TB = 1024 ** 4;

/** Stored bytes of one vector (billed logical size) and the bytes a query processes per vector in the index. */
export function vectorBytes(v: VectorStoreInput) {
  const data = v.dimension * 4;
  return {
    stored: data + v.keyBytes + v.filterableBytes + v.nonFilterableBytes,
    processed: data + v.keyBytes + v.filterableBytes,
  };
}

/** One QueryVectors over an index of `vectors` vectors: the request plus the data processed. */
export function queryCost(v: VectorStoreInput, vectors: number, prices = VECTOR_PRICES): number {
  const per = vectorBytes(v).processed;
  const first = Math.min(vectors, 1e5);
  const beyond = Math.max(0, vectors - 1e5);
  return (
    prices.queryRequest +
    ((first * per) / TB) * prices.processedPerTb.first100k +
    ((beyond * per) / TB) * prices.processedPerTb.beyond
  );
}

export interface VectorStoreCost {
  /** Storage of `images` vectors, per month. */
  storagePerMonth: number;
  /** Writing `images` vectors once (PUT, with its per-request minimum). */
  writes: number;
  /** The tagger's one query per new image (near-duplicates) while the index grows from 0 to `images`. */
  ingestQueries: number;
  /** One similar-images query per image viewed, over an index of `images` vectors, per million views. */
  perMillionViews: number;
}

/** What the vector store adds for `images` images (default a million). */
export function vectorStoreCost(v: VectorStoreInput, images = 1e6, prices = VECTOR_PRICES): VectorStoreCost {
  const { stored } = vectorBytes(v);
  const putBytes = Math.max(prices.putMinimumBytes, stored * v.vectorsPerPut) / v.vectorsPerPut;
  let ingest = 0;
  const step = Math.max(1, Math.floor(images / 1000));
  for (let n = 0; n < images; n += step)
    ingest += queryCost(v, n + step / 2, prices) * Math.min(step, images - n);
  return {
    storagePerMonth: ((images * stored) / GB) * prices.storageGbMonth,
    writes: ((images * putBytes) / GB) * prices.putPerGb,
    ingestQueries: ingest,
    perMillionViews: 1e6 * queryCost(v, images, prices),
  };
}
