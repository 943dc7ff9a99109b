/** The in-memory VectorIndex fake (test/helpers/memory-vectors.ts) holds to the VectorIndex contract. */
import { describe, expect, it } from 'vitest';
import { batches, servedVectorIndex } from '../../src/aws/s3-vector-index.ts';
import { vectorIndexName } from '../../src/tagging/vector-index.ts';
import { MemoryVectors } from '../helpers/memory-vectors.ts';
import { vectorContract } from '../helpers/vector-contract.ts';

vectorContract('MemoryVectors (fake)', { index: async (dimension) => new MemoryVectors(dimension) });

describe('vector index names and batches', () => {
  it('names a model index as S3 Vectors allows (3-63 of a-z 0-9 - .)', () => {
    expect(vectorIndexName('resnet18@1')).toBe('resnet18-1');
    expect(vectorIndexName('MobileNetV2_int8@2.1')).toBe('mobilenetv2-int8-2.1');
    expect(vectorIndexName(`${'m'.repeat(70)}@1`)).toHaveLength(63);
    expect(() => vectorIndexName('@')).toThrow(/index name/);
  });

  it('splits calls by count and by payload, keeping order', () => {
    const items = Array.from({ length: 1203 }, (_, i) => i);
    expect(batches(items, 500).map((b) => b.length)).toEqual([500, 500, 203]);
    expect(batches(items, 500).flat()).toEqual(items);
    expect(batches([5, 5, 5, 5], 500, (n) => n, 10).map((b) => b.length)).toEqual([2, 2]);
    // One item over the budget still goes (alone): S3 Vectors judges it.
    expect(batches([20, 1], 500, (n) => n, 10)).toEqual([[20], [1]]);
    expect(batches([], 500)).toEqual([]);
  });
});

describe('servedVectorIndex', () => {
  const folder = (meta: Record<string, unknown>) => ({ dir: '/m', meta }) as never;
  it('is off without VECTOR_BUCKET/VECTOR_INDEX, on with the model embedding dimension, refused without one', () => {
    expect(servedVectorIndex(undefined, folder({}))).toBeUndefined();
    const on = servedVectorIndex({ bucket: 'v-1', index: 'm-1' }, folder({ embedding: { dimension: 512 } }));
    expect(on?.dimension).toBe(512);
    expect(() => servedVectorIndex({ bucket: 'v-1', index: 'm-1' }, folder({}))).toThrow(
      /VECTOR_INDEX is set but the model folder \/m has no embedding/,
    );
  });
});
