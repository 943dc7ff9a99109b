/**
 * Access to ../shared (real trained models, labels, photos) for every test. Tests that need it skip
 * with a printed reason when it is absent, and fail instead under REQUIRE_SHARED=1 (set by .ci/run);
 * nothing from it is copied into the repository.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { ROOT, SHARED, SHARED_FILES, sharedModel } from '../../paths.ts';

export { ROOT, SHARED };

/** False when ../shared is there; otherwise the reason tests that need it are skipped. */
export const sharedMissing: string | false = [
  SHARED_FILES.int8,
  SHARED_FILES.labels,
  SHARED_FILES.photos,
].every((p) => existsSync(p))
  ? false
  : `${SHARED} (models, labels, photos) is absent`;

/**
 * REQUIRE_SHARED=1, set by .ci/run (not CI, which many tools set): this machine must run every test
 * that needs ../shared or what .ci/run installs (Chromium, qemu and the arm64 runtimes, torchvision,
 * WordNet and CLDR), so a test that cannot run fails instead of skipping.
 */
export const REQUIRE_SHARED = process.env.REQUIRE_SHARED === '1';

/**
 * For describe.skipIf / it.skipIf: false when `missing` is false (`what` can run here); otherwise
 * true with the reason printed, or, under REQUIRE_SHARED=1, an error naming what is missing.
 */
export function skipUnless(what: string, missing: string | false): boolean {
  if (missing === false) return false;
  if (REQUIRE_SHARED)
    throw new Error(`${what} cannot run: ${missing} (REQUIRE_SHARED=1, set by .ci/run, requires it)`);
  console.warn(`skipping ${what}: ${missing}`);
  return true;
}

/** For describe.skipIf: true, with a printed reason, when ../shared is absent (an error under REQUIRE_SHARED=1). */
export const skipUnlessShared = (what: string): boolean => skipUnless(what, sharedMissing);

export interface SharedPhoto {
  file: string;
  classIndex: number;
  label: string;
}

export const photo = (name: string) => join(SHARED, 'photos', name);

export function sharedPhotos(): (SharedPhoto & { path: string })[] {
  const list = JSON.parse(readFileSync(join(SHARED, 'photos/photos.json'), 'utf8')) as SharedPhoto[];
  return list.map((p) => ({ ...p, path: photo(p.file) }));
}

export const run = promisify(execFile);

/**
 * Runs an npm-script entry point (a .ts file) with tsx, as `npm run` would, and returns its output.
 * Only for tests of that CLI itself: everything else calls the toolchain's functions in process.
 */
export function runTs(script: string, args: string[], options: { env?: NodeJS.ProcessEnv } = {}) {
  return run(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, script), ...args], { cwd: ROOT, ...options });
}

export type SharedModel = 'mobilenetv2-int8' | 'mobilenetv2-fp32';

/** Builds a fresh model folder from a ../shared model with the project's own importModel. */
export async function importSharedModel(model: SharedModel): Promise<string> {
  const out = join(await mkdtemp(join(tmpdir(), `${model}-`)), model);
  // Loaded here, not at the top: most users of this helper never import (it loads ONNX Runtime).
  const { importModel } = await import('../../models/import.ts');
  await importModel({ model: sharedModel(model), labels: SHARED_FILES.labels, name: model, out });
  return out;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** The int8 MobileNetV2 folder that test/global-setup.ts imports once per test run. */
    sharedInt8Dir: string;
  }
}

/** The int8 MobileNetV2 model folder of this test run (read-only: copy it to change it). */
export function sharedModelFolder(): string {
  return inject('sharedInt8Dir');
}
