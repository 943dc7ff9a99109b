/**
 * Access to ../shared (real trained models, labels, photos). Tests that need it skip with a printed
 * reason when it is absent; nothing from it is copied into the repository.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

export const ROOT = resolve(import.meta.dirname, '../..');
export const SHARED = resolve(ROOT, '../shared');
export const sharedAvailable = existsSync(join(SHARED, 'README.md'));

export function skipUnlessShared(what: string): boolean {
  if (!sharedAvailable)
    console.warn(`skipping ${what}: ${SHARED} is absent (real models and photos live there)`);
  return !sharedAvailable;
}

export interface SharedPhoto {
  file: string;
  classIndex: number;
  label: string;
}

export function sharedPhotos(): (SharedPhoto & { path: string })[] {
  const list = JSON.parse(readFileSync(join(SHARED, 'photos/photos.json'), 'utf8')) as SharedPhoto[];
  return list.map((p) => ({ ...p, path: join(SHARED, 'photos', p.file) }));
}

export const run = promisify(execFile);

/** Runs an npm-script entry point (a .ts file) with tsx, as `npm run` would, and returns its output. */
export function runTs(script: string, args: string[]) {
  return run(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, script), ...args], { cwd: ROOT });
}

/** Builds a model folder from a ../shared model with the project's own import CLI. */
export async function importSharedModel(model: 'mobilenetv2-int8' | 'mobilenetv2-fp32'): Promise<string> {
  const out = join(await mkdtemp(join(tmpdir(), `${model}-`)), model);
  await runTs('models/import.ts', [
    join(SHARED, `models/${model}.onnx`),
    '--labels',
    join(SHARED, 'data/imagenet-simple-labels.json'),
    '--out',
    out,
  ]);
  return out;
}
