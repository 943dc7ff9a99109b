/**
 * GET /image/similar, GET /image/duplicates and POST /similar (src/http/images.ts, src/http/api.ts)
 * with fakes at every port: the in-memory vector index (test/helpers/memory-vectors.ts), the fake
 * classifier with its fake embedding, a label index that holds nothing and a recording signer.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { IMAGE_SUFFIXES } from '../../src/classifier/image-formats.ts';
import { createApi } from '../../src/http/api.ts';
import type { LabelIndex } from '../../src/tagging/label-index.ts';
import { NEAR_DUPLICATE_SIMILARITY } from '../../src/tagging/similarity.ts';
import { l2Normalize, type VectorMetadata } from '../../src/tagging/vector-index.ts';
import { fakeClassifier, MemoryStore } from '../helpers/fakes.ts';
import {
  EMBEDDING_DIMENSION,
  fakeEmbedding,
  MemoryVectors,
  withEmbedding,
} from '../helpers/memory-vectors.ts';

const PREFIX = 'uploads/';

const event = (method: string, path: string, query: Record<string, string> = {}, body?: Uint8Array) =>
  ({
    rawPath: path,
    requestContext: { http: { method } },
    headers: body ? { 'content-type': 'image/jpeg' } : {},
    queryStringParameters: query,
    rawQueryString: new URLSearchParams(query).toString(),
    body: body ? Buffer.from(body).toString('base64') : undefined,
    isBase64Encoded: body !== undefined,
  }) as unknown as APIGatewayProxyEventV2;

const metadata = (labels: string[], categories: string[], sha256: string): VectorMetadata => ({
  etag: sha256.slice(0, 8),
  model: 'fake@1',
  labels,
  categories,
  sha256,
});

/** A unit vector at `angle` from e0 in the plane of e0 and `axis`: cosine to e0 = cos(angle). */
const at = (cosine: number, axis = 1) => {
  const v = new Float32Array(EMBEDDING_DIMENSION);
  v[0] = cosine;
  v[axis] = Math.sqrt(1 - cosine * cosine);
  return l2Normalize(v);
};

/** `groups`: the label index's groups of copies (key -> group id); none by default. */
async function setup(withVectors = true, groups: Record<string, string> = {}) {
  const vectors = new MemoryVectors(EMBEDDING_DIMENSION);
  const e0 = at(1);
  await vectors.put([
    {
      key: 'uploads/dog.jpg',
      vector: e0,
      metadata: metadata(['golden retriever'], ['dog', 'animal'], 'a'.repeat(64)),
    },
    {
      key: 'uploads/dog-copy.jpg',
      vector: e0,
      metadata: metadata(['golden retriever'], ['dog', 'animal'], 'a'.repeat(64)),
    },
    {
      key: 'uploads/dog-small.jpg',
      vector: at(0.93),
      metadata: metadata(['golden retriever'], ['dog', 'animal'], 'b'.repeat(64)),
    },
    {
      key: 'uploads/terrier.jpg',
      vector: at(0.7, 2),
      metadata: metadata(['yorkshire terrier'], ['dog', 'animal'], 'c'.repeat(64)),
    },
    {
      key: 'uploads/panda.jpg',
      vector: at(0.75, 3),
      metadata: metadata(['red panda'], ['animal'], 'd'.repeat(64)),
    },
    {
      key: 'uploads/car.jpg',
      vector: at(0.1, 2),
      metadata: metadata(['limousine'], ['car', 'vehicle'], 'e'.repeat(64)),
    },
  ]);
  const index: Pick<LabelIndex, 'search' | 'get' | 'copyGroupsOf' | 'copyGroup'> = {
    search: async () => ({ items: [] }),
    get: async () => undefined,
    copyGroupsOf: async (_bucket, keys) =>
      new Map(keys.flatMap((k) => (groups[k] ? [[k, groups[k]] as const] : []))),
    copyGroup: async (_bucket, id) =>
      Object.entries(groups)
        .filter(([, g]) => g === id)
        .map(([key]) => ({ key, etag: 'e', since: 0 })),
  };
  const signer = {
    presignPost: async () => ({ url: '', fields: {}, expiresAt: new Date(0) }),
    presignGet: async (key: string) => `https://photos.example/${encodeURIComponent(key)}`,
    origin: async () => 'https://photos.example',
  };
  const api = createApi({
    classifier: withEmbedding(fakeClassifier()),
    images: {
      bucket: 'photos',
      prefix: PREFIX,
      suffixes: IMAGE_SUFFIXES,
      index,
      store: new MemoryStore(),
      signer,
      ...(withVectors ? { vectors } : {}),
    },
  });
  const call = async (e: APIGatewayProxyEventV2) => {
    const res = await api(e);
    return { status: res.statusCode, body: JSON.parse(res.body) };
  };
  return { call, vectors };
}

