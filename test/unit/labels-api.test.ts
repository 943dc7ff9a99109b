/**
 * Taught names end to end with fakes at every port (issue 26): the tagger stores images (label
 * index, tags, vectors), PUT /labels/{name} teaches a name from three of them and labels the stored
 * ones that match, a later upload gets it from the tagger, search finds it (label= and q=), GET
 * /image shows it, DELETE takes it away; editors only, 400/404/409 as api-spec.md says.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { Principal, Role } from '../../src/auth/tokens.ts';
import type { Classification } from '../../src/classifier/classifier.ts';
import { IMAGE_SUFFIXES } from '../../src/classifier/image-formats.ts';
import { createApi } from '../../src/http/api.ts';
import { MAX_NAME_READS } from '../../src/http/images.ts';
import { nameFromPath } from '../../src/http/labels.ts';
import { nameTerm } from '../../src/tagging/label-index.ts';
import { type TaggerOptions, tagObject } from '../../src/tagging/tagger.ts';
import { TAG_NAMES } from '../../src/tagging/tags.ts';
import { cachedTaughtLabels } from '../../src/tagging/taught-labels.ts';
import { relearnNames } from '../../src/tagging/teaching.ts';
import { l2Normalize } from '../../src/tagging/vector-index.ts';
import { fakeClassifier, MemoryStore } from '../helpers/fakes.ts';
import { MemoryIndex } from '../helpers/memory-index.ts';
import { MemoryTaughtLabels } from '../helpers/memory-taught-labels.ts';
import { MemoryVectors } from '../helpers/memory-vectors.ts';

const BUCKET = 'photos';
const unit = (...v: number[]) => l2Normalize(Float32Array.from(v));
/** What the fake classifier sees in an image, by its first byte. */
const KINDS: Record<number, { label: string; category: string; embedding: Float32Array }> = {
  10: { label: 'beagle', category: 'dog', embedding: unit(1, 0.1, 0.05, 0) },
  11: { label: 'pug', category: 'dog', embedding: unit(1, 0.15, 0, 0.05) },
  12: { label: 'whippet', category: 'dog', embedding: unit(1, 0.05, 0.1, 0.02) },
  13: { label: 'boxer', category: 'dog', embedding: unit(1, 0.12, 0.04, 0.03) },
  14: { label: 'husky', category: 'dog', embedding: unit(1, 0.08, 0.06, 0.01) },
  // A cat that looks like the dogs to the embedding: the group keeps it out.
  20: { label: 'tabby', category: 'cat', embedding: unit(1, 0.1, 0.06, 0.01) },
  30: { label: 'minivan', category: 'car', embedding: unit(0, 0, 0.2, 1) },
};

/** `staleList`: the api's cached list of names never has any (a name taught on another container). */
function setup(staleList = false) {
  const classifier = fakeClassifier();
  classifier.folder.meta.embedding = { output: 'pooled', dimension: 4, pooling: 'fake' };
  classifier.classify = async (bytes: Uint8Array): Promise<Classification> => {
    const kind = KINDS[bytes[0] ?? 0];
    if (!kind) throw new Error('no such fake image');
    return {
      labels: [{ label: kind.label, index: bytes[0] ?? 0, score: 0.8 }],
      categories: [{ label: kind.category, id: kind.category, zh: '', score: 0.9 }],
      embedding: kind.embedding,
      timings: { decodeMs: 1, inferMs: 1, totalMs: 2 },
    };
  };
  const store = new MemoryStore();
  const index = new MemoryIndex();
  const vectors = new MemoryVectors(4);
  const labels = new MemoryTaughtLabels();
  const taught = cachedTaughtLabels(labels, 0);
  /** The names search read one by one (names.has). */
  const reads: string[] = [];
  const tagger: TaggerOptions = {
    store,
    classifier,
    prefix: 'uploads/',
    suffixes: IMAGE_SUFFIXES,
    minConfidence: 0.1,
    language: 'en',
    index,
    vectors,
    names: taught,
  };
  const upload = async (key: string, kind: number, tags: { Key: string; Value: string }[] = []) => {
    store.put(BUCKET, key, Uint8Array.of(kind, 1, 2, 3), tags);
    return tagObject(tagger, BUCKET, key);
  };
  const principal = (role: Role): Principal => ({ sub: role, username: `${role}-user`, groups: [], role });
  const api = createApi({
    classifier,
    images: {
      bucket: BUCKET,
      prefix: 'uploads/',
      suffixes: IMAGE_SUFFIXES,
      index,
      store,
      vectors,
      signer: {
        presignPost: async () => ({ url: '', fields: {}, expiresAt: new Date(0) }),
        presignGet: async (key: string) => `https://photos.example/${encodeURIComponent(key)}`,
        origin: async () => 'https://photos.example',
      },
      names: {
        list: async () => (staleList ? [] : (await taught(BUCKET)).map((l) => l.name)),
        has: async (name) => {
          reads.push(name);
          return (await labels.get(BUCKET, name)) !== undefined;
        },
      },
    },
    labels: {
      bucket: BUCKET,
      ports: async () => ({ index, store, labels, vectors }),
      language: 'en',
      changed: (b) => taught.forget(b),
    },
    access: {
      mode: 'user-pool',
      pool: { issuer: 'https://issuer.example/pool', clientIds: ['client'] },
      verifier: { verify: async (token) => principal(token as Role) },
    },
  });
  const call = async (
    method: string,
    path: string,
    opts: { as?: Role; body?: unknown; query?: string } = {},
  ) => {
    const res = await api({
      rawPath: path,
      rawQueryString: opts.query ?? '',
      queryStringParameters: Object.fromEntries(new URLSearchParams(opts.query ?? '')),
      requestContext: { http: { method } },
      headers: { authorization: `Bearer ${opts.as ?? 'editor'}`, 'content-type': 'application/json' },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      isBase64Encoded: false,
    } as unknown as APIGatewayProxyEventV2);
    return { status: res.statusCode, body: JSON.parse(res.body) };
  };
  return { store, index, labels, vectors, classifier, tagger, upload, call, reads };
}

