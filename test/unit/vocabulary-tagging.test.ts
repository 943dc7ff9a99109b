import type { S3Event } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { Classification } from '../../src/classifier/classifier.ts';
import { ConfigError } from '../../src/classifier/errors.ts';
import type { ModelFolder } from '../../src/classifier/model-folder.ts';
import { softmax, topK } from '../../src/classifier/postprocess.ts';
import { categoryMembers, categoryScores } from '../../src/classifier/vocabulary.ts';
import { taggerSettings } from '../../src/settings.ts';
import { normalizeLabel } from '../../src/tagging/label-index.ts';
import { createS3Tagger } from '../../src/tagging/notifications.ts';
import { encodeS3Key, MAX_TAGS, MAX_VALUE_CHARS, parseLabelList, type Tag } from '../../src/tagging/tags.ts';
import { checkRetagModel, select } from '../../tools/backfill/backfill.ts';
import { fakeClassifier, MemoryStore } from '../helpers/fakes.ts';
import { MemoryIndex } from '../helpers/memory-index.ts';
import { committedVocabulary } from '../helpers/vocabulary.ts';

const vocabulary = committedVocabulary();
const members = categoryMembers(vocabulary);
const labels = vocabulary.classes.map((c, i) => (i === 207 ? 'Golden Retriever' : (c.names[0] as string)));
const BUCKET = 'b';

/**
 * Logits by the first byte: 207 a retriever whose mass is spread over five breeds; 47 a chameleon;
 * 1 mostly a chameleon (0.7) and a little a retriever (0.3).
 */
function logitsFor(first: number): Float64Array {
  const logits = new Float64Array(1000).fill(-5);
  if (first === 1) {
    logits[47] = 5.85;
    logits[207] = 5;
  } else if (first === 207)
    for (const [i, v] of [
      [207, 5],
      [208, 4.6],
      [205, 4.5],
      [206, 4.4],
      [209, 4.2],
    ])
      logits[i as number] = v as number;
  else logits[first] = 9;
  return logits;
}

function vocabularyClassifier() {
  const fake = fakeClassifier();
  const folder = { ...fake.folder, labels, vocabulary } as ModelFolder;
  return {
    ...fake,
    folder,
    async classify(
      bytes: Uint8Array,
      o: { topK?: number; minConfidence?: number } = {},
    ): Promise<Classification> {
      const p = softmax(logitsFor(bytes[0] as number));
      return {
        labels: topK(p, labels, o.topK ?? 3),
        categories: categoryScores(vocabulary, members, p).filter((c) => c.score >= (o.minConfidence ?? 0.1)),
        timings: { decodeMs: 1, inferMs: 1, totalMs: 2 },
      };
    },
  };
}

const created = (key: string) => ({
  eventName: 'ObjectCreated:Put',
  s3: { bucket: { name: BUCKET }, object: { key: encodeS3Key(key), size: 1 } },
});
const event = (...keys: string[]) => ({ Records: keys.map(created) }) as unknown as S3Event;

function setup(env: Record<string, string> = {}) {
  const store = new MemoryStore();
  const index = new MemoryIndex();
  const tagger = createS3Tagger({ store, classifier: vocabularyClassifier(), index, ...taggerSettings(env) });
  return { store, index, tagger };
}
const value = (tags: Tag[], key: string) => tags.find((t) => t.Key === key)?.Value;

