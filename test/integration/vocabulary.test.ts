/**
 * The ImageNet-1k vocabulary (models/vocabulary/): the generator reproduces the committed file from
 * WordNet 3.0 (Debian wordnet-base; .ci/run installs it), every class is its wnid's own synset, and
 * the classes that belong to no category are the short known list.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ancestors,
  CLDR_ANNOTATIONS,
  formatVocabulary,
  generate,
  MAX_GROUP_TERMS,
  readInputs,
  SIMPLE_LABELS_SHA256,
  VOCABULARY_DIR,
  WORDNET_NOUNS,
} from '../../models/vocabulary/generate.ts';
import { SHARED_FILES } from '../../paths.ts';
import { createClassifier } from '../../src/classifier/classifier.ts';
import { labelsSha256, type Vocabulary } from '../../src/classifier/vocabulary.ts';
import { photo, runTs, sharedModelFolder, skipUnless, skipUnlessShared } from '../helpers/shared.ts';

const noWordNet = skipUnless(
  'the vocabulary generator tests',
  (!existsSync(WORDNET_NOUNS) || !existsSync(CLDR_ANNOTATIONS)) &&
    `${WORDNET_NOUNS} or ${CLDR_ANNOTATIONS} is absent (apt-get install wordnet-base unicode-cldr-core)`,
);

const committed = readFileSync(join(VOCABULARY_DIR, 'vocabulary.json'), 'utf8');
const vocabulary = JSON.parse(committed) as Vocabulary;

describe.skipIf(noWordNet)('vocabulary generator (WordNet 3.0)', () => {
  const inputs = readInputs();
  const generated = generate(inputs);

  it('reproduces the committed vocabulary.json and vocabulary.LICENSE byte for byte', () => {
    expect(formatVocabulary(generated.vocabulary)).toBe(committed);
    expect(generated.licence).toBe(readFileSync(join(VOCABULARY_DIR, 'vocabulary.LICENSE'), 'utf8'));
    expect(generated.licence).toContain('WordNet 3.0 Copyright 2006 by Princeton University');
  });

  it("every class resolves to its wnid's own synset, and its categories to that synset's hypernyms", () => {
    const wrong: string[] = [];
    vocabulary.classes.forEach((c, i) => {
      const synset = inputs.wordnet.synsets.get(c.wnid.slice(1));
      if (!synset || c.wnid !== inputs.wnids[i] || c.names.join() !== [...new Set(synset.lemmas)].join())
        wrong.push(`class ${i} ${c.wnid}: names`);
      const up = ancestors(inputs.wordnet, c.wnid.slice(1));
      const expected = vocabulary.categories.filter((cat) => cat.synsets.some((s) => up.has(s)));
      if (c.categories.join() !== expected.map((cat) => cat.id).join()) wrong.push(`class ${i}: categories`);
    });
    expect(wrong).toEqual([]);
  });
});

describe.skipIf(noWordNet)('vocabulary groups and emoji', () => {
  const inputs = readInputs();

  it("each WordNet group finds exactly the classes under its synset (categories' members plus classes)", () => {
    const members = new Map(vocabulary.categories.map((c) => [c.id, [] as number[]]));
    vocabulary.classes.forEach((c, i) => {
      for (const id of c.categories) members.get(id)?.push(i);
    });
    const wrong: string[] = [];
    for (const g of vocabulary.groups ?? []) {
      const found = new Set([...g.categories.flatMap((id) => members.get(id) ?? []), ...g.classes]);
      const under = vocabulary.classes.flatMap((c, i) =>
        ancestors(inputs.wordnet, c.wnid.slice(1)).has(g.wnid.slice(1)) ? [i] : [],
      );
      if (found.size !== under.length || under.some((i) => !found.has(i)))
        wrong.push(`${g.wnid} ${g.names[0]}`);
      if (g.categories.length + g.classes.length > MAX_GROUP_TERMS) wrong.push(`${g.wnid}: too many terms`);
    }
    expect(wrong).toEqual([]);
    const names = (vocabulary.groups ?? []).flatMap((g) => g.names);
    expect(names).toEqual(expect.arrayContaining(['terrier', 'hound', 'retriever', 'poodle', 'spaniel']));
  });

  it('maps pictographic emoji only, with the CLDR licence, and stays small', () => {
    expect(vocabulary.emoji?.['🐶']).toBe('dog');
    expect(Object.keys(vocabulary.emoji ?? {}).every((e) => /\p{Extended_Pictographic}/u.test(e))).toBe(true);
    expect(readFileSync(join(VOCABULARY_DIR, 'vocabulary.LICENSE'), 'utf8')).toContain('Unicode, Inc.');
    expect(Buffer.byteLength(committed)).toBeLessThan(300_000);
  });
});

describe('committed vocabulary', () => {
  const byId = new Map(vocabulary.categories.map((c) => [c.id, c]));

  it('has 50 to 150 categories, each with a Chinese name and a tag-safe form', () => {
    expect(vocabulary.categories.length).toBeGreaterThanOrEqual(50);
    expect(vocabulary.categories.length).toBeLessThanOrEqual(150);
    for (const c of vocabulary.categories) expect(c.zhTag).toMatch(/^[\p{L}\p{N} _.:/=+\-@]+$/u);
    for (const c of vocabulary.classes) expect(c.zhTag).toMatch(/^[\p{L}\p{N} _.:/=+\-@]+$/u);
  });

  it('puts every class in a category but traffic sign, traffic light, bubble and toilet paper', () => {
    expect(vocabulary.uncategorised).toEqual([919, 920, 971, 999]);
    vocabulary.classes.forEach((c, i) => {
      expect(c.categories.length === 0).toBe(vocabulary.uncategorised.includes(i));
    });
  });

  it('tells homonyms apart by wnid: two cranes, two maillots, corn the plant', () => {
    expect(vocabulary.classes[134]?.categories).toContain('bird');
    expect(vocabulary.classes[517]?.categories).not.toContain('bird');
    expect(vocabulary.classes[517]?.categories).toContain('artefact');
    expect(vocabulary.classes[638]?.wnid).not.toBe(vocabulary.classes[639]?.wnid);
    expect(vocabulary.classes[638]?.categories).toContain('clothing');
    expect(vocabulary.classes[639]?.categories).toContain('clothing');
    expect(vocabulary.classes[987]?.categories).toEqual(['plant']);
    expect(vocabulary.classes[207]?.categories).toEqual(['animal', 'mammal', 'pet', 'dog']);
    expect(vocabulary.classes[207]?.zh).toBe('金毛猎犬');
  });

  it('unites the two WordNet food synsets: trifle, espresso and mushroom are food', () => {
    expect(byId.get('food')?.synsets).toEqual(['00021265', '07555863']);
    for (const i of [927, 967, 947]) expect(vocabulary.classes[i]?.categories).toContain('food');
  });

  it.skipIf(skipUnlessShared('the label-list hash check'))('fits the imagenet-simple-labels list', () => {
    const labels = JSON.parse(readFileSync(SHARED_FILES.labels, 'utf8')) as string[];
    expect(labelsSha256(labels)).toBe(SIMPLE_LABELS_SHA256);
    expect(vocabulary.labelsSha256).toEqual([SIMPLE_LABELS_SHA256]);
  });
});

describe.skipIf(skipUnlessShared('the vocabulary on real photos'))('categories of real photos', () => {
  it('the imported ImageNet-1k folder has the vocabulary; a retriever scores "dog" above its top label, a chameleon not "dog"', async () => {
    const classifier = await createClassifier(sharedModelFolder(), { threads: 1 });
    try {
      expect(classifier.folder.vocabulary?.version).toBe(vocabulary.version);
      const retriever = await classifier.classify(await readFile(photo('207-Golden-Retriever.jpg')));
      const dog = retriever.categories?.find((c) => c.id === 'dog');
      expect(dog?.score).toBeGreaterThanOrEqual(retriever.labels[0]?.score as number);
      expect(retriever.categories?.map((c) => c.id)).toEqual(
        expect.arrayContaining(['animal', 'mammal', 'dog']),
      );
      const chameleon = await classifier.classify(await readFile(photo('047-chameleon.jpg')));
      expect(chameleon.categories?.map((c) => c.id)).toContain('lizard');
      expect(chameleon.categories?.map((c) => c.id)).not.toContain('dog');
    } finally {
      await classifier.release();
    }
  });

  it('classify --json prints the categories beside the labels', async () => {
    const { stdout } = await runTs('tools/classify/cli.ts', [
      '--model',
      sharedModelFolder(),
      '--json',
      photo('967-espresso.jpg'),
    ]);
    const row = JSON.parse(stdout.trim().split('\n').at(-1) as string);
    expect(row.labels).toHaveLength(3);
    expect(row.categories.map((c: { id: string }) => c.id)).toEqual(
      expect.arrayContaining(['food', 'drink']),
    );
    for (const c of row.categories) expect(Object.keys(c).sort()).toEqual(['id', 'label', 'score', 'zh']);
  });
});