const namesTag = (store: MemoryStore, key: string) =>
  store.tagsOf(BUCKET, key).find((t) => t.Key === TAG_NAMES)?.Value;

describe('taught names through the API', () => {
  it('teaches "my dogs" from three dogs: the other stored dog and a later one carry it, the cat and the car do not; search and GET /image show it; DELETE takes it away', async () => {
    const { store, index, labels, upload, call } = setup();
    for (const [key, kind] of [
      ['uploads/d1.jpg', 10],
      ['uploads/d2.jpg', 11],
      ['uploads/d3.jpg', 12],
      ['uploads/d4.jpg', 13],
      ['uploads/cat.jpg', 20],
      ['uploads/van.jpg', 30],
    ] as const)
      expect((await upload(key, kind)).result).toBe('tagged');
    const examples = ['uploads/d1.jpg', 'uploads/d2.jpg', 'uploads/d3.jpg'];
    const taught = await call('PUT', '/labels/my%20dogs', { body: { examples } });
    expect(taught.status).toBe(201);
    expect(taught.body).toMatchObject({
      name: 'my dogs',
      zh: null,
      model: 'fake@1',
      understoodAs: { group: { label: 'dog' }, kind: 'group+embedding' },
      examples,
      not: [],
      createdBy: 'editor-user',
      labelled: 4,
      complete: true,
    });
    expect(taught.body.understoodAs.threshold).toBeGreaterThan(0.35);
    for (const key of ['uploads/d1.jpg', 'uploads/d4.jpg'])
      expect(namesTag(store, key)).toMatch(/^my dogs=(0\.9\d\d|1\.000)$/);
    expect(namesTag(store, 'uploads/cat.jpg')).toBeUndefined();
    expect(namesTag(store, 'uploads/van.jpg')).toBeUndefined();
    // A dog uploaded afterwards: the tagger scores it against the name.
    await upload('uploads/d5.jpg', 14);
    expect(namesTag(store, 'uploads/d5.jpg')).toMatch(/^my dogs=/);
    await upload('uploads/cat2.jpg', 20);
    expect(namesTag(store, 'uploads/cat2.jpg')).toBeUndefined();

    const want = ['uploads/d1.jpg', 'uploads/d2.jpg', 'uploads/d3.jpg', 'uploads/d4.jpg', 'uploads/d5.jpg'];
    // (The fake dogs are near-copies of each other: copies=all lists each.)
    const byLabel = await call('GET', '/images', { query: 'label=My%20Dogs&copies=all', as: 'viewer' });
    expect(byLabel.status).toBe(200);
    expect(byLabel.body.items.map((i: { key: string }) => i.key).sort()).toEqual(want);
    expect(byLabel.body.resolved).toEqual({ term: nameTerm('my dogs'), kind: 'name' });
    expect(byLabel.body.items[0].names[0].label).toBe('my dogs');
    const byWords = await call('GET', '/images', { query: 'q=my+dogs+beagle&copies=all', as: 'viewer' });
    expect(byWords.body.items.map((i: { key: string }) => i.key)).toEqual(['uploads/d1.jpg']);
    const suggest = await call('GET', '/images', { query: 'suggest=my', as: 'viewer' });
    expect(suggest.body.suggestions[0]).toEqual({ word: 'my dogs', term: nameTerm('my dogs'), kind: 'name' });
    const image = await call('GET', '/image', { query: 'key=uploads%2Fd4.jpg', as: 'viewer' });
    expect(image.body.names).toEqual([{ label: 'my dogs', score: expect.any(Number) }]);

    const list = await call('GET', '/labels', { as: 'viewer' });
    expect(list.body.labels).toHaveLength(1);
    expect(list.body.labels[0]).not.toHaveProperty('examples');
    expect((await call('GET', '/labels/my%20dogs', { as: 'viewer' })).body.examples).toEqual(examples);

    const gone = await call('DELETE', '/labels/my%20dogs');
    expect(gone).toEqual({ status: 200, body: { name: 'my dogs', removed: 5, complete: true } });
    for (const key of want) expect(namesTag(store, key)).toBeUndefined();
    expect((await index.get(BUCKET, 'uploads/d4.jpg'))?.names).toBeUndefined();
    expect((await call('GET', '/images', { query: 'label=my%20dogs' })).body.items).toEqual([]);
    expect((await call('GET', '/labels/my%20dogs')).status).toBe(404);
    expect((await call('DELETE', '/labels/my%20dogs')).status).toBe(404);
    expect(await labels.list(BUCKET)).toEqual([]);
    // And a later dog no longer gets it.
    await upload('uploads/d6.jpg', 13);
    expect(namesTag(store, 'uploads/d6.jpg')).toBeUndefined();
  });

  it('keeps the user tags; a name that finds no room in the tags stays in the index and GET /image', async () => {
    const { store, upload, call } = setup();
    // Five of the user's (more than an upload may carry: added later): the five most important service tags fill the rest.
    const mine = Array.from({ length: 5 }, (_, i) => ({ Key: `album${i}`, Value: 'x' }));
    await upload('uploads/d1.jpg', 10);
    await upload('uploads/d2.jpg', 11);
    await upload('uploads/d3.jpg', 12, mine);
    const res = await call('PUT', '/labels/my%20dogs', {
      body: { examples: ['uploads/d1.jpg', 'uploads/d2.jpg', 'uploads/d3.jpg'] },
    });
    expect(res.body.labelled).toBe(3);
    const tags = store.tagsOf(BUCKET, 'uploads/d3.jpg');
    expect(tags.filter((t) => t.Key.startsWith('album'))).toEqual(mine);
    expect(tags).toHaveLength(10);
    expect(namesTag(store, 'uploads/d3.jpg')).toBeUndefined();
    const image = await call('GET', '/image', { query: 'key=uploads%2Fd3.jpg' });
    expect(image.body.names).toEqual([{ label: 'my dogs', score: expect.any(Number) }]);
  });

  it('an image carries at most MAX_NAMES_PER_IMAGE names: a name with no room is not counted as labelled, and deleting one of them gives its room back to the best name that was left out', async () => {
    const { store, index, upload, call } = setup();
    for (const [key, kind] of [
      ['uploads/d1.jpg', 10],
      ['uploads/d2.jpg', 11],
      ['uploads/d3.jpg', 12],
    ] as const)
      await upload(key, kind);
    const examples = ['uploads/d1.jpg', 'uploads/d2.jpg', 'uploads/d3.jpg'];
    // Six names of the same three dogs: they score alike, and the first five (by name) fill the room.
    for (const name of ['n1', 'n2', 'n3', 'n4', 'n5'])
      expect((await call('PUT', `/labels/${name}`, { body: { examples } })).body.labelled).toBe(3);
    const sixth = await call('PUT', '/labels/n6', { body: { examples } });
    expect(sixth.status).toBe(201);
    expect(sixth.body.labelled).toBe(0);
    const names = async (key: string) => (await index.get(BUCKET, key))?.names?.map((n) => n.label);
    expect(await names('uploads/d1.jpg')).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
    expect((await call('GET', '/images', { query: 'label=n6&copies=all' })).body.items).toEqual([]);
    // Deleting "n1" makes room: every image that carried it gets "n6", in the index, the tags and search.
    expect((await call('DELETE', '/labels/n1')).body).toMatchObject({ removed: 3 });
    for (const key of examples) {
      expect(await names(key)).toEqual(['n2', 'n3', 'n4', 'n5', 'n6']);
      expect(namesTag(store, key)).toMatch(/\/n6=/);
    }
    const found = await call('GET', '/images', { query: 'label=n6&copies=all' });
    expect(found.body.items.map((i: { key: string }) => i.key).sort()).toEqual(examples);
  });

  it('editors only for PUT and DELETE; 400, 404 and 409 as the spec says; a second PUT replaces (200)', async () => {
    const { upload, call } = setup();
    for (const [key, kind] of [
      ['uploads/d1.jpg', 10],
      ['uploads/d2.jpg', 11],
      ['uploads/d3.jpg', 12],
      ['uploads/van.jpg', 30],
    ] as const)
      await upload(key, kind);
    const examples = ['uploads/d1.jpg', 'uploads/d2.jpg', 'uploads/d3.jpg'];
    for (const as of ['viewer', 'member'] as const) {
      expect((await call('PUT', '/labels/my%20dogs', { as, body: { examples } })).status).toBe(403);
      expect((await call('DELETE', '/labels/my%20dogs', { as })).status).toBe(403);
    }
    const status = async (path: string, body: unknown) => {
      const res = await call('PUT', path, { body });
      return [res.status, res.body.error?.code];
    };
    expect(await status('/labels/my%20dogs', { examples: examples.slice(0, 2) })).toEqual([
      400,
      'InvalidArgument',
    ]);
    // A key listed twice counts once.
    expect(await status('/labels/my%20dogs', { examples: [...examples, 'uploads/d1.jpg'] })).toEqual([
      201,
      undefined,
    ]);
    expect(await status('/labels/my%20dogs', { examples })).toEqual([200, undefined]);
    expect(await status('/labels/x', { examples: [...examples.slice(0, 2), 'uploads/none.jpg'] })).toEqual([
      404,
      'NotFound',
    ]);
    expect(await status('/labels/x', { examples: 'uploads/d1.jpg' })).toEqual([400, 'InvalidArgument']);
    expect(
      await status('/labels/x', { examples: Array.from({ length: 101 }, (_, i) => `uploads/${i}.jpg`) }),
    ).toEqual([400, 'InvalidArgument']);
    expect(await status('/labels/%20%20', { examples })).toEqual([400, 'InvalidArgument']);
    expect(await status('/labels/%E0%A4%A', { examples })).toEqual([400, 'InvalidArgument']);
    // The model's own label, a colour, a plural of a label: vocabulary words, 409.
    expect(await status('/labels/B', { examples })).toEqual([409, 'NameTaken']);
    expect(await status('/labels/red', { examples })).toEqual([409, 'NameTaken']);
    expect(await status('/labels/%E7%BA%A2%E8%89%B2', { examples })).toEqual([409, 'NameTaken']);
    const cn = await call('PUT', '/labels/%E6%88%91%E7%9A%84%E7%8B%97', { body: { examples } });
    expect([cn.status, cn.body.name]).toEqual([201, '我的狗']);
    expect((await call('GET', '/labels/我的狗')).body.name).toBe('我的狗');
  });

  it('a model change: the backfill re-learns a name from its examples for the new model, and labels the stored images again', async () => {
    const { store, index, labels, vectors, classifier, tagger, upload, call } = setup();
    const keys = ['uploads/d1.jpg', 'uploads/d2.jpg', 'uploads/d3.jpg', 'uploads/d4.jpg', 'uploads/cat.jpg'];
    for (const [i, key] of keys.entries()) await upload(key, [10, 11, 12, 13, 20][i] as number);
    expect(
      (await call('PUT', '/labels/my%20dogs', { body: { examples: keys.slice(0, 3) } })).body.labelled,
    ).toBe(4);
    // The new model re-tags the bucket (the backfill's first pass): a name of the old model is not given.
    classifier.folder.meta.version = '2';
    for (const key of keys) expect((await tagObject(tagger, BUCKET, key)).result).toBe('tagged');
    expect(namesTag(store, 'uploads/d4.jpg')).toBeUndefined();
    const ports = {
      bucket: BUCKET,
      model: 'fake@2',
      index,
      vectors,
      labels,
      tagging: { store, classifier, language: 'en' as const },
      groupSize: () => 1,
      isVocabularyWord: () => false,
    };
    expect(await relearnNames(ports)).toEqual([
      { name: 'my dogs', result: 'relearned', labelled: 4, complete: true },
    ]);
    expect(await labels.get(BUCKET, 'my dogs')).toMatchObject({
      model: 'fake@2',
      examples: keys.slice(0, 3),
    });
    expect(namesTag(store, 'uploads/d4.jpg')).toMatch(/^my dogs=/);
    expect(namesTag(store, 'uploads/cat.jpg')).toBeUndefined();
    expect(await relearnNames(ports)).toEqual([{ name: 'my dogs', result: 'current' }]);
    // Examples deleted meanwhile: fewer than three left, the name stays as it was and says why.
    const taught = await labels.get(BUCKET, 'my dogs');
    if (!taught) throw new Error('the name is gone');
    const few = ['uploads/d1.jpg', 'uploads/gone.jpg', 'uploads/x.jpg'];
    await labels.put(BUCKET, { ...taught, model: 'fake@1', examples: few });
    expect(await relearnNames(ports)).toMatchObject([{ name: 'my dogs', result: 'failed' }]);
  });

  it('label= finds a name its container has not listed yet (taught on another one): it reads that name', async () => {
    const { upload, call } = setup(true);
    const keys = ['uploads/d1.jpg', 'uploads/d2.jpg', 'uploads/d3.jpg'];
    for (const [i, key] of keys.entries()) await upload(key, 10 + i);
    expect((await call('PUT', '/labels/my%20dogs', { body: { examples: keys } })).status).toBe(201);
    const found = await call('GET', '/images', { query: 'label=my%20dogs&copies=all' });
    expect(found.body.resolved).toEqual({ term: nameTerm('my dogs'), kind: 'name' });
    expect(found.body.items).toHaveLength(3);
    expect((await call('GET', '/images', { query: 'label=my%20cats' })).body.items).toEqual([]);
  });

  it('q= finds such a name too, alone or among other words, Chinese included; few reads, only when a word is not known', async () => {
    const { upload, call, reads } = setup(true);
    const keys = ['uploads/d1.jpg', 'uploads/d2.jpg', 'uploads/d3.jpg'];
    for (const [i, key] of keys.entries()) await upload(key, 10 + i);
    expect((await call('PUT', '/labels/my%20dogs', { body: { examples: keys } })).status).toBe(201);
    expect(
      (await call('PUT', `/labels/${encodeURIComponent('我的狗')}`, { body: { examples: keys } })).status,
    ).toBe(201);
    const alone = await call('GET', '/images', { query: 'q=my+dogs&copies=all' });
    expect(alone.body.resolved).toEqual({ term: nameTerm('my dogs'), kind: 'name' });
    expect(alone.body.items).toHaveLength(3);
    const withWord = await call('GET', '/images', { query: 'q=beagle+my+dogs&copies=all' });
    expect(withWord.body.items.map((i: { key: string }) => i.key)).toEqual(['uploads/d1.jpg']);
    const zh = await call('GET', '/images', { query: `q=${encodeURIComponent('我的狗')}&copies=all` });
    expect(zh.body.items).toHaveLength(3);
    // Words the vocabulary knows (the fake model's labels are a and b) read nothing; words nobody
    // taught read a few runs, never more than MAX_NAME_READS.
    reads.length = 0;
    expect((await call('GET', '/images', { query: 'q=a+b' })).status).toBe(200);
    expect(reads).toEqual([]);
    const unknown = await call('GET', '/images', { query: 'q=one+two+three+four+five+six' });
    expect(unknown.body.items).toEqual([]);
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.length).toBe(MAX_NAME_READS);
  });

  it('decodes the path name exactly once, whether it arrives encoded (serverless-offline) or decoded (API Gateway)', () => {
    expect(nameFromPath('/labels/my%20dogs')).toBe('my dogs');
    expect(nameFromPath('/labels/my dogs')).toBe('my dogs');
    expect(nameFromPath('/labels/%E6%88%91%E7%9A%84%E7%8B%97')).toBe('我的狗');
    expect(nameFromPath('/labels/我的狗')).toBe('我的狗');
    expect(nameFromPath('/labels/100%25')).toBe('100%');
    expect(nameFromPath('/labels/100%')).toBe('100%');
  });
});