describe('categories in tags and in the label index', () => {
  it('tags carry the categories over the threshold and the vocabulary; low labels are left out', async () => {
    const { store, tagger } = setup();
    store.put(BUCKET, 'uploads/dog.jpg', Uint8Array.of(207));
    await tagger(event('uploads/dog.jpg'));
    const tags = store.tagsOf(BUCKET, 'uploads/dog.jpg');
    expect(value(tags, 'tagger:top')).toBe('Golden Retriever');
    const categories = parseLabelList(value(tags, 'tagger:categories') ?? '');
    expect(categories.map((c) => c.label)).toEqual(['animal', 'mammal', 'pet', 'dog']);
    expect(categories.find((c) => c.label === 'dog')?.score).toBeGreaterThan(0.95);
    // The top label alone is 0.30; the others (0.20, 0.18) pass too; nothing under 0.1 is tagged.
    for (const l of parseLabelList(value(tags, 'tagger:labels') ?? ''))
      expect(l.score).toBeGreaterThanOrEqual(0.1);
    expect(value(tags, 'tagger:vocabulary')).toBe(`imagenet-1k@${vocabulary.version}`);
    for (const t of tags) {
      expect(Array.from(t.Value).length).toBeLessThanOrEqual(MAX_VALUE_CHARS);
      expect(t.Value).toMatch(/^[\p{L}\p{N}\p{Z}_.:/=+\-@]*$/u);
    }
  });

  it("keeps the user's tags: with six of them, the vocabulary and model tags are dropped first", async () => {
    const { store, tagger } = setup();
    const mine = Array.from({ length: 6 }, (_, i) => ({ Key: `mine${i}`, Value: `v${i}` }));
    store.put(BUCKET, 'uploads/dog.jpg', Uint8Array.of(207), mine);
    const [out] = await tagger(event('uploads/dog.jpg'));
    const tags = store.tagsOf(BUCKET, 'uploads/dog.jpg');
    expect(tags).toHaveLength(MAX_TAGS);
    expect(tags.slice(0, 6)).toEqual(mine);
    expect(tags.slice(6).map((t) => t.Key)).toEqual([
      'tagger:status',
      'tagger:top',
      'tagger:categories',
      'tagger:labels',
    ]);
    expect(out).toMatchObject({ dropped: ['tagger:model', 'tagger:vocabulary'] });
  });

  it('the index lists the photos of a category best score first, and not the others', async () => {
    const { store, index, tagger } = setup();
    store.put(BUCKET, 'uploads/dog.jpg', Uint8Array.of(207));
    store.put(BUCKET, 'uploads/husky.jpg', Uint8Array.of(250));
    store.put(BUCKET, 'uploads/chameleon.jpg', Uint8Array.of(47));
    await tagger(event('uploads/dog.jpg', 'uploads/husky.jpg', 'uploads/chameleon.jpg'));
    const dogs = await index.search(BUCKET, normalizeLabel('dog'), { limit: 10 });
    expect(dogs.items.map((i) => i.key)).toEqual(['uploads/husky.jpg', 'uploads/dog.jpg']);
    expect(dogs.items[1]?.categories?.map((c) => c.label)).toContain('dog');
    expect(
      (await index.search(BUCKET, normalizeLabel('lizard'), { limit: 10 })).items.map((i) => i.key),
    ).toEqual(['uploads/chameleon.jpg']);
    const page = await index.search(BUCKET, normalizeLabel('animal'), { limit: 2 });
    expect(page.items).toHaveLength(2);
    expect(page.cursor).toBeDefined();
  });

  it('TAG_LANGUAGE=zh writes Chinese names in the tags; the index keeps the English ones', async () => {
    const { store, index, tagger } = setup({ TAG_LANGUAGE: 'zh' });
    store.put(BUCKET, 'uploads/dog.jpg', Uint8Array.of(207));
    await tagger(event('uploads/dog.jpg'));
    const tags = store.tagsOf(BUCKET, 'uploads/dog.jpg');
    expect(value(tags, 'tagger:top')).toBe('金毛猎犬');
    expect(parseLabelList(value(tags, 'tagger:categories') ?? '').map((c) => c.label)).toEqual([
      '动物',
      '哺乳动物',
      '宠物',
      '狗',
    ]);
    expect(
      (await index.search(BUCKET, normalizeLabel('dog'), { limit: 10 })).items.map((i) => i.key),
    ).toEqual(['uploads/dog.jpg']);
    // A second delivery finds the tags current (the index record renders to the same Chinese tags).
    const [again] = await tagger(event('uploads/dog.jpg'));
    expect(again?.result).toBe('unchanged');
  });

  it('keeps the best guess with its score when every label is under MIN_CONFIDENCE', async () => {
    const { store, index, tagger } = setup({ MIN_CONFIDENCE: '0.9' });
    store.put(BUCKET, 'uploads/dog.jpg', Uint8Array.of(207));
    await tagger(event('uploads/dog.jpg'));
    const tags = store.tagsOf(BUCKET, 'uploads/dog.jpg');
    expect(value(tags, 'tagger:status')).toBe('ok');
    expect(value(tags, 'tagger:top')).toBe('Golden Retriever');
    const labels = parseLabelList(value(tags, 'tagger:labels') ?? '');
    expect(labels.map((l) => l.label)).toEqual(['Golden Retriever']);
    expect(labels[0]?.score).toBeLessThan(0.9);
    // The index has it too, so the best guess is found by search, with its low score.
    const found = await index.search(BUCKET, normalizeLabel('golden retriever'), { limit: 10 });
    expect(found.items.map((i) => i.key)).toEqual(['uploads/dog.jpg']);
    expect(found.items[0]?.score).toBeCloseTo(labels[0]?.score ?? 0, 3);
  });

  it('a category needs CATEGORY_MIN_SCORE (default 0.5) as well as MIN_CONFIDENCE', async () => {
    const categoriesOf = async (env: Record<string, string>) => {
      const { store, tagger } = setup(env);
      store.put(BUCKET, 'uploads/mixed.jpg', Uint8Array.of(1));
      await tagger(event('uploads/mixed.jpg'));
      const tags = store.tagsOf(BUCKET, 'uploads/mixed.jpg');
      return {
        labels: parseLabelList(value(tags, 'tagger:labels') ?? '').map((l) => l.label),
        categories: parseLabelList(value(tags, 'tagger:categories') ?? '').map((c) => c.label),
      };
    };
    // dog scores 0.3: over MIN_CONFIDENCE (its label stays), under the category threshold.
    const byDefault = await categoriesOf({});
    expect(byDefault.labels).toEqual(['African chameleon', 'Golden Retriever']);
    expect(byDefault.categories).toContain('lizard');
    expect(byDefault.categories).not.toContain('dog');
    expect((await categoriesOf({ CATEGORY_MIN_SCORE: '0.2' })).categories).toContain('dog');
    // Both thresholds hold: MIN_CONFIDENCE over CATEGORY_MIN_SCORE still drops it.
    expect(
      (await categoriesOf({ CATEGORY_MIN_SCORE: '0.2', MIN_CONFIDENCE: '0.5' })).categories,
    ).not.toContain('dog');
    expect(taggerSettings({}).categoryMinScore).toBe(0.5);
    expect(taggerSettings({ CATEGORY_MIN_SCORE: '0.25' }).categoryMinScore).toBe(0.25);
    expect(() => taggerSettings({ CATEGORY_MIN_SCORE: '2' })).toThrow(/CATEGORY_MIN_SCORE/);
    expect(() => taggerSettings({ CATEGORY_MIN_SCORE: 'lots' })).toThrow(ConfigError);
  });

  it('MIN_CONFIDENCE and TAG_LANGUAGE are validated at init', () => {
    expect(taggerSettings({ MIN_CONFIDENCE: '0.25' }).minConfidence).toBe(0.25);
    expect(taggerSettings({}).minConfidence).toBe(0.1);
    expect(() => taggerSettings({ MIN_CONFIDENCE: '2' })).toThrow(ConfigError);
    expect(() => taggerSettings({ MIN_CONFIDENCE: 'high' })).toThrow(/MIN_CONFIDENCE/);
    expect(() => taggerSettings({ TAG_LANGUAGE: 'fr' })).toThrow(/TAG_LANGUAGE/);
  });
});

