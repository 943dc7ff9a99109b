import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { IMAGE_SUFFIXES } from '../../src/classifier/image-formats.ts';
import type { ModelFolder } from '../../src/classifier/model-folder.ts';
import { createApi } from '../../src/http/api.ts';
import { searchTerms, singulars } from '../../src/tagging/search-terms.ts';
import { fakeClassifier, MemoryStore } from '../helpers/fakes.ts';
import { MemoryIndex } from '../helpers/memory-index.ts';
import { committedVocabulary } from '../helpers/vocabulary.ts';

const vocabulary = committedVocabulary();
/** Labels as imagenet-simple-labels writes them, for the classes these tests use; WordNet's head word elsewhere. */
const SIMPLE: Record<number, string> = {
  47: 'chameleon',
  207: 'Golden Retriever',
  607: "jack-o'-lantern",
  817: 'sports car',
  134: 'crane (bird)',
  517: 'crane (machine)',
};
const labels = vocabulary.classes.map((c, i) => SIMPLE[i] ?? (c.names[0] as string));
const terms = searchTerms(labels, vocabulary);

describe('search words', () => {
  it.each([
    ['dog', 'dog', 'category'],
    ['Dogs', 'dog', 'category'],
    ['  DOG ', 'dog', 'category'],
    ['domestic dog', 'dog', 'category'],
    ['puppies', 'dog', 'category'],
    ['automobile', 'car', 'category'],
    ['cars', 'car', 'category'],
    ['狗', 'dog', 'category'],
    ['鸟', 'bird', 'category'],
    ['交通工具', 'vehicle', 'category'],
    ['vehicles', 'vehicle', 'category'],
    ['wolves', 'wolf', 'category'],
    ['金毛猎犬', 'golden retriever', 'label'],
    ['golden  retriever', 'golden retriever', 'label'],
    ['golden retrievers', 'golden retriever', 'label'],
    ['Jack o lantern', 'jack-o-lantern', 'label'],
    ["jack-o'-lantern", 'jack-o-lantern', 'label'],
    ['sportscar', 'sports car', 'label'],
    ['red', 'colour:red', 'colour'],
    ['Gray', 'colour:grey', 'colour'],
    ['红色', 'colour:red', 'colour'],
    ['蓝', 'colour:blue', 'colour'],
    ['橙色', 'colour:orange', 'colour'],
    ['orange colour', 'colour:orange', 'colour'],
    // Everyday single words: 车 is a car (not a car mirror or a wheel), 海 a shore.
    ['车', 'car', 'category'],
    ['海', 'shore', 'category'],
    ['大海', 'shore', 'category'],
    ['sea', 'shore', 'category'],
    // A class of the same name comes first: "orange" is the fruit.
    ['orange', 'orange', 'label'],
  ])('%s -> %s (%s)', (word, term, kind) => {
    expect(terms.resolve(word)).toMatchObject({ term, kind });
  });

  it('matches nothing for words it does not know', () => {
    expect(terms.resolve('xyzzy')).toBeUndefined();
    expect(terms.resolve('')).toBeUndefined();
  });

  it('singulars of simple English plurals', () => {
    expect(singulars('dogs')).toEqual(['dog']);
    expect(singulars('boxes')).toContain('box');
    expect(singulars('butterflies')[0]).toBe('butterfly');
    expect(singulars('mice')).toEqual(['mouse']);
    expect(singulars('glass')).toEqual([]);
  });

  it('suggests labels, categories and synonyms as one types, one per term, categories first', () => {
    const words = terms.suggest('do').map((s) => s.term);
    expect(words[0]).toBe('dog');
    expect(new Set(words).size).toBe(words.length);
    expect(terms.suggest('golden').map((s) => s.term)).toContain('golden retriever');
    expect(terms.suggest('狗').map((s) => s.term)).toContain('dog');
    expect(terms.suggest('vehicel').map((s) => s.term)).toContain('vehicle');
  });

  it.each([
    ['terrier', 26, ['yorkshire terrier', 'airedale', 'border terrier']],
    ['Terriers', 26, ['yorkshire terrier']],
    ['hound', 19, ['afghan hound', 'beagle', 'whippet']],
    ['retriever', 5, ['golden retriever', 'labrador retriever']],
    ['poodle', 3, ['toy poodle', 'standard poodle']],
    ['spaniel', 7, ['cocker spaniel', 'clumber']],
  ])('%s: a WordNet hypernym grouping %i classes, searched as all of them', (word, size, some) => {
    const t = terms.resolve(word);
    expect(t).toMatchObject({ term: word.toLowerCase().replace(/s$/, ''), kind: 'group' });
    expect(t?.anyOf).toHaveLength(size);
    expect(t?.anyOf).toEqual(expect.arrayContaining(some));
  });

  it('every WordNet hypernym of the vocabulary resolves, to a group, a category or its one class', () => {
    const unresolved = (vocabulary.groups ?? []).flatMap((g) => g.names.filter((n) => !terms.resolve(n)));
    expect(unresolved).toEqual([]);
    expect(vocabulary.groups?.length).toBeGreaterThan(500);
    // A hypernym with a single ImageNet class is another name of it; one holding whole categories uses them.
    expect(terms.resolve('eagle')).toMatchObject({ term: 'bald eagle', kind: 'label' });
    expect(terms.resolve('canine')?.anyOf).toEqual(expect.arrayContaining(['dog', 'wolf', 'fox']));
  });

  it('a Chinese word finds the one name it begins', () => {
    expect(terms.resolve('金毛')).toMatchObject({ term: 'golden retriever', kind: 'label', zh: '金毛猎犬' });
    // Begins several names: not guessed (the suggestions list them).
    expect(terms.resolve('猎')).toBeUndefined();
  });

  it.each([['dog\u0000'], ['\u202edog'], ['d\u200bog'], ['\ufeffdog\u2060'], ['do\u00adg']])(
    'control and invisible code points do not count: %j',
    (word) => {
      expect(terms.resolve(word)).toMatchObject({ term: 'dog', kind: 'category' });
    },
  );

  it('an emoji finds what its CLDR short name names', () => {
    expect(terms.resolve('🐶')).toMatchObject({ term: 'dog', kind: 'category' });
    expect(terms.resolve('🐈')).toMatchObject({ term: 'cat', kind: 'category' });
    expect(terms.resolve('🐕\ufe0f')).toMatchObject({ term: 'dog' });
    expect(terms.resolve('🍕')).toMatchObject({ term: 'pizza', kind: 'label' });
    expect(terms.resolve('🙂')).toBeUndefined();
  });

  it('suggests names holding the word before one-letter edits', () => {
    const hound = terms.suggest('hound').map((s) => s.word.toLowerCase());
    expect(
      hound.slice(0, 5).every((w) => w.includes('hound')),
      hound.join(),
    ).toBe(true);
    const poodle = terms.suggest('poodl').map((s) => s.word.toLowerCase());
    expect(
      poodle.slice(0, 3).every((w) => w.includes('poodl')),
      poodle.join(),
    ).toBe(true);
  });

  it('without a vocabulary, only the model labels match', () => {
    const plain = searchTerms(['tabby', 'Golden Retriever']);
    expect(plain.resolve('golden retrievers')).toEqual({ term: 'golden retriever', kind: 'label' });
    expect(plain.resolve('dog')).toBeUndefined();
  });
});

