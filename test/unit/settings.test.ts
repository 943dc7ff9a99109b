/**
 * The shared settings (src/settings.ts) as both handlers read them: each bad value is one ConfigError
 * naming its variable, at init.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/classifier/errors.ts';
import { imageSettings } from '../../src/http/images.ts';
import { readSettings, s3Endpoint, taggerSettings } from '../../src/settings.ts';

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
        error(() => imageSettings(readSettings(env))),
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
    expect(readSettings({ INDEX_TABLE: ' labels ', UPLOAD_BUCKET: ' ' })).toMatchObject({
      table: 'labels',
      bucket: undefined,
      s3: {},
    });
    expect(readSettings({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4569' }).s3).toEqual({
      endpoint: 'http://127.0.0.1:4569',
      forcePathStyle: true,
    });
    expect(s3Endpoint({ S3_ENDPOINT: 'http://a', AWS_ENDPOINT_URL_S3: 'http://b' }).endpoint).toBe(
      'http://a',
    );
    expect(s3Endpoint({ S3_ENDPOINT: 'http://a' }, 'http://flag').endpoint).toBe('http://flag');
  });
});
