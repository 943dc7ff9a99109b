import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addVocabulary, refreshVocabulary } from '../../models/vocabulary/attach.ts';
import { VOCABULARY_DIR } from '../../models/vocabulary/generate.ts';
import { SHARED_FILES } from '../../paths.ts';
import { ConfigError } from '../../src/classifier/errors.ts';
import { loadModelFolder } from '../../src/classifier/model-folder.ts';
import { softmax } from '../../src/classifier/postprocess.ts';
import {
  categoryMembers,
  categoryScores,
  fitsLabels,
  labelsSha256,
  VOCABULARY_FILE,
} from '../../src/classifier/vocabulary.ts';
import { skipUnlessShared } from '../helpers/shared.ts';
import { committedVocabulary } from '../helpers/vocabulary.ts';

const vocabulary = committedVocabulary();
const members = categoryMembers(vocabulary);

const logits = fc.array(fc.float({ min: -30, max: 30, noNaN: true }), { minLength: 1000, maxLength: 1000 });

describe('category scores', () => {
  it('are at least the score of each member class, and at most 1', () => {
    fc.assert(
      fc.property(logits, (raw) => {
        const p = softmax(raw);
        const bad = categoryScores(vocabulary, members, p).filter(
          (c) => c.score > 1 || (members.get(c.id) ?? []).some((i) => c.score < (p[i] as number)),
        );
        expect(bad).toEqual([]);
      }),
      { numRuns: 30 },
    );
  });

  it('sum the mass spread over many classes: five retrievers at 0.15 make "dog" 0.75', () => {
    const p = new Float64Array(1000).fill(0.25 / 995);
    for (const i of [205, 206, 207, 208, 209]) p[i] = 0.15;
    const scores = categoryScores(vocabulary, members, p);
    const dog = scores.find((c) => c.id === 'dog');
    expect(dog?.score).toBeCloseTo(0.75 + (0.25 / 995) * 113, 9);
    expect(scores.findIndex((c) => c.id === 'dog')).toBeLessThan(scores.findIndex((c) => c.id === 'bird'));
  });

  it('each category lists its members once, and a class lists the categories that list it', () => {
    for (const [id, list] of members) {
      expect(new Set(list).size).toBe(list.length);
      for (const i of list) expect(vocabulary.classes[i]?.categories).toContain(id);
    }
  });
});

describe('a model folder and its vocabulary', () => {
  const labels = Array.from({ length: 1000 }, (_, i) => `class ${i}`);
  const imagenet = { ...vocabulary, labelsSha256: [labelsSha256(labels)] };

  async function folder(withLabels: string[]) {
    const dir = await mkdtemp(join(tmpdir(), 'vocab-'));
    await writeFile(join(dir, 'model.onnx'), 'x');
    await writeFile(join(dir, 'labels.json'), JSON.stringify(withLabels));
    const meta = {
      name: 'm',
      version: '1',
      inputName: 'input',
      inputShape: [1, 3, 224, 224],
      resizeShorter: 256,
      cropSize: 224,
      mean: [0, 0, 0],
      std: [1, 1, 1],
      channelOrder: 'RGB',
      output: 'logits',
      quantization: 'none',
      sha256: '0'.repeat(64),
      source: 'test',
      licence: 'test',
    };
    await writeFile(join(dir, 'model.json'), JSON.stringify(meta));
    return dir;
  }

  it('fits only the label list it was made for', () => {
    expect(fitsLabels(imagenet, labels)).toBe(true);
    expect(fitsLabels(imagenet, [...labels.slice(0, 999), 'other'])).toBe(false);
    expect(fitsLabels(imagenet, labels.slice(0, 10))).toBe(false);
  });

  it('is loaded with the folder when present, and refused when made for other labels', async () => {
    const dir = await folder(labels);
    expect((await loadModelFolder(dir)).vocabulary).toBeUndefined();
    await writeFile(join(dir, VOCABULARY_FILE), JSON.stringify(imagenet));
    expect((await loadModelFolder(dir)).vocabulary?.version).toBe(vocabulary.version);
    await writeFile(join(dir, 'labels.json'), JSON.stringify(labels.map((l) => l.toUpperCase())));
    await expect(loadModelFolder(dir)).rejects.toThrow(ConfigError);
    await expect(loadModelFolder(dir)).rejects.toThrow(/made for other labels/);
  });

  it.skipIf(skipUnlessShared('refreshing a folder of the ImageNet-1k labels'))(
    'a folder built with an older vocabulary gets the committed one (npm start, npm run package)',
    async () => {
      // The ImageNet-1k labels the committed vocabulary was made for.
      const imagenetLabels = JSON.parse(await readFile(SHARED_FILES.labels, 'utf8')) as string[];
      const dir = await folder(imagenetLabels);
      await copyFile(join(VOCABULARY_DIR, VOCABULARY_FILE), join(dir, VOCABULARY_FILE));
      expect(await refreshVocabulary(dir)).toBeNull();
      const old = { ...vocabulary, categories: vocabulary.categories.slice(1) };
      await writeFile(join(dir, VOCABULARY_FILE), JSON.stringify(old));
      expect(await refreshVocabulary(dir)).toBe(`${vocabulary.name}@${vocabulary.version}`);
      const committed = await readFile(join(VOCABULARY_DIR, VOCABULARY_FILE), 'utf8');
      expect(await readFile(join(dir, VOCABULARY_FILE), 'utf8')).toBe(committed);
      expect(await refreshVocabulary(dir)).toBeNull();
    },
  );

  it('is added by the toolchain to ImageNet-1k folders only, and a stale one removed', async () => {
    const dir = await folder(['a', 'b']);
    await copyFile(join(VOCABULARY_DIR, VOCABULARY_FILE), join(dir, VOCABULARY_FILE));
    expect(await addVocabulary(dir, ['a', 'b'])).toBeNull();
    await expect(readFile(join(dir, VOCABULARY_FILE))).rejects.toThrow(/ENOENT/);
    expect((await loadModelFolder(dir)).vocabulary).toBeUndefined();
  });
});
