/** The init log line names the model, the threads and the int8 weight storage loaded, with its reason. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ModelFolder } from '../../src/classifier/model-folder.ts';
import { createPowertools } from '../../src/handlers/powertools.ts';

describe('createPowertools', () => {
  afterEach(() => vi.restoreAllMocks());

  it('logs "classifier ready" with the weights choice once, at init', () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    const weights = {
      storage: 'u8' as const,
      file: 'model.u8.onnx',
      reason: 'no VNNI: ...',
      requested: 'auto' as const,
    };
    createPowertools('test-service', {
      folder: { meta: { name: 'm', version: '2', quantization: 'int8' } } as unknown as ModelFolder,
      threads: 2,
      initMs: 12.3,
      weights,
    });
    const ready = lines.map((l) => JSON.parse(l)).filter((l) => l.message === 'classifier ready');
    expect(ready).toHaveLength(1);
    expect(ready[0]).toMatchObject({ model: 'm@2', threads: 2, initMs: 12, weights });
  });
});
