/**
 * Which model folder `npm start` serves: trained folders only, resnet18* first; a synthetic
 * (random-weight) folder only with --synthetic. Folders here are stubs: resolveModel reads only
 * model.json and checks that model.onnx exists.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let tmp: string;
let start: typeof import('../../scripts/start.ts');

async function folder(name: string, meta: Record<string, unknown>) {
  const dir = join(tmp, 'models', name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.onnx'), 'stub');
  await writeFile(join(dir, 'model.json'), JSON.stringify(meta));
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'start-model-'));
  process.env.MODEL_LAYER_DIR = tmp; // read when scripts/start.ts is loaded
  start = await import('../../scripts/start.ts');
  await folder('resnet18-synthetic', { labelsMeaningful: false });
  await folder('mobilenetv2', { labelsMeaningful: true });
  await folder('zeta', {});
});
afterAll(async () => {
  delete process.env.MODEL_LAYER_DIR;
  await rm(tmp, { recursive: true, force: true });
});

describe('npm start: the model it serves', () => {
  it('never picks a synthetic folder unasked; prefers resnet18* among trained ones', async () => {
    expect(await start.resolveModel()).toBe('mobilenetv2');
    await folder('resnet18', { labelsMeaningful: true });
    expect(await start.resolveModel()).toBe('resnet18');
  });

  it('serves the synthetic ResNet-18 only with --synthetic, and an explicit --model as asked', async () => {
    expect(await start.resolveModel(undefined, true)).toBe(start.SYNTHETIC_NAME);
    expect(await start.resolveModel('zeta')).toBe('zeta');
    await expect(start.resolveModel('nope')).rejects.toThrow(/no model folder .*nope/);
  });

  it('reads labelsMeaningful from model.json (missing means trained, unreadable means not)', () => {
    expect(start.labelsMeaningful(join(tmp, 'models', 'resnet18-synthetic'))).toBe(false);
    expect(start.labelsMeaningful(join(tmp, 'models', 'zeta'))).toBe(true);
    expect(start.labelsMeaningful(join(tmp, 'missing'))).toBe(false);
  });
});
