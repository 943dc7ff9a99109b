import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Classification } from '../../src/classifier/classifier.ts';
import { CorruptImageError } from '../../src/classifier/errors.ts';
import { classifyFile } from '../../tools/classify/classify-file.ts';

const LIMIT = 1024;
const seen: number[] = [];
const fake = {
  limits: { maxBytes: LIMIT, maxPixels: 1e6, timeoutSeconds: 1 },
  async classify(bytes: Uint8Array): Promise<Classification> {
    seen.push(bytes.length);
    if (bytes[0] === 0) throw new CorruptImageError('not an image');
    return {
      labels: [{ label: 'cat', index: 1, score: 0.9 }],
      timings: { decodeMs: 1, inferMs: 1, totalMs: 2 },
    };
  },
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'classify-file-'));
  await writeFile(join(dir, 'ok.jpg'), Buffer.alloc(LIMIT, 1));
  await writeFile(join(dir, 'bad.jpg'), Buffer.alloc(10, 0));
  await writeFile(join(dir, 'over.jpg'), Buffer.alloc(LIMIT + 1, 1));
  // A sparse 3 GiB file: readFile would refuse it (over 2 GiB) and abort the batch.
  const huge = await open(join(dir, 'huge.jpg'), 'w');
  await huge.truncate(3 * 1024 ** 3);
  await huge.close();
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('classifyFile', () => {
  it('refuses files over the limit from their size, without reading them, and goes on', async () => {
    seen.length = 0;
    const results = [];
    for (const name of ['huge.jpg', 'over.jpg', 'ok.jpg', 'bad.jpg', 'missing.jpg', '.'])
      results.push(await classifyFile(fake, join(dir, name), 3));
    expect(results.map((r) => ('error' in r ? r.error.code : 'ok'))).toEqual([
      'ImageTooLarge',
      'ImageTooLarge',
      'ok',
      'CorruptImage',
      'FileNotReadable',
      'FileNotReadable',
    ]);
    expect(seen).toEqual([LIMIT, 10]);
  });
});
