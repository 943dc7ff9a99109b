import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  IMAGENET_DEFAULTS,
  loadModelFolder,
  type ModelMeta,
  validateMeta,
  verifyModelHash,
  withoutBuildPaths,
  writeModelFolder,
} from '../../src/classifier/model-folder.ts';

const meta: Omit<ModelMeta, 'sha256'> = {
  ...IMAGENET_DEFAULTS,
  name: 'test',
  version: '1',
  inputName: 'input',
  inputShape: [-1, 3, 224, 224],
  quantization: 'none',
  source: 'test',
  licence: 'test',
};
const sha256 = 'a'.repeat(64);

describe('validateMeta', () => {
  it('accepts a complete model.json', () => {
    expect(validateMeta({ ...meta, sha256 }, '/m').name).toBe('test');
  });

  it.each([
    ['name', { name: '' }],
    ['inputName', { inputName: 3 }],
    ['sha256', { sha256: 'xyz' }],
    ['cropSize', { cropSize: 0 }],
    ['resizeShorter', { resizeShorter: 200 }],
    ['inputShape', { inputShape: [1, 3, 256, 256] }],
    ['mean', { mean: [0.5, 0.5] }],
    ['std', { std: [0.2, 0, 0.2] }],
    ['channelOrder', { channelOrder: 'RBG' }],
    ['output', { output: 'scores' }],
    ['quantization', { quantization: null }],
  ])('names the field "%s" when it is invalid', (field, patch) => {
    expect(() => validateMeta({ ...meta, sha256, ...patch }, '/m')).toThrow(`model.json field "${field}"`);
  });

  it.each([
    [{ weights: [] }, 'weights', /must be an object with keys s8, u8/],
    [{ weights: {} }, 'weights', /must name at least one of s8, u8/],
    [{ weights: { int8: 'model.onnx' } }, 'weights', /has key "int8"; the keys are s8, u8/],
    [{ weights: { s8: '' } }, 'weights', /s8 is "", not a valid value/],
    [{ weights: { u8: '../model.onnx' } }, 'weights', /u8 is "..\/model.onnx", not a valid value/],
    [{ weights: { u8: 3 } }, 'weights', /u8 is 3/],
    [{ weightsSha256: { u8: 'a'.repeat(64) } }, 'weightsSha256', /needs a "weights" map/],
    [{ weights: { s8: 'model.onnx' }, weightsSha256: { s8: 'xyz' } }, 'weightsSha256', /s8 is "xyz"/],
    [
      { weights: { s8: 'model.onnx' }, weightsSha256: { u8: 'a'.repeat(64) } },
      'weightsSha256',
      /names "u8", which "weights" does not/,
    ],
  ])('validates the optional weights map: %j names "%s"', (patch, field, message) => {
    const check = () => validateMeta({ ...meta, sha256, ...patch }, '/m');
    expect(check).toThrow(`model.json field "${field}"`);
    expect(check).toThrow(message);
  });

  it.each([
    [{ embedding: 'embedding' }, /must be an object/],
    [{ embedding: { output: '', dimension: 512 } }, /output must be a non-empty string/],
    [{ embedding: { output: 'embedding', dimension: 0 } }, /dimension must be a positive integer/],
    [{ embedding: { output: 'output', dimension: 512 }, outputName: 'output' }, /not be the scores output/],
  ])('validates the optional embedding: %j', (patch, message) => {
    const check = () => validateMeta({ ...meta, sha256, ...patch }, '/m');
    expect(check).toThrow('model.json field "embedding"');
    expect(check).toThrow(message);
  });

  it('accepts an embedding output with its dimension', () => {
    const embedding = { output: 'embedding', dimension: 512, pooling: 'avgpool' };
    expect(validateMeta({ ...meta, sha256, embedding }, '/m').embedding).toEqual(embedding);
  });

  it('accepts a weights map with both storages', () => {
    const m = validateMeta({ ...meta, sha256, weights: { s8: 'model.onnx', u8: 'model.u8.onnx' } }, '/m');
    expect(m.weights).toEqual({ s8: 'model.onnx', u8: 'model.u8.onnx' });
  });

  it('rejects a model.json that is not an object', () => {
    expect(() => validateMeta([], '/m')).toThrow('model.json is not a JSON object');
  });
});

