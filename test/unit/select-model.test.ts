/**
 * Which model folder `npm start` and `npm run invoke` serve (selectModel): trained folders only,
 * resnet18* first; a synthetic (random-weight) folder only with --synthetic. Folders here are
 * stubs: selectModel reads only model.json and checks that model.onnx exists.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelsMeaningful, SYNTHETIC_NAME, selectModel } from '../../models/select.ts';

let tmp: string;
let modelsDir: string;
const lines: string[] = [];
const log = (line: string) => void lines.push(line);

async function folder(name: string, meta: Record<string, unknown>) {
  const dir = join(modelsDir, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.onnx'), 'stub');
  await writeFile(join(dir, 'model.json'), JSON.stringify(meta));
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'select-model-'));
  modelsDir = join(tmp, 'models');
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
    expect(await selectModel({ modelsDir, log })).toEqual({
      name: 'mobilenetv2',
      dir: join(modelsDir, 'mobilenetv2'),
    });
    expect(lines.join('\n')).toContain('not serving resnet18-synthetic');
    await folder('resnet18', { labelsMeaningful: true });
    expect((await selectModel({ modelsDir, log })).name).toBe('resnet18');
  });

  it('serves the synthetic ResNet-18 only with --synthetic, and an explicit --model as asked', async () => {
    expect((await selectModel({ modelsDir, synthetic: true, log })).name).toBe(SYNTHETIC_NAME);
    expect((await selectModel({ modelsDir, model: 'zeta', log })).name).toBe('zeta');
    await expect(selectModel({ modelsDir, model: 'nope', log })).rejects.toThrow(/no model folder .*nope/);
  });

  it('reads the model layer named by MODEL_LAYER_DIR (as serverless.yml does) by default', async () => {
    process.env.MODEL_LAYER_DIR = tmp;
    expect(await selectModel({ model: 'zeta', log })).toEqual({ name: 'zeta', dir: join(modelsDir, 'zeta') });
  });

  it('reads labelsMeaningful from model.json (missing means trained, unreadable means not)', () => {
    expect(labelsMeaningful(join(modelsDir, 'resnet18-synthetic'))).toBe(false);
    expect(labelsMeaningful(join(modelsDir, 'zeta'))).toBe(true);
    expect(labelsMeaningful(join(tmp, 'missing'))).toBe(false);
  });
});

describe('npm run package: the model it packages (chooseModel)', () => {
  it('takes --param="modelName=..." as given, else the trained folder npm start serves, and says why', async () => {
    const { chooseModel } = await import('../../scripts/package.ts');
    const dir = await mkdtemp(join(tmpdir(), 'package-model-'));
    try {
      const models = join(dir, 'models');
      await mkdir(models);
      // Nothing there: the default name (the package step then says how to build it).
      expect(chooseModel(['--stage', 'prod'], models)).toMatchObject({
        name: 'resnet18',
        args: ['--stage', 'prod'],
      });
      await mkdir(join(models, 'mobilenetv2'));
      await writeFile(join(models, 'mobilenetv2', 'model.onnx'), 'stub');
      await writeFile(join(models, 'mobilenetv2', 'model.json'), '{}');
      const offline = chooseModel(['--stage', 'prod'], models);
      expect(offline.name).toBe('mobilenetv2');
      expect(offline.args).toEqual(['--stage', 'prod', '--param=modelName=mobilenetv2']);
      expect(offline.why).toMatch(/the trained model npm start serves/);
      expect(chooseModel(['--param="modelName=other"'], models)).toMatchObject({
        name: 'other',
        args: ['--param="modelName=other"'],
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
