/**
 * Shared by the serverless integration tests: a real model folder made from ../shared by the real
 * import tool (cached under .cache/, git-ignored), and the real photos. Tests skip with a printed
 * reason when ../shared is absent.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModelFolder } from '../../src/classifier/model-folder.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED = resolve(ROOT, '../shared');
const MODEL = join(SHARED, 'models/mobilenetv2-int8.onnx');
const LABELS = join(SHARED, 'data/imagenet-simple-labels.json');

export const sharedMissing: string | false =
  existsSync(MODEL) && existsSync(LABELS) && existsSync(join(SHARED, 'photos'))
    ? false
    : `skipped: ${SHARED} (models/mobilenetv2-int8.onnx, data/imagenet-simple-labels.json, photos/) is absent`;
if (sharedMissing) console.warn(sharedMissing);

export const photo = (name: string) => join(SHARED, 'photos', name);

/** A model folder imported from ../shared with `npm run model:import` logic; built once, then reused. */
export async function sharedModelFolder(name = 'mobilenetv2-int8'): Promise<string> {
  const dir = join(ROOT, '.cache/test-models', name);
  const ok = await loadModelFolder(dir).then(
    () => true,
    () => false,
  );
  if (!ok)
    execFileSync(
      process.execPath,
      ['--import', 'tsx', 'models/import.ts', MODEL, '--labels', LABELS, '--out', dir, '--name', name],
      { cwd: ROOT, stdio: 'inherit', timeout: 120_000 },
    );
  return dir;
}
