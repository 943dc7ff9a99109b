/**
 * The settings (src/settings.ts), the one reader of the environment, as both handlers read them: each
 * bad value is one ConfigError naming its variable, at init.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/classifier/errors.ts';
import {
  authSettings,
  classifierSettings,
  corsOrigins,
  imageSettings,
  MB_PER_LAMBDA_VCPU,
  readSettings,
  resolveThreads,
  s3Endpoint,
  taggerSettings,
  vectorSettings,
} from '../../src/settings.ts';

/** The least environment both functions start with. */
const BASE = { MODEL_DIR: '/m' };

const error = (read: () => unknown): string => {
  try {
    read();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  return 'no error';
};

describe('settings', () => {
  it('UPLOAD_PREFIX: non-empty, ends with /, no leading /; one error naming the variable', () => {
    for (const bad of ['', 'uploads', '/', '/uploads/', 'a/b']) {
      const env = { UPLOAD_PREFIX: bad, UPLOAD_BUCKET: 'photos', INDEX_TABLE: 'labels' };
      // Both functions read it the same way: the api (image routes) and the tagger.
      expect(
        error(() => imageSettings(readSettings({ ...BASE, ...env }))),
        JSON.stringify(bad),
      ).toMatch(/^UPLOAD_PREFIX /);
      expect(
        error(() => taggerSettings(env)),
        JSON.stringify(bad),
      ).toMatch(/^UPLOAD_PREFIX /);
    }
    expect(taggerSettings({}).prefix).toBe('uploads/');
    expect(taggerSettings({ UPLOAD_PREFIX: 'in/' }).prefix).toBe('in/');
    expect(taggerSettings({ UPLOAD_PREFIX: 'a/b/' }).prefix).toBe('a/b/');
  });

  it('INDEX_TABLE and UPLOAD_BUCKET are trimmed, blank is unset; the S3 endpoint is path-style', () => {
    expect(() => readSettings({ INDEX_TABLE: ' labels ', UPLOAD_BUCKET: ' ' })).toThrow(
      /^MODEL_DIR is not set/,
    );
    expect(readSettings({ ...BASE, INDEX_TABLE: ' labels ', UPLOAD_BUCKET: ' ' })).toMatchObject({
      table: 'labels',
      bucket: undefined,
      s3: {},
    });
    expect(readSettings({ ...BASE, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4569' }).s3).toEqual({
      endpoint: 'http://127.0.0.1:4569',
      forcePathStyle: true,
    });
    expect(s3Endpoint({ S3_ENDPOINT: 'http://a', AWS_ENDPOINT_URL_S3: 'http://b' }).endpoint).toBe(
      'http://a',
    );
    expect(s3Endpoint({ S3_ENDPOINT: 'http://a' }, 'http://flag').endpoint).toBe('http://flag');
  });

  it("Lambda's own variables: the memory size (threads, the benchmark's report) and the initialization type", () => {
    expect(readSettings(BASE).lambda).toEqual({ memoryMb: undefined, initializationType: 'local' });
    const lambda = readSettings({
      ...BASE,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(2 * MB_PER_LAMBDA_VCPU),
      AWS_LAMBDA_INITIALIZATION_TYPE: 'provisioned-concurrency',
    });
    expect(lambda.lambda).toEqual({ memoryMb: 3538, initializationType: 'provisioned-concurrency' });
    expect(lambda.classifier.threads).toBe(2);
    expect(error(() => readSettings({ ...BASE, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '0' }))).toMatch(
      /^AWS_LAMBDA_FUNCTION_MEMORY_SIZE must be an integer/,
    );
  });
});

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

describe('classifierSettings', () => {
  it('names MODEL_DIR when it is missing', () => {
    expect(() => classifierSettings({})).toThrow(/MODEL_DIR is not set/);
  });

  it.each(['MODEL_THREADS', 'MAX_IMAGE_BYTES', 'MAX_IMAGE_PIXELS', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE'])(
    'names %s when it is not a positive integer',
    (name) => {
      expect(() => classifierSettings({ MODEL_DIR: '/m', [name]: 'lots' })).toThrow(
        new RegExp(`^${name} must be an integer`),
      );
    },
  );

  it('names MODEL_SPIN_WAIT when it is not a flag', () => {
    expect(() => classifierSettings({ MODEL_DIR: '/m', MODEL_SPIN_WAIT: 'yes' })).toThrow(
      /MODEL_SPIN_WAIT must be/,
    );
  });

  it('reads MODEL_WEIGHTS (default auto) and names it when it is not auto or a storage', () => {
    expect(classifierSettings({ MODEL_DIR: '/m' }).weights).toBe('auto');
    expect(classifierSettings({ MODEL_DIR: '/m', MODEL_WEIGHTS: '' }).weights).toBe('auto');
    for (const w of ['auto', 's8', 'u8', 's8-7bit', 'mixed', 'fp32'])
      expect(classifierSettings({ MODEL_DIR: '/m', MODEL_WEIGHTS: w }).weights).toBe(w);
    expect(() => classifierSettings({ MODEL_DIR: '/m', MODEL_WEIGHTS: 'int8' })).toThrow(
      'MODEL_WEIGHTS must be auto, s8, u8, s8-7bit, mixed, fp32, got "int8"',
    );
  });

  it('warms up an inference at init only in a provisioned-concurrency container', () => {
    const warm = (type?: string) =>
      classifierSettings({ MODEL_DIR: '/m', ...(type ? { AWS_LAMBDA_INITIALIZATION_TYPE: type } : {}) })
        .warmUpInference;
    expect(warm('provisioned-concurrency')).toBe(true);
    expect(warm(' provisioned-concurrency ')).toBe(true);
    expect([warm('on-demand'), warm('snap-start'), warm(undefined)]).toEqual([false, false, false]);
  });

  it('reads limits and threads', () => {
    const config = classifierSettings({
      MODEL_DIR: '/m',
      MODEL_THREADS: '2',
      MAX_IMAGE_BYTES: '1000',
      MAX_IMAGE_PIXELS: '500',
    });
    expect(config).toMatchObject({ modelDir: '/m', threads: 2, spinWait: false });
    expect(config.limits).toMatchObject({ maxBytes: 1000, maxPixels: 500 });
  });
});

describe('vectorSettings', () => {
  it('VECTOR_BUCKET and VECTOR_INDEX: both or neither, S3 Vectors names, blank is unset', () => {
    expect(vectorSettings({})).toBeUndefined();
    expect(vectorSettings({ VECTOR_BUCKET: ' ', VECTOR_INDEX: '' })).toBeUndefined();
    expect(
      readSettings({
        ...BASE,
        INDEX_TABLE: 'labels',
        VECTOR_BUCKET: ' image-tagger-dev-vectors ',
        VECTOR_INDEX: 'resnet18-1',
      }).vectors,
    ).toEqual({
      bucket: 'image-tagger-dev-vectors',
      index: 'resnet18-1',
    });
    expect(error(() => vectorSettings({ VECTOR_BUCKET: 'vectors' }))).toMatch(/^VECTOR_INDEX is unset/);
    expect(error(() => vectorSettings({ VECTOR_INDEX: 'resnet18-1' }))).toMatch(/^VECTOR_BUCKET is unset/);
    expect(error(() => vectorSettings({ VECTOR_BUCKET: 'Vectors_1', VECTOR_INDEX: 'i-1' }))).toMatch(
      /^VECTOR_BUCKET is not an S3 Vectors name/,
    );
  });
  it('vectors need the label index (it orders their writes)', () => {
    expect(
      error(() => readSettings({ ...BASE, VECTOR_BUCKET: 'vectors', VECTOR_INDEX: 'resnet18-1' })),
    ).toMatch(/^INDEX_TABLE is not set: VECTOR_BUCKET and VECTOR_INDEX need it/);
  });
});

describe('CORS_ORIGINS (the api function)', () => {
  it('none by default; bare http(s) origins, else a ConfigError naming the variable', () => {
    expect(corsOrigins({})).toEqual([]);
    expect(corsOrigins({ CORS_ORIGINS: ' https://photos.example.com, http://127.0.0.1:8080 ,' })).toEqual([
      'https://photos.example.com',
      'http://127.0.0.1:8080',
    ]);
    for (const bad of [
      'https://photos.example.com/',
      'photos.example.com',
      'https://x.example/p',
      'ftp://x.example',
      '*',
    ])
      expect(
        error(() => corsOrigins({ CORS_ORIGINS: bad })),
        bad,
      ).toMatch(/^CORS_ORIGINS must list http\(s\) origins/);
  });
});

describe('auth settings (the api function)', () => {
  const issuer = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123';
  it('private unless asked: without AUTH_ISSUER or AUTH_PUBLIC=true the api does not start', () => {
    expect(error(() => authSettings({}))).toMatch(/^AUTH_ISSUER is not set.*AUTH_PUBLIC=true/);
    expect(error(() => authSettings({ AUTH_PUBLIC: 'false' }))).toMatch(/^AUTH_ISSUER is not set/);
    expect(error(() => authSettings({ AUTH_ISSUER: issuer }))).toMatch(/^AUTH_CLIENT_ID is not set/);
  });

  it('a user pool: issuer and one or more app clients', () => {
    expect(authSettings({ AUTH_ISSUER: ` ${issuer} `, AUTH_CLIENT_ID: 'a, b,' })).toEqual({
      mode: 'user-pool',
      issuer,
      clientIds: ['a', 'b'],
    });
    // cognito-local on loopback may be plain http; nothing else may.
    expect(authSettings({ AUTH_ISSUER: 'http://127.0.0.1:9229/local_x', AUTH_CLIENT_ID: 'c' }).mode).toBe(
      'user-pool',
    );
    for (const bad of ['http://cognito.example.com/p', `${issuer}/`, 'cognito', `${issuer}?x=1`, 'ftp://x/y'])
      expect(
        error(() => authSettings({ AUTH_ISSUER: bad, AUTH_CLIENT_ID: 'c' })),
        bad,
      ).toMatch(/^AUTH_ISSUER must be an https URL/);
  });

  it('AUTH_PUBLIC=true: the explicit public mode, never together with an issuer', () => {
    expect(authSettings({ AUTH_PUBLIC: 'true' })).toEqual({ mode: 'public' });
    expect(error(() => authSettings({ AUTH_PUBLIC: 'yes' }))).toMatch(
      /^AUTH_PUBLIC must be 1, 0, true or false/,
    );
    expect(error(() => authSettings({ AUTH_PUBLIC: 'true', AUTH_ISSUER: issuer }))).toMatch(
      /^AUTH_PUBLIC=true turns sign-in off/,
    );
  });
});
