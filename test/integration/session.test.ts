/** The process-wide classifier: one session per process, created at import, reused by every call. */
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ort } from '../../src/classifier/native.ts';
import { SHARED, sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

describe.skipIf(skipUnlessShared('session reuse test'))('classifier instance', () => {
  beforeAll(() => {
    process.env.MODEL_DIR = sharedModelFolder();
    process.env.MODEL_THREADS = '1';
  });

  it('creates exactly one InferenceSession across imports and many calls', async () => {
    // A spy that calls through to the real ONNX Runtime: it counts, it does not replace.
    const create = vi.spyOn(ort.InferenceSession, 'create');
    const first = await import('../../src/classifier/instance.ts');
    const second = await import('../../src/classifier/instance.ts');
    expect(second.classifier).toBe(first.classifier);
    expect(create).toHaveBeenCalledTimes(1);
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
