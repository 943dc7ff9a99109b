/**
 * GET /duplicates and search's collapsed copies (src/http/images.ts, src/tagging/duplicates.ts) with
 * fakes at every port: the real tagger writes the in-memory label and vector indexes (the fake
 * classifier's embedding is a function of the first byte: images starting with 2 are one photo,
 * with 10 another; their labels are label-<first byte>, label-<+1>, label-<+2>).
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createApi } from '../../src/http/api.ts';
import { taggerSettings } from '../../src/settings.ts';
import { createS3Tagger } from '../../src/tagging/notifications.ts';
import { encodeS3Key } from '../../src/tagging/tags.ts';
import { fakeClassifier, MemoryStore } from '../helpers/fakes.ts';
import { MemoryIndex } from '../helpers/memory-index.ts';
import { EMBEDDING_DIMENSION, MemoryVectors, withEmbedding } from '../helpers/memory-vectors.ts';

const BUCKET = 'photos';
let seq = 0x100;
const nextSeq = () => (++seq).toString(16).toUpperCase().padStart(16, '0');
const later = () => new Promise((r) => setTimeout(r, 3));

const event = (path: string, query: Record<string, string> = {}) =>
  ({
    rawPath: path,
    requestContext: { http: { method: 'GET' } },
    headers: {},
    queryStringParameters: query,
    rawQueryString: new URLSearchParams(query).toString(),
  }) as unknown as APIGatewayProxyEventV2;

async function setup() {
  const settings = taggerSettings({});
  const store = new MemoryStore();
  const index = new MemoryIndex();
  const vectors = new MemoryVectors(EMBEDDING_DIMENSION);
  const classifier = withEmbedding(fakeClassifier());
  const tagger = createS3Tagger({ store, classifier, index, vectors, ...settings });
  const record = (eventName: string, key: string, etag?: string) => ({
    Records: [
      {
        eventName,
        s3: {
          bucket: { name: BUCKET },
          object: { key: encodeS3Key(key), size: 3, ...(etag ? { eTag: etag } : {}), sequencer: nextSeq() },
        },
      },
    ],
  });
  const upload = async (key: string, bytes: number[]) => {
    const etag = store.put(BUCKET, key, Uint8Array.from(bytes)).replace(/"/g, '');
    await tagger(record('ObjectCreated:Put', key, etag) as never);
    await later();
  };
  const remove = async (key: string) => {
    store.delete(BUCKET, key);
    await tagger(record('ObjectRemoved:Delete', key) as never);
  };
  const signer = {
    presignPost: async () => ({ url: '', fields: {}, expiresAt: new Date(0) }),
    presignGet: async (key: string) => `https://photos.example/${encodeURIComponent(key)}`,
    origin: async () => 'https://photos.example',
  };
  const api = createApi({
    classifier,
    images: {
      bucket: BUCKET,
      prefix: settings.prefix,
      suffixes: settings.suffixes,
      index,
      store,
      signer,
      vectors,
    },
  });
  const call = async (path: string, query: Record<string, string> = {}) => {
    const res = await api(event(path, query));
    return { status: res.statusCode, body: JSON.parse(res.body) };
  };
  /** Every page of a GET, following cursors; the items (or groups) of all pages. */
  const all = async (path: string, query: Record<string, string>, field: 'items' | 'groups') => {
    const out: Record<string, unknown>[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 50; page++) {
      const res = await call(path, { ...query, ...(cursor ? { cursor } : {}) });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      out.push(...res.body[field]);
      cursor = res.body.cursor;
      if (!cursor) return out;
    }
    throw new Error('more than 50 pages');
  };
  return { call, all, upload, remove };
}

/** Photo 2 (an original, a byte-identical copy, an edited copy), photo 10 (two), and a corrupt image. */
async function library() {
  const t = await setup();
  await t.upload('uploads/p.jpg', [2, 9, 9]);
  await t.upload('uploads/p-same.jpg', [2, 9, 9]);
  await t.upload('uploads/p-small.jpg', [2, 7]);
  await t.upload('uploads/q.jpg', [10, 1]);
  await t.upload('uploads/q-crop.jpg', [10, 2]);
  await t.upload('uploads/broken.jpg', [0, 7]);
  return t;
}

