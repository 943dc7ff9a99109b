/** The process-wide classifier: one session per process, created at import, reused by every call. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { chooseStorage, readCpuInfo, storageExactness } from '../../src/classifier/cpu.ts';
import { ort } from '../../src/classifier/native.ts';
import { SHARED, sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

describe.skipIf(skipUnlessShared('session reuse test'))('classifier instance', () => {
  // The folder carries both int8 storages; ask for an exact one auto would not pick where this CPU has
  // one (u8 with VNNI; on AVX2 alone s8 saturates, so u8 by name), so the test also proves that
  // MODEL_WEIGHTS reaches the process-wide classifier and that only that file is loaded.
  const cpu = readCpuInfo();
  const auto = chooseStorage(cpu).storage;
  const other = (['s8', 'u8'] as const).find((s) => s !== auto && storageExactness(cpu, s).exact) ?? auto;
  beforeAll(() => {
    process.env.MODEL_DIR = sharedModelFolder();
    process.env.MODEL_THREADS = '1';
    process.env.MODEL_WEIGHTS = other;
  });
  afterAll(() => {
    delete process.env.MODEL_WEIGHTS;
  });

  it('creates exactly one InferenceSession (of the MODEL_WEIGHTS storage) across imports and many calls', async () => {
    // A spy that calls through to the real ONNX Runtime: it counts, it does not replace.
    const create = vi.spyOn(ort.InferenceSession, 'create');
    const first = await import('../../src/handlers/init.ts');
    const second = await import('../../src/handlers/init.ts');
    expect(second.classifier).toBe(first.classifier);
    expect(create).toHaveBeenCalledTimes(1);
    const file = other === 's8' ? 'model.onnx' : 'model.u8.onnx';
    expect(create.mock.calls[0]?.[0]).toBe(join(sharedModelFolder(), file));
    expect(first.classifier.weights).toMatchObject({ storage: other, file, requested: other });
    const session = await (create.mock.results[0]?.value as ReturnType<typeof ort.InferenceSession.create>);
    const run = vi.spyOn(session, 'run');

    const photo = await readFile(`${SHARED}/photos/207-Golden-Retriever.jpg`);
    const results = await Promise.all(Array.from({ length: 8 }, () => first.classifier.classify(photo)));
    for (const r of results) expect(r.labels[0]?.label).toBe('Golden Retriever');
    expect(create).toHaveBeenCalledTimes(1);
    expect(run).toHaveBeenCalledTimes(8); // every call ran on the one session
    expect(first.classifier.threads).toBe(1);
  });
});