describe('model folder on disk', () => {
  it('writes a folder, loads it back and detects a changed model.onnx', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'folder-'));
    try {
      const folder = await writeModelFolder(dir, new Uint8Array([1, 2, 3]), ['cat', 'dog'], meta);
      expect(folder.meta.sha256).toBe('039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81');
      expect((await loadModelFolder(dir)).labels).toEqual(['cat', 'dog']);
      await writeFile(join(dir, 'model.onnx'), new Uint8Array([1, 2, 4]));
      await expect(verifyModelHash(folder)).rejects.toThrow(
        /sha256 of model.onnx is .* but model.json records/,
      );
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('writes both weight storages, names them in model.json and verifies both hashes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'folder-'));
    try {
      const storages = { model: 's8' as const, others: { u8: new Uint8Array([129, 130]) } };
      const folder = await writeModelFolder(dir, new Uint8Array([1, 2]), ['cat'], meta, storages);
      expect(folder.meta.weights).toEqual({ s8: 'model.onnx', u8: 'model.u8.onnx' });
      expect(folder.weightFiles).toEqual({ s8: join(dir, 'model.onnx'), u8: join(dir, 'model.u8.onnx') });
      expect(folder.meta.weightsSha256?.u8).toMatch(/^[0-9a-f]{64}$/);
      await writeFile(join(dir, 'model.u8.onnx'), new Uint8Array([129, 131]));
      await expect(verifyModelHash(folder)).rejects.toThrow(
        /sha256 of model.u8.onnx \(u8\) is .* but model.json "weightsSha256" records/,
      );
      await rm(join(dir, 'model.u8.onnx'));
      await expect(loadModelFolder(dir)).rejects.toThrow(
        'model.json field "weights": the u8 file model.u8.onnx is missing',
      );
      await writeFile(join(dir, 'model.u8.onnx'), '');
      await expect(loadModelFolder(dir)).rejects.toThrow(/the u8 file model.u8.onnx is empty or not a file/);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('keeps no path of the build machine: neither in model.json nor in what a folder built before reports', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'folder-'));
    const built = {
      ...meta,
      source: '/home/ci/work/shared/models/mobilenetv2-fp32.onnx',
      quantization: {
        scheme: 'int8 static QDQ (models/quantize.ts)',
        weights: 'per-channel (output axis for Gemm/MatMul)',
        calibration: { method: 'percentile', dir: '/tmp/probe/shared/photos', images: ['a.jpg', 'b.jpg'] },
      },
      agreement: { images: '50 images of C:\\Users\\me\\photos' },
      fp32Cache: '../../tmp/probe/cache/m-fp32.onnx',
    };
    try {
      await writeModelFolder(dir, new Uint8Array([1]), ['cat'], built);
      const written = await readFile(join(dir, 'model.json'), 'utf8');
      for (const path of ['/home/ci', '/tmp/probe', 'C:\\', '/shared/']) expect(written).not.toContain(path);
      // A folder written before (model.json as the old tools wrote it) is cleaned when loaded.
      await writeFile(
        join(dir, 'model.json'),
        JSON.stringify({ ...built, sha256: (JSON.parse(written) as ModelMeta).sha256 }),
      );
      const loaded = (await loadModelFolder(dir)).meta;
      expect(loaded.source).toBe('mobilenetv2-fp32.onnx');
      expect(loaded.quantization).toEqual({
        scheme: 'int8 static QDQ (models/quantize.ts)',
        weights: 'per-channel (output axis for Gemm/MatMul)',
        calibration: { method: 'percentile', dir: 'photos', images: ['a.jpg', 'b.jpg'] },
      });
      expect(loaded.agreement).toEqual({ images: '50 images of photos' });
      expect(loaded.fp32Cache).toBe('m-fp32.onnx');
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('withoutBuildPaths leaves names, relative paths, URLs and fractions alone', () => {
    const kept = [
      'models/quantize.ts',
      '.cache/models/x-fp32.onnx',
      'https://github.com/onnx/models/raw/main/x.onnx',
      'Gemm/MatMul',
      'Relu/Clip folded',
      'uint8 (zero point 128)',
      'a/b/c',
    ];
    for (const text of kept) expect(withoutBuildPaths(text)).toBe(text);
    expect(withoutBuildPaths(['/a/b.onnx', { x: '/srv/x/y (= https://h/p.onnx)' }, 3, null])).toEqual([
      'b.onnx',
      { x: 'y (= https://h/p.onnx)' },
      3,
      null,
    ]);
  });

  it('loads a folder without a weights map as before', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'folder-'));
    try {
      const folder = await writeModelFolder(dir, new Uint8Array([1]), ['cat'], meta);
      expect(folder.weightFiles).toBeNull();
      expect(folder.meta.weights).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it.each([
    ['model.onnx', /missing model.onnx/],
    ['labels.json', /cannot read labels.json \(ENOENT\)/],
    ['model.json', /cannot read model.json \(ENOENT\)/],
  ])('names the missing file %s', async (file, message) => {
    const dir = await mkdtemp(join(tmpdir(), 'folder-'));
    try {
      await writeModelFolder(dir, new Uint8Array([1]), ['cat'], meta);
      await rm(join(dir, file));
      await expect(loadModelFolder(dir)).rejects.toThrow(message);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('names invalid JSON and bad labels', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'folder-'));
    try {
      await writeModelFolder(dir, new Uint8Array([1]), ['cat'], meta);
      await writeFile(join(dir, 'labels.json'), '["cat", ""]');
      await expect(loadModelFolder(dir)).rejects.toThrow(/labels.json must be a non-empty JSON array/);
      await writeFile(join(dir, 'model.json'), '{ nope');
      await expect(loadModelFolder(dir)).rejects.toThrow(/model.json is not valid JSON/);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});