/**
 * GET /images of an API over `index` (uploads/ in `bucket`) whose model has the labels and the
 * committed vocabulary above: a query -> its status and JSON body.
 */
function searchApi(index: MemoryIndex, bucket: string) {
  const fake = fakeClassifier();
  const classifier = { ...fake, folder: { ...fake.folder, labels, vocabulary } as ModelFolder };
  const signer = {
    presignPost: async () => ({ url: '', fields: {}, expiresAt: new Date(0) }),
    presignGet: async (key: string) => `https://s3/${key}`,
    origin: async () => 'https://s3',
  };
  const api = createApi({
    classifier,
    images: { bucket, prefix: 'uploads/', suffixes: IMAGE_SUFFIXES, index, store: new MemoryStore(), signer },
  });
  return async (query: Record<string, string>) => {
    const res = await api({
      rawPath: '/images',
      requestContext: { http: { method: 'GET' } },
      headers: {},
      queryStringParameters: query,
    } as unknown as APIGatewayProxyEventV2);
    return { status: res.statusCode, body: JSON.parse(res.body) };
  };
}

describe('GET /images with a vocabulary', () => {
  const BUCKET = 'photos';
  async function setup() {
    const index = new MemoryIndex();
    const dog = { label: 'dog', score: 0.97 };
    await index.put({
      bucket: BUCKET,
      key: 'uploads/dog.jpg',
      status: 'ok',
      labels: [{ label: 'Golden Retriever', score: 0.8 }],
      categories: [{ label: 'animal', score: 0.99 }, dog],
      model: 'm@1',
    });
    await index.put({
      bucket: BUCKET,
      key: 'uploads/york.jpg',
      status: 'ok',
      labels: [{ label: 'Yorkshire terrier', score: 0.7 }],
      model: 'm@1',
    });
    return searchApi(index, BUCKET);
  }

  it('finds the dog photo by "Dogs", "狗" and "金毛猎犬", and says what the word meant', async () => {
    const get = await setup();
    for (const label of ['Dogs', '狗', 'domestic dog', '金毛猎犬']) {
      const { status, body } = await get({ label });
      expect(status, label).toBe(200);
      expect(body.items.map((i: { key: string }) => i.key)).toEqual(['uploads/dog.jpg']);
    }
    const { body } = await get({ label: '狗' });
    expect(body.resolved).toEqual({ term: 'dog', kind: 'category', zh: '狗' });
    expect(body.items[0].score).toBe(0.97);
    expect(body.items[0].categories).toEqual([
      { label: 'animal', score: 0.99, zh: '动物' },
      { label: 'dog', score: 0.97, zh: '狗' },
    ]);
    expect(body.items[0].labels).toEqual([{ label: 'Golden Retriever', score: 0.8, zh: '金毛猎犬' }]);
  });

  it('a word that matches nothing answers 200, no items, and a few suggestions', async () => {
    const get = await setup();
    const { status, body } = await get({ label: 'dgo' });
    expect(status).toBe(200);
    expect(body.items).toEqual([]);
    expect(body.suggestions.length).toBeGreaterThan(0);
    expect(body.suggestions.length).toBeLessThanOrEqual(5);
    expect(body.suggestions.map((s: { term: string }) => s.term)).toContain('dog');
    // A known word with no photos: no suggestions needed.
    expect((await get({ label: 'cat' })).body).toEqual({
      items: [],
      resolved: { term: 'cat', kind: 'category', zh: '猫' },
    });
  });

  it('"orange" (the fruit) with no photos suggests the colour of that name', async () => {
    const get = await setup();
    const { body } = await get({ label: 'Oranges' });
    expect(body.resolved).toMatchObject({ term: 'orange', kind: 'label' });
    expect(body.items).toEqual([]);
    expect(body.suggestions).toEqual([
      { word: 'orange colour', term: 'colour:orange', kind: 'colour', zh: '橙色' },
    ]);
  });

  it('finds a terrier by "terrier" (a WordNet group) and the dog by its emoji', async () => {
    const get = await setup();
    const terrier = await get({ label: 'terrier' });
    expect(terrier.status).toBe(200);
    expect(terrier.body.items.map((i: { key: string }) => i.key)).toEqual(['uploads/york.jpg']);
    expect(terrier.body.resolved).toMatchObject({ term: 'terrier', kind: 'group' });
    const dog = await get({ label: '🐶' });
    expect(dog.body.items.map((i: { key: string }) => i.key)).toEqual(['uploads/dog.jpg']);
    expect(dog.body.resolved).toMatchObject({ term: 'dog', kind: 'category' });
    for (const label of ['dog\u0000', '\u202edog', 'd\u200bog'])
      expect((await get({ label })).body.resolved, label).toMatchObject({ term: 'dog' });
  });

  it('an emoji it does not know answers 200 with no items; only invisible characters are "empty"', async () => {
    const get = await setup();
    const smile = await get({ label: '🙂' });
    expect(smile.status).toBe(200);
    expect(smile.body.items).toEqual([]);
    expect(smile.body.suggestions).toEqual(expect.any(Array));
    expect((await get({ label: '\u200b \u0000' })).status).toBe(400);
  });

  it('?suggest= answers the words as one types', async () => {
    const get = await setup();
    const { status, body } = await get({ suggest: 'Do' });
    expect(status).toBe(200);
    expect(body.suggestions[0]).toMatchObject({ word: 'dog', term: 'dog', kind: 'category', zh: '狗' });
  });
});

