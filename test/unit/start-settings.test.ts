/**
 * `npm start` hands the functions' settings from its environment to serverless-offline, whose
 * rendering of serverless.yml's params would otherwise win over the shell: validated first as the
 * handlers validate them, then param-backed ones as --param (the rest reach the handlers through
 * --localEnvironment).
 */
import { describe, expect, it } from 'vitest';
import { functionSettings, paramBackedVariables } from '../../scripts/start.ts';
import { ConfigError } from '../../src/classifier/errors.ts';

describe('npm start: the functions settings', () => {
  it('maps every variable serverless.yml sets from a param', async () => {
    expect(await paramBackedVariables()).toMatchObject({
      MODEL_WEIGHTS: 'weights',
      UPLOAD_PREFIX: 'uploadPrefix',
      MIN_CONFIDENCE: 'minConfidence',
      CATEGORY_MIN_SCORE: 'categoryMinScore',
      TAG_LANGUAGE: 'tagLanguage',
      CORS_ORIGINS: 'corsOrigins',
    });
  });

  it.each([
    ['MIN_CONFIDENCE', '0.9', '--param=minConfidence=0.9'],
    ['CATEGORY_MIN_SCORE', '0.6', '--param=categoryMinScore=0.6'],
    ['TAG_LANGUAGE', 'zh', '--param=tagLanguage=zh'],
    ['MODEL_WEIGHTS', 'u8', '--param=weights=u8'],
    ['UPLOAD_PREFIX', 'photos/', '--param=uploadPrefix=photos/'],
    ['CORS_ORIGINS', 'https://photos.example.com', '--param=corsOrigins=https://photos.example.com'],
  ])('%s=%s reaches the functions as %s', async (variable, value, param) => {
    const { params } = await functionSettings({ [variable]: value });
    expect(params).toEqual([param]);
  });

  it('takes the upload prefix it watches from UPLOAD_PREFIX, and passes nothing unset', async () => {
    expect(await functionSettings({})).toEqual({ params: [], prefix: 'uploads/' });
    expect((await functionSettings({ UPLOAD_PREFIX: 'photos/' })).prefix).toBe('photos/');
  });

  it.each([
    ['MIN_CONFIDENCE', '2'],
    ['MIN_CONFIDENCE', '-1'],
    ['MIN_CONFIDENCE', 'abc'],
    ['CATEGORY_MIN_SCORE', '1.5'],
    ['CATEGORY_MIN_SCORE', 'strict'],
    ['TAG_LANGUAGE', 'xx'],
    ['UPLOAD_PREFIX', '/x'],
    ['MODEL_WEIGHTS', 'bogus'],
    ['MODEL_THREADS', '0'],
    ['MODEL_SPIN_WAIT', 'maybe'],
    ['MAX_IMAGE_BYTES', 'lots'],
    ['MAX_IMAGE_PIXELS', '1.5'],
    ['IMAGE_TIMEOUT_SECONDS', '-5'],
    ['IMAGE_SUFFIXES', ','],
    ['CORS_ORIGINS', 'https://photos.example.com/'],
  ])('%s=%s is refused with a ConfigError naming the variable', async (variable, value) => {
    const refused = functionSettings({ [variable]: value });
    await expect(refused).rejects.toBeInstanceOf(ConfigError);
    await expect(refused).rejects.toThrow(variable);
  });

  it("ignores a shell's INDEX_TABLE and UPLOAD_BUCKET: the local stack names its own", async () => {
    expect((await functionSettings({ UPLOAD_BUCKET: 'Not_A_Bucket' })).params).toEqual([]);
  });
});
