import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  IMAGENET_DEFAULTS,
  loadModelFolder,
  type ModelMeta,
  validateMeta,
  verifyModelHash,
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