describe('GET /images?q= (several words at once)', () => {
  const BUCKET = 'photos';
  async function setup() {
    const index = new MemoryIndex();
    const put = (
      key: string,
      labels: [string, number][],
      categories: [string, number][],
      colours: [string, number][],
    ) =>
      index.put({
        bucket: BUCKET,
        key,
        status: 'ok',
        labels: labels.map(([label, score]) => ({ label, score })),
        categories: categories.map(([label, score]) => ({ label, score })),
        colours: colours.map(([label, score]) => ({ label, score })),
        model: 'm@1',
      });
    await put(
      'uploads/red-car.jpg',
      [['sports car', 0.7]],
      [['car', 0.9]],
      [
        ['red', 0.5],
        ['grey', 0.3],
      ],
    );
    await put('uploads/redder-car.jpg', [['sports car', 0.6]], [['car', 0.6]], [['red', 0.8]]);
    await put('uploads/blue-car.jpg', [['sports car', 0.8]], [['car', 0.95]], [['blue', 0.6]]);
    await put('uploads/red-dog.jpg', [['Golden Retriever', 0.8]], [['dog', 0.9]], [['red', 0.4]]);
    await put('uploads/orange.jpg', [['orange', 0.9]], [['fruit', 0.9]], [['orange', 0.7]]);
    await put('uploads/orange-car.jpg', [['minivan', 0.5]], [['car', 0.8]], [['orange', 0.6]]);
    return searchApi(index, BUCKET);
  }
  const keys = (body: { items: { key: string }[] }) => body.items.map((i) => i.key);

  it('intersects the words, best first by the geometric mean of their scores, in English or Chinese', async () => {
    const get = await setup();
    for (const q of [
      'red car',
      'RED  cars',
      '红色 汽车',
      'car red',
      '红色汽车',
      '红色的汽车',
      '红色的车',
      '红车',
    ]) {
      const { status, body } = await get({ q });
      expect(status, q).toBe(200);
      // red-car: sqrt(0.5 x 0.9) = 0.67; redder-car: sqrt(0.8 x 0.6) = 0.69.
      expect(keys(body), q).toEqual(['uploads/redder-car.jpg', 'uploads/red-car.jpg']);
    }
    const { body } = await get({ q: 'red car' });
    expect(body.items[0].score).toBeCloseTo(Math.sqrt(0.8 * 0.6), 6);
    expect(body.resolved).toEqual([
      { word: 'red', term: 'colour:red', kind: 'colour', zh: '红色' },
      { word: 'car', term: 'car', kind: 'category', zh: expect.any(String) },
    ]);
    expect(body.items[0].colours).toEqual([{ label: 'red', score: 0.8, zh: '红色' }]);
  });

  it('reads a run of words as one name, and a colour named like a class as the colour beside other words', async () => {
    const get = await setup();
    expect(keys((await get({ q: 'red golden retriever' })).body)).toEqual(['uploads/red-dog.jpg']);
    expect(keys((await get({ q: 'orange car' })).body)).toEqual(['uploads/orange-car.jpg']);
    // Alone, "orange" is ImageNet's fruit, as with label=.
    expect(keys((await get({ q: 'orange' })).body)).toEqual(['uploads/orange.jpg']);
    expect(keys((await get({ q: 'blue dog' })).body)).toEqual([]);
  });

  it('pages with a cursor bound to the words, and refuses bad input with 400', async () => {
    const get = await setup();
    const first = await get({ q: 'red car', limit: '1' });
    expect(keys(first.body)).toEqual(['uploads/redder-car.jpg']);
    const second = await get({ q: 'red car', limit: '1', cursor: first.body.cursor });
    expect(keys(second.body)).toEqual(['uploads/red-car.jpg']);
    expect(second.body.cursor).toBeUndefined();
    expect((await get({ q: 'blue car', cursor: first.body.cursor })).status).toBe(400);
    expect((await get({ q: 'red car', cursor: 'xyz' })).status).toBe(400);
    expect((await get({ q: '   ' })).status).toBe(400);
    expect((await get({ q: 'a b c d e f g' })).status).toBe(400);
    expect((await get({ q: 'x'.repeat(300) })).status).toBe(400);
  });

  it('a word that names nothing finds nothing, with suggestions for it', async () => {
    const get = await setup();
    const { status, body } = await get({ q: 'red dgo' });
    expect(status).toBe(200);
    expect(body.items).toEqual([]);
    expect(body.suggestions.map((s: { term: string }) => s.term)).toContain('dog');
  });
});