describe('backfill --retag-older-than <vocabulary>@V', () => {
  const ok = [
    { Key: 'tagger:status', Value: 'ok' },
    { Key: 'tagger:model', Value: 'resnet18@1' },
  ];
  const retag = { name: 'imagenet-1k', version: '2' };

  it('selects objects tagged before the vocabulary or with an older one', () => {
    expect(select(ok, retag, 'imagenet-1k')).toBe('older');
    expect(select([...ok, { Key: 'tagger:vocabulary', Value: 'imagenet-1k@1' }], retag, 'imagenet-1k')).toBe(
      'older',
    );
    expect(select([...ok, { Key: 'tagger:vocabulary', Value: 'imagenet-1k@2' }], retag, 'imagenet-1k')).toBe(
      'current',
    );
    // Without a vocabulary here, the name is a model's as before.
    expect(select(ok, retag)).toBe('other-model');
  });

  it('refuses a vocabulary older than the threshold', () => {
    const model = { name: 'resnet18', version: '1' };
    expect(() => checkRetagModel(model, retag, { name: 'imagenet-1k', version: '1' })).toThrow(
      /vocabulary here/,
    );
    expect(() => checkRetagModel(model, retag, { name: 'imagenet-1k', version: '2' })).not.toThrow();
  });
});