describe('GET /duplicates', () => {
  it('lists the groups newest first, every member oldest first with its tier and similarity to the first', async () => {
    const t = await library();
    const res = await t.call('/duplicates');
    expect(res.status).toBe(200);
    expect(res.body.cursor).toBeUndefined();
    expect(res.body.groups).toEqual([
      {
        id: expect.stringMatching(/^\d{13}-[0-9a-f]{16}$/),
        items: [
          { key: 'uploads/q.jpg', tier: 'exact', similarity: 1, url: expect.any(String), top: 'label-10' },
          {
            key: 'uploads/q-crop.jpg',
            tier: 'near',
            similarity: 1,
            url: expect.any(String),
            top: 'label-10',
          },
        ],
        size: 2,
      },
      {
        id: expect.stringMatching(/^\d{13}-[0-9a-f]{16}$/),
        items: [
          { key: 'uploads/p.jpg', tier: 'exact', similarity: 1, url: expect.any(String), top: 'label-2' },
          {
            key: 'uploads/p-same.jpg',
            tier: 'exact',
            similarity: 1,
            url: expect.any(String),
            top: 'label-2',
          },
          {
            key: 'uploads/p-small.jpg',
            tier: 'near',
            similarity: 1,
            url: expect.any(String),
            top: 'label-2',
          },
        ],
        size: 3,
      },
    ]);
    expect(res.body.groups[0].items[0].url).toBe('https://photos.example/uploads%2Fq.jpg');
  });

  it('pages with cursors; refuses a foreign cursor (400 InvalidCursor) and a limit outside 1..50', async () => {
    const t = await library();
    const groups = await t.all('/duplicates', { limit: '1' }, 'groups');
    expect(groups.map((g) => (g.items as { key: string }[])[0]?.key)).toEqual([
      'uploads/q.jpg',
      'uploads/p.jpg',
    ]);
    const search = await t.call('/images', { label: 'label-2', limit: '1' });
    for (const cursor of [
      'nope',
      `${(await t.call('/duplicates', { limit: '1' })).body.cursor}x`,
      search.body.cursor ?? 'x',
    ])
      expect((await t.call('/duplicates', { cursor })).body.error.code).toBe('InvalidCursor');
    for (const limit of ['0', '51', '1.5', 'x'])
      expect((await t.call('/duplicates', { limit })).status).toBe(400);
  });

  it('follows deletes: a deleted member is gone, a group brought down to one is no group', async () => {
    const t = await library();
    await t.remove('uploads/q.jpg');
    await t.remove('uploads/p.jpg');
    const res = await t.call('/duplicates');
    expect(res.body.groups.map((g: { items: { key: string }[] }) => g.items.map((i) => i.key))).toEqual([
      ['uploads/p-same.jpg', 'uploads/p-small.jpg'],
    ]);
  });
});

describe('search collapses copies', () => {
  it('label=: one item per photo, with copies and copyKeys; copies=all lists every image', async () => {
    const t = await library();
    const res = await t.call('/images', { label: 'label-2' });
    expect(
      res.body.items.map((i: { key: string; copies?: number; copyKeys?: string[] }) => [
        i.key,
        i.copies,
        i.copyKeys,
      ]),
    ).toEqual([['uploads/p.jpg', 2, ['uploads/p-same.jpg', 'uploads/p-small.jpg']]]);
    const every = await t.call('/images', { label: 'label-2', copies: 'all' });
    expect(every.body.items.map((i: { key: string }) => i.key).sort()).toEqual([
      'uploads/p-same.jpg',
      'uploads/p-small.jpg',
      'uploads/p.jpg',
    ]);
    expect(every.body.items.some((i: object) => 'copies' in i)).toBe(false);
    expect((await t.call('/images', { label: 'label-2', copies: 'some' })).status).toBe(400);
  });

  it('paging stays exact: each photo once across pages of any size, copies never listed apart', async () => {
    const t = await library();
    for (const label of ['label-2', 'label-4', 'label-11', 'label-12'])
      for (const limit of ['1', '2', '3', '24']) {
        const items = await t.all('/images', { label, limit }, 'items');
        const every = await t.all('/images', { label, limit, copies: 'all' }, 'items');
        const listed = items.map((i) => i.key as string);
        const counted = items.flatMap((i) => [i.key as string, ...((i.copyKeys as string[]) ?? [])]);
        expect(new Set(listed).size, `${label} ${limit}`).toBe(listed.length);
        expect(counted.sort(), `${label} ${limit}`).toEqual(every.map((i) => i.key as string).sort());
      }
  });

  it('q= (several words) collapses the same way, on every page', async () => {
    const t = await library();
    const items = await t.all('/images', { q: 'label-2 label-3', limit: '1' }, 'items');
    expect(items.map((i) => [i.key, i.copies])).toEqual([['uploads/p.jpg', 2]]);
    const every = await t.all('/images', { q: 'label-2 label-3', limit: '1', copies: 'all' }, 'items');
    expect(every).toHaveLength(3);
  });

  it('the copy listed is the oldest the search finds: after the original is deleted, the next one', async () => {
    const t = await library();
    await t.remove('uploads/p.jpg');
    const res = await t.call('/images', { label: 'label-2' });
    expect(res.body.items.map((i: { key: string; copies?: number }) => [i.key, i.copies])).toEqual([
      ['uploads/p-same.jpg', 1],
    ]);
  });
});
