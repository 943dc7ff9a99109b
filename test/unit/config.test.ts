import { describe, expect, it } from 'vitest';
import { readConfig, resolveThreads } from '../../src/classifier/config.ts';

describe('resolveThreads', () => {
  it('prefers MODEL_THREADS', () => {
    expect(resolveThreads({ MODEL_THREADS: '3', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '10240' })).toBe(3);
  });

  it.each([
    ['128', 1],
    ['1768', 1],
    ['1769', 1],
    ['3538', 2],
    ['5307', 3],
    ['10240', 5],
  ])('gives Lambda memory %s MB -> %i threads (one vCPU per 1,769 MB)', (memory, threads) => {
    expect(resolveThreads({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: memory })).toBe(threads);
  });

  it('falls back to the available CPUs', () => {
    expect(resolveThreads({})).toBeGreaterThanOrEqual(1);
  });
});

describe('readConfig', () => {
  it('names MODEL_DIR when it is missing', () => {
    expect(() => readConfig({})).toThrow(/MODEL_DIR is not set/);
  });

  it.each(['MODEL_THREADS', 'MAX_IMAGE_BYTES', 'MAX_IMAGE_PIXELS', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE'])(
    'names %s when it is not a positive integer',
    (name) => {
      expect(() => readConfig({ MODEL_DIR: '/m', [name]: 'lots' })).toThrow(
        new RegExp(`^${name} must be an integer`),
      );
    },
  );

  it('names MODEL_SPIN_WAIT when it is not a flag', () => {
    expect(() => readConfig({ MODEL_DIR: '/m', MODEL_SPIN_WAIT: 'yes' })).toThrow(/MODEL_SPIN_WAIT must be/);
  });

  it('reads MODEL_WEIGHTS (default auto) and names it when it is not auto or a storage', () => {
    expect(readConfig({ MODEL_DIR: '/m' }).weights).toBe('auto');
    expect(readConfig({ MODEL_DIR: '/m', MODEL_WEIGHTS: '' }).weights).toBe('auto');
    for (const w of ['auto', 's8', 'u8', 's8-7bit', 'mixed', 'fp32'])
      expect(readConfig({ MODEL_DIR: '/m', MODEL_WEIGHTS: w }).weights).toBe(w);
    expect(() => readConfig({ MODEL_DIR: '/m', MODEL_WEIGHTS: 'int8' })).toThrow(
      'MODEL_WEIGHTS must be auto, s8, u8, s8-7bit, mixed, fp32, got "int8"',
    );
  });

  it('reads limits and threads', () => {
    const config = readConfig({
      MODEL_DIR: '/m',
      MODEL_THREADS: '2',
      MAX_IMAGE_BYTES: '1000',
      MAX_IMAGE_PIXELS: '500',
    });
    expect(config).toMatchObject({ modelDir: '/m', threads: 2, spinWait: false });
    expect(config.limits).toMatchObject({ maxBytes: 1000, maxPixels: 500 });
  });
});