describe('GET /image/similar', () => {
  it('answers the nearest stored images, best first, itself and its copies excluded, with labels and a URL', async () => {
    const { call } = await setup();
    const res = await call(event('GET', '/image/similar', { key: 'uploads/dog.jpg', limit: '2' }));
    expect(res.status).toBe(200);
    expect(res.body.key).toBe('uploads/dog.jpg');
    // The same bytes (dog-copy) and the same photo edited (dog-small, 0.93) are copies, not similar photos.
    expect(res.body.items.map((i: { key: string }) => i.key)).toEqual([
      'uploads/panda.jpg',
      'uploads/terrier.jpg',
    ]);
    expect(res.body.copies).toBe(2);
    expect(res.body.items[1]).toEqual({
      key: 'uploads/terrier.jpg',
      similarity: 0.7,
      top: 'yorkshire terrier',
      labels: [{ label: 'yorkshire terrier' }],
      categories: [{ label: 'dog' }, { label: 'animal' }],
      url: 'https://photos.example/uploads%2Fterrier.jpg',
    });
    // An image without copies: nothing left out.
    const car = await call(event('GET', '/image/similar', { key: 'uploads/car.jpg', limit: '1' }));
    expect(car.body.copies).toBe(0);
    expect(car.body.items).toHaveLength(1);
  });

  it('shows one photo once: a neighbour that is a copy of a more similar neighbour (one group of copies) is folded into it', async () => {
    const { call, vectors } = await setup(true, {
      'uploads/terrier.jpg': 'g1',
      'uploads/terrier-small.jpg': 'g1',
    });
    await vectors.put([
      {
        key: 'uploads/terrier-small.jpg',
        vector: at(0.69, 2),
        metadata: metadata(['yorkshire terrier'], ['dog', 'animal'], 'f'.repeat(64)),
      },
    ]);
    const res = await call(event('GET', '/image/similar', { key: 'uploads/dog.jpg', limit: '3' }));
    expect(res.body.items.map((i: { key: string }) => i.key)).toEqual([
      'uploads/panda.jpg',
      'uploads/terrier.jpg',
      'uploads/car.jpg',
    ]);
    expect(res.body.items[1]).toMatchObject({ copies: 1, copyKeys: ['uploads/terrier-small.jpg'] });
    expect(res.body.items[0]).not.toHaveProperty('copies');
    // copies=all lists every image.
    const all = await call(event('GET', '/image/similar', { key: 'uploads/dog.jpg', copies: 'all' }));
    expect(all.body.items.map((i: { key: string }) => i.key)).toContain('uploads/terrier-small.jpg');
  });

  it('copies=all keeps the copies in, each with its tier', async () => {
    const { call } = await setup();
    const res = await call(
      event('GET', '/image/similar', { key: 'uploads/dog.jpg', limit: '3', copies: 'all' }),
    );
    expect(res.body.items.map((i: { key: string; tier?: string }) => [i.key, i.tier])).toEqual([
      ['uploads/dog-copy.jpg', 'exact'],
      ['uploads/dog-small.jpg', 'near'],
      ['uploads/panda.jpg', undefined],
    ]);
    expect(res.body.copies).toBeUndefined();
    const bad = await call(event('GET', '/image/similar', { key: 'uploads/dog.jpg', copies: 'some' }));
    expect([bad.status, bad.body.error.message]).toEqual([400, expect.stringMatching(/copies is "exclude"/)]);
  });

  it('label= keeps the neighbours that show the word ("similar photos that are dogs")', async () => {
    const { call } = await setup();
    const res = await call(event('GET', '/image/similar', { key: 'uploads/dog.jpg', label: 'Dog' }));
    expect(res.body.items.map((i: { key: string }) => i.key)).toEqual(['uploads/terrier.jpg']);
    expect(res.body.copies).toBe(2);
    const all = await call(
      event('GET', '/image/similar', { key: 'uploads/dog.jpg', label: 'Dog', copies: 'all' }),
    );
    expect(all.body.items.map((i: { key: string }) => i.key)).toEqual([
      'uploads/dog-copy.jpg',
      'uploads/dog-small.jpg',
      'uploads/terrier.jpg',
    ]);
    const cars = await call(event('GET', '/image/similar', { key: 'uploads/dog.jpg', label: 'limousine' }));
    expect(cars.body.items.map((i: { key: string }) => i.key)).toEqual(['uploads/car.jpg']);
  });

  it.each([
    [{ key: 'uploads/dog.jpg', limit: '0' }, 400, /limit must be an integer from 1 to 50/],
    [{ key: 'uploads/dog.jpg', limit: '51' }, 400, /limit must be an integer from 1 to 50/],
    [{ key: 'uploads/dog.jpg', label: '   ' }, 400, /label is empty/],
    [{ key: 'other/dog.jpg' }, 400, /only keys under "uploads\/"/],
    [{}, 400, /key is required/],
    [{ key: 'uploads/missing.jpg' }, 404, /no embedding of uploads\/missing\.jpg/],
  ])('%j answers %i', async (query, status, message) => {
    const { call } = await setup();
    const res = await call(event('GET', '/image/similar', query));
    expect(res.status).toBe(status);
    expect(res.body.error.message).toMatch(message);
  });

  it('answers 405 to other methods and 404 without a vector index', async () => {
    const { call } = await setup();
    expect((await call(event('POST', '/image/similar', { key: 'uploads/dog.jpg' }))).status).toBe(405);
    const off = await setup(false);
    expect((await off.call(event('GET', '/image/similar', { key: 'uploads/dog.jpg' }))).status).toBe(404);
    expect((await off.call(event('GET', '/image/duplicates', { key: 'uploads/dog.jpg' }))).status).toBe(404);
  });
});

