/** The arithmetic of `npm run cost`, checked against figures worked out by hand. */
import { describe, expect, it } from 'vitest';
import {
  armBreakEvenSlowdown,
  costPerMillion,
  MONTH_SECONDS,
  PRICES,
  provisionedPerMonth,
  queryCost,
  rekognitionPerMillion,
  userPoolPerMonth,
  vectorBytes,
  vectorStoreCost,
} from '../../bench/cost-model.ts';

describe('cost model', () => {
  it('prices a million 1 GB, 1 s invocations as AWS does', () => {
    // 1e6 x 1 s x 1 GB x $0.0000166667 = $16.6667; requests $0.20; no S3; no EventBridge by default.
    const c = costPerMillion({ arch: 'x86_64', memoryMb: 1024, durationMs: 1000, s3: { get: 0, put: 0 } });
    expect(c.compute).toBeCloseTo(16.6667, 4);
    expect(c.requests).toBeCloseTo(0.2, 10);
    expect(c.s3).toBe(0);
    expect(c.events).toBe(0);
    expect(c.total).toBeCloseTo(16.8667, 4);
    // Routed through EventBridge: 2 events per image at $1.00 per million.
    const routed = costPerMillion({
      arch: 'x86_64',
      memoryMb: 1024,
      durationMs: 1000,
      s3: { get: 0, put: 0 },
      eventsPerImage: 2,
    });
    expect(routed.total).toBeCloseTo(18.8667, 4);
  });

  it('prices the label index per request unit: $0.625 per million writes, $0.125 per million reads', () => {
    // 5 WRU + 2 RRU per image: 1e6 x (5 x 0.625e-6 + 2 x 0.125e-6) = $3.375.
    const c = costPerMillion({
      arch: 'x86_64',
      memoryMb: 1024,
      durationMs: 0,
      s3: { get: 0, put: 0 },
      dynamo: { write: 5, read: 2 },
    });
    expect(c.index).toBeCloseTo(3.375, 10);
    expect(c.total).toBeCloseTo(3.375 + 0.2, 10);
    expect(
      costPerMillion({ arch: 'x86_64', memoryMb: 1024, durationMs: 0, s3: { get: 0, put: 0 } }).index,
    ).toBe(0);
  });

  it('uses the arm64 rate, memory in GiB and rounds duration up to the millisecond', () => {
    // 1769 MB = 1.7275390625 GB; 120.2 ms bills as 121 ms: 1e6 x 0.121 x 1.7275390625 x 0.0000133334 = $2.78711.
    const c = costPerMillion({ arch: 'arm64', memoryMb: 1769, durationMs: 120.2, s3: { get: 0, put: 0 } });
    expect(c.compute).toBeCloseTo(1e6 * 0.121 * (1769 / 1024) * 0.0000133334, 6);
    expect(c.compute).toBeCloseTo(2.78711, 4);
  });

  it('prices S3 requests per class: GETs at $0.0004 and PUTs at $0.005 per 1,000', () => {
    const before = costPerMillion({ arch: 'x86_64', memoryMb: 1769, durationMs: 0, s3: { get: 3, put: 1 } });
    const after = costPerMillion({ arch: 'x86_64', memoryMb: 1769, durationMs: 0, s3: { get: 2, put: 1 } });
    expect(before.s3).toBeCloseTo(3 * 0.4 + 5, 10); // $6.20 per million images
    expect(after.s3).toBeCloseTo(2 * 0.4 + 5, 10); // $5.80
    expect(before.total - after.total).toBeCloseTo(0.4, 10);
  });

  it('prices provisioned concurrency per GB-second over a 730-hour month', () => {
    expect(MONTH_SECONDS).toBe(2_628_000);
    // 1 instance, 1769 MB, x86: 1.7275390625 GB x 2,628,000 s x $0.0000041667 = $18.92
    expect(provisionedPerMonth('x86_64', 1769, 1)).toBeCloseTo(18.9166, 3);
    expect(provisionedPerMonth('arm64', 3538, 2)).toBeCloseTo(4 * 1.7275390625 * 2_628_000 * 0.0000033334, 6);
  });

  it('Rekognition DetectLabels is $1,000 per million images at the first tier; arm64 breaks even at 1.25x', () => {
    expect(rekognitionPerMillion()).toBe(1000);
    expect(armBreakEvenSlowdown()).toBeCloseTo(1.25, 4);
  });

  it('refuses a negative or missing duration', () => {
    expect(() =>
      costPerMillion({ arch: 'x86_64', memoryMb: 1769, durationMs: Number.NaN, s3: { get: 1, put: 1 } }),
    ).toThrow(RangeError);
    expect(PRICES.lambda.request).toBeCloseTo(2e-7, 12);
  });
});

describe('vector store (S3 Vectors) cost', () => {
  const v = { dimension: 512, keyBytes: 60, filterableBytes: 300, nonFilterableBytes: 130, vectorsPerPut: 1 };
  it('prices storage by logical bytes, PUTs with their 128 KB minimum, queries by request and data processed', () => {
    expect(vectorBytes(v)).toEqual({ stored: 2048 + 490, processed: 2048 + 360 });
    const c = vectorStoreCost(v, 1e6);
    expect(c.storagePerMonth).toBeCloseTo(((1e6 * 2538) / 1024 ** 3) * 0.06, 10);
    // One vector per PutVectors: billed at the 128 KB minimum; 500 per call: at their size.
    expect(c.writes).toBeCloseTo(((1e6 * 128 * 1024) / 1024 ** 3) * 0.2, 6);
    expect(vectorStoreCost({ ...v, vectorsPerPut: 500 }, 1e6).writes).toBeCloseTo(
      ((1e6 * 2538) / 1024 ** 3) * 0.2,
      6,
    );
    // A query over 100,000 vectors: the request and 100,000 x 2,408 bytes at the first tier.
    expect(queryCost(v, 1e5)).toBeCloseTo(2.5e-6 + ((1e5 * 2408) / 1024 ** 4) * 0.004, 12);
    expect(queryCost(v, 2e5) - queryCost(v, 1e5)).toBeCloseTo(((1e5 * 2408) / 1024 ** 4) * 0.002, 12);
    // The ingest queries see the index growing: between an empty index and a full one.
    expect(c.ingestQueries).toBeGreaterThan(1e6 * queryCost(v, 0));
    expect(c.ingestQueries).toBeLessThan(1e6 * queryCost(v, 1e6));
    expect(c.perMillionViews).toBeCloseTo(1e6 * queryCost(v, 1e6), 6);
  });
});

describe('the user pool (Cognito Lite) per month', () => {
  it('free up to 10,000 monthly active users, then priced by band', () => {
    expect(userPoolPerMonth(0)).toBe(0);
    expect(userPoolPerMonth(10_000)).toBe(0);
    expect(userPoolPerMonth(10_001)).toBeCloseTo(0.0055, 10);
    expect(userPoolPerMonth(100_000)).toBeCloseTo(90_000 * 0.0055, 6);
    expect(userPoolPerMonth(200_000)).toBeCloseTo(90_000 * 0.0055 + 100_000 * 0.0046, 6);
  });
});
