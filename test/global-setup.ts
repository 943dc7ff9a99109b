/** Once per test run: the int8 MobileNetV2 model folder that most integration tests classify with. */
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { TestProject } from 'vitest/node';
import { importSharedModel, REQUIRE_SHARED, sharedMissing } from './helpers/shared.ts';

export default async function setup(project: TestProject) {
  if (sharedMissing && REQUIRE_SHARED)
    throw new Error(`${sharedMissing}: REQUIRE_SHARED=1 (set by .ci/run) runs every test that needs it`);
  if (sharedMissing) return;
  const dir = await importSharedModel('mobilenetv2-int8');
  project.provide('sharedInt8Dir', dir);
  return () => rm(dirname(dir), { recursive: true, force: true });
}