describe('GET /image/duplicates', () => {
  it('lists the same bytes as exact, the same photo edited as near, and nothing under the threshold', async () => {
    const { call } = await setup();
    const res = await call(event('GET', '/image/duplicates', { key: 'uploads/dog.jpg' }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      key: 'uploads/dog.jpg',
      items: [
        { key: 'uploads/dog-copy.jpg', tier: 'exact', similarity: 1, url: expect.any(String) },
        { key: 'uploads/dog-small.jpg', tier: 'near', similarity: 0.93, url: expect.any(String) },
      ],
    });
    // The panda (0.75) and the terrier (0.7) are similar, not copies.
    expect(NEAR_DUPLICATE_SIMILARITY).toBeGreaterThan(0.75);
    const none = await call(event('GET', '/image/duplicates', { key: 'uploads/car.jpg' }));
    expect(none.body.items).toEqual([]);
  });
});

describe('POST /similar', () => {
  it('classifies the image and answers its nearest stored images, storing nothing', async () => {
    const { call, vectors } = await setup();
    const before = vectors.vectors.size;
    const image = Uint8Array.of(9, 1, 2);
    const res = await call(event('POST', '/similar', { limit: '2' }, image));
    expect(res.status).toBe(200);
    expect(res.body.labels[0].label).toBe('label-9');
    expect(res.body.similar).toHaveLength(2);
    const expected = (await vectors.query(fakeEmbedding(image), { topK: 2 })).map((m) => m.key);
    expect(res.body.similar.map((i: { key: string }) => i.key)).toEqual(expected);
    expect(vectors.vectors.size).toBe(before);
  });

  it('answers the same 4xx as POST /classify for bad images and bad parameters', async () => {
    const { call } = await setup();
    const corrupt = await call(event('POST', '/similar', {}, Uint8Array.of(0, 1)));
    expect(corrupt.status).toBe(400);
    expect(corrupt.body.error.code).toBe('CorruptImage');
    const unsupported = await call(event('POST', '/similar', {}, Uint8Array.of(1, 1)));
    expect(unsupported.status).toBe(415);
    const empty = await call(event('POST', '/similar', {}, new Uint8Array()));
    expect(empty.status).toBe(400);
    const limit = await call(event('POST', '/similar', { limit: '100' }, Uint8Array.of(9)));
    expect(limit.status).toBe(400);
    expect((await call(event('GET', '/similar'))).status).toBe(405);
  });
});
