/**
 * The image routes of the HTTP API (GET /images, GET /image?key=, POST /uploads) with fakes at
 * every port: a small inline label index, the in-memory object store and a recording signer.
 */

import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/classifier/errors.ts';
import { IMAGE_SUFFIXES } from '../../src/classifier/image-formats.ts';
import type { ModelMeta } from '../../src/classifier/model-folder.ts';
import { awsImagePorts } from '../../src/handlers/image-ports.ts';
import { lazyImages } from '../../src/handlers/lazy-ports.ts';
import { contentSecurityPolicy, createApi } from '../../src/http/api.ts';
import { type ImageRoutesConfig, MAX_USER_TAGS, sanitizeFilename } from '../../src/http/images.ts';
import { PAGE_HTML } from '../../src/http/page.ts';
import { imageSettings, readSettings } from '../../src/settings.ts';
import {
  InvalidCursorError,
  type LabelIndex,
  normalizeLabel,
  type SearchItem,
} from '../../src/tagging/label-index.ts';
import type { PostOptions, UploadSigner } from '../../src/tagging/upload-signer.ts';
import { fakeClassifier, MemoryStore } from '../helpers/fakes.ts';
import { fuzz, runs } from '../helpers/fuzz.ts';
import { MemoryIndex } from '../helpers/memory-index.ts';

const BUCKET = 'photos';
const PREFIX = 'uploads/';
const S3_ORIGIN = 'https://photos.s3.eu-west-1.amazonaws.com';

/** Search over a fixed list: cursor = "at:<offset>", anything else is refused. */
function fakeIndex(items: Record<string, SearchItem[]>) {
  const searches: { bucket: string; label: string; limit: number; cursor?: string }[] = [];
  const spellings: (readonly string[] | undefined)[] = [];
  const index: Pick<LabelIndex, 'search' | 'get'> = {
    async search(bucket, label, request) {
      const { limit, cursor } = request;
      searches.push({ bucket, label, limit, cursor });
      spellings.push(request.spellings);
      let start = 0;
      if (cursor !== undefined) {
        const m = /^at:(\d+)$/.exec(cursor);
        if (!m) throw new InvalidCursorError();
        start = Number(m[1]);
      }
      const all = bucket === BUCKET ? (items[normalizeLabel(label)] ?? []) : [];
      const page = all.slice(start, start + limit);
      const next = start + limit < all.length ? `at:${start + limit}` : undefined;
      return next === undefined ? { items: page } : { items: page, cursor: next };
    },
    async get() {
      return undefined;
    },
  };
  return { index, searches, spellings };
}

function fakeSigner(origin = S3_ORIGIN) {
  const posts: { key: string; options: PostOptions }[] = [];
  const gets: { key: string; expiresSeconds: number; type?: string }[] = [];
  const signer: UploadSigner = {
    async presignPost(key, options) {
      posts.push({ key, options });
      return {
        url: `${origin}/`,
        fields: { key, 'Content-Type': options.contentType ?? '', Policy: 'e30=' },
        expiresAt: new Date(Date.UTC(2030, 0, 1) + options.expiresSeconds * 1000),
      };
    },
    async presignGet(key, expiresSeconds, type) {
      gets.push({ key, expiresSeconds, type });
      return `${origin}/${encodeURIComponent(key)}?X-Amz-Expires=${expiresSeconds}`;
    },
    async origin() {
      return origin;
    },
  };
  return { signer, posts, gets };
}

const event = (
  method: string,
  path: string,
  options: { query?: Record<string, string>; body?: string } = {},
) =>
  ({
    rawPath: path,
    requestContext: { http: { method } },
    headers: options.body === undefined ? {} : { 'content-type': 'application/json' },
    queryStringParameters: options.query,
    rawQueryString: new URLSearchParams(options.query).toString(),
    body: options.body === undefined ? undefined : Buffer.from(options.body).toString('base64'),
    isBase64Encoded: options.body !== undefined,
  }) as unknown as APIGatewayProxyEventV2;

/** GET /image?key=<key>, the key encoded as the page encodes it. */
const image = (key: string, method = 'GET') => event(method, '/image', { query: { key } });

const item = (key: string, score: number): SearchItem => ({
  key,
  score,
  top: 'Golden Retriever',
  labels: [
    { label: 'Golden Retriever', score },
    { label: 'Labrador Retriever', score: 0.1 },
  ],
});

function setup(overrides: Partial<ImageRoutesConfig> = {}) {
  const retrievers = Array.from({ length: 30 }, (_, i) => item(`uploads/r${i}.jpg`, 0.9 - i * 0.01));
  const { index, searches } = fakeIndex({ 'golden retriever': retrievers });
  const { signer, posts, gets } = fakeSigner();
  const store = new MemoryStore();
  const classifier = fakeClassifier();
  const api = createApi({
    classifier,
    images: { bucket: BUCKET, prefix: PREFIX, suffixes: IMAGE_SUFFIXES, index, store, signer, ...overrides },
  });
  const call = async (e: APIGatewayProxyEventV2) => {
    const res = await api(e);
    return { status: res.statusCode, body: JSON.parse(res.body), headers: res.headers ?? {} };
  };
  return { api, call, store, searches, posts, gets, classifier };
}

describe('GET /images (search)', () => {
  it('answers the best matches with presigned thumbnail URLs and a cursor that pages through the rest', async () => {
    const { call, searches, gets } = setup();
    const first = await call(
      event('GET', '/images', { query: { label: 'Golden  RETRIEVER ', limit: '20' } }),
    );
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(20);
    expect(first.body.items[0]).toEqual({
      ...item('uploads/r0.jpg', 0.9),
      url: `${S3_ORIGIN}/uploads%2Fr0.jpg?X-Amz-Expires=900`,
    });
    // The label reaches the index normalized; every item got its own short-lived GET URL.
    expect(searches[0]).toEqual({ bucket: BUCKET, label: 'golden retriever', limit: 20, cursor: undefined });
    expect(gets.map((g) => g.key)).toEqual(first.body.items.map((i: SearchItem) => i.key));
    expect(new Set(gets.map((g) => g.expiresSeconds))).toEqual(new Set([900]));
    expect(first.body.cursor).toBe('at:20');

    const second = await call(
      event('GET', '/images', {
        query: { label: 'golden retriever', limit: '20', cursor: first.body.cursor },
      }),
    );
    expect(second.status).toBe(200);
    expect(second.body.items.map((i: SearchItem) => i.key)).toEqual(
      Array.from({ length: 10 }, (_, i) => `uploads/r${20 + i}.jpg`),
    );
    expect(second.body).not.toHaveProperty('cursor');
  });

  it('defaults to 24 items, takes 1 to 100, and answers an empty list for an unknown label', async () => {
    const { call, searches } = setup();
    expect(
      (await call(event('GET', '/images', { query: { label: 'golden retriever' } }))).body.items,
    ).toHaveLength(24);
    expect(searches.at(-1)?.limit).toBe(24);
    for (const limit of ['1', '100', '024']) {
      const res = await call(event('GET', '/images', { query: { label: 'golden retriever', limit } }));
      expect(res.status).toBe(200);
      expect(searches.at(-1)?.limit).toBe(Number(limit));
    }
    const none = await call(event('GET', '/images', { query: { label: 'okapi' } }));
    expect(none).toMatchObject({ status: 200, body: { items: [] } });
    expect(none.body).not.toHaveProperty('cursor');
  });

  it('answers 400 InvalidArgument for every bad parameter, without asking the index', async () => {
    const { call, searches } = setup();
    const bad: Record<string, string>[] = [
      {},
      { label: '' },
      { label: '   ' },
      { label: 'x'.repeat(201) },
      { label: 'dog', limit: '0' },
      { label: 'dog', limit: '101' },
      { label: 'dog', limit: '-1' },
      { label: 'dog', limit: '1.5' },
      { label: 'dog', limit: '1e1' },
      { label: 'dog', limit: ' 5' },
      { label: 'dog', limit: 'ten' },
      { label: 'dog', cursor: 'c'.repeat(2049) },
    ];
    for (const query of bad) {
      const res = await call(event('GET', '/images', { query }));
      expect([res.status, res.body.error?.code], JSON.stringify(query).slice(0, 80)).toEqual([
        400,
        'InvalidArgument',
      ]);
      expect(typeof res.body.error.message).toBe('string');
    }
    expect(searches).toEqual([]);
    // 200 characters is still a label.
    expect((await call(event('GET', '/images', { query: { label: 'x'.repeat(200) } }))).status).toBe(200);
  });

  it("searches the tag form and the model's own label alike, reading the partitions indexed before too", async () => {
    const { index, searches, spellings } = fakeIndex({});
    const classifier = fakeClassifier();
    classifier.folder.labels = ["jack-o'-lantern", 'crane (bird)', 'crane', 'Golden Retriever'];
    const api = createApi({
      classifier,
      images: {
        bucket: BUCKET,
        prefix: PREFIX,
        suffixes: IMAGE_SUFFIXES,
        index,
        store: new MemoryStore(),
        signer: fakeSigner().signer,
      },
    });
    for (const label of ['jack-o-lantern', "Jack-o'-lantern", 'crane bird', 'golden retriever'])
      expect((await api(event('GET', '/images', { query: { label } }))).statusCode).toBe(200);
    expect(searches.map((s) => s.label)).toEqual([
      'jack-o-lantern',
      'jack-o-lantern',
      'crane bird',
      'golden retriever',
    ]);
    expect(spellings).toEqual([
      ['jack-o-lantern', "jack-o'-lantern"],
      ["Jack-o'-lantern", "jack-o'-lantern"],
      ['crane bird', 'crane (bird)'],
      ['golden retriever'],
    ]);
  });

  it('answers 400 for a cursor the index refuses', async () => {
    const { call, searches } = setup();
    const res = await call(
      event('GET', '/images', { query: { label: 'golden retriever', cursor: 'forged' } }),
    );
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'InvalidArgument' } } });
    expect(searches).toHaveLength(1);
  });

  it('answers 500 when the index fails for another reason', async () => {
    const { call } = setup({
      index: {
        search: async () => {
          throw new Error('ProvisionedThroughputExceededException');
        },
        get: async () => undefined,
      },
    });
    const res = await call(event('GET', '/images', { query: { label: 'dog' } }));
    expect(res).toMatchObject({ status: 500, body: { error: { code: 'InternalError' } } });
  });
});

describe('GET /image?key= (one object)', () => {
  it("answers the tagger's status, labels and model, and all the object's tags, the user's too", async () => {
    const { call, store } = setup();
    store.put(BUCKET, 'uploads/a b/Dog photo.jpg', new Uint8Array([9]), [
      { Key: 'owner', Value: 'alice' },
      { Key: 'tagger:status', Value: 'ok' },
      { Key: 'tagger:top', Value: 'Golden Retriever' },
      { Key: 'tagger:labels', Value: 'Golden Retriever=0.785/muzzle=0.042/Saluki=0.032' },
      { Key: 'tagger:model', Value: 'resnet18@1' },
    ]);
    const res = await call(image('uploads/a b/Dog photo.jpg'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      key: 'uploads/a b/Dog photo.jpg',
      status: 'ok',
      top: 'Golden Retriever',
      labels: [
        { label: 'Golden Retriever', score: 0.785 },
        { label: 'muzzle', score: 0.042 },
        { label: 'Saluki', score: 0.032 },
      ],
      model: 'resnet18@1',
      tags: {
        owner: 'alice',
        'tagger:status': 'ok',
        'tagger:top': 'Golden Retriever',
        'tagger:labels': 'Golden Retriever=0.785/muzzle=0.042/Saluki=0.032',
        'tagger:model': 'resnet18@1',
      },
      url: `${S3_ORIGIN}/${encodeURIComponent('uploads/a b/Dog photo.jpg')}?X-Amz-Expires=900`,
    });
  });

  it('reaches every key by its query parameter, each naming itself only, in both event shapes', async () => {
    const { call, store } = setup();
    const keys = [
      'uploads/%41.jpg',
      'uploads/A.jpg',
      'uploads/a%2Fb.jpg',
      'uploads/what?.jpg',
      'uploads/#1.jpg',
      'uploads/a+b.jpg',
      'uploads/a b.jpg',
      'uploads/猫 café.jpg',
      'uploads/100%.jpg',
    ];
    for (const [i, key] of keys.entries())
      store.put(BUCKET, key, new Uint8Array([i]), [{ Key: 'n', Value: String(i) }]);
    for (const [i, key] of keys.entries()) {
      // serverless-offline: the query string as the client sent it, encoded.
      const offline = await call(image(key));
      expect([offline.status, offline.body.key, offline.body.tags.n], key).toEqual([200, key, String(i)]);
      // API Gateway HTTP API: rawPath and queryStringParameters decoded, rawQueryString as sent
      // (encodeURIComponent here: a space as %20, as curl --data-urlencode would not).
      const aws = await call({
        rawPath: '/image',
        rawQueryString: `key=${encodeURIComponent(key)}`,
        queryStringParameters: { key },
        requestContext: { http: { method: 'GET' } },
        headers: {},
      } as unknown as APIGatewayProxyEventV2);
      expect([aws.status, aws.body.key, aws.body.tags.n], key).toEqual([200, key, String(i)]);
    }
    // The path never names a key: API Gateway would hand it over decoded and cut at '?'.
    expect(await call(event('GET', '/images/uploads/A.jpg'))).toMatchObject({
      status: 404,
      body: { error: { code: 'NotFound', message: expect.stringContaining('GET /image?key=') } },
    });
    expect(await call(event('GET', '/image'))).toMatchObject({
      status: 400,
      body: { error: { code: 'InvalidArgument', message: expect.stringContaining('key is required') } },
    });
  });

  it('is pending until the tagger has written its status, ignored when the tagger never will', async () => {
    const { call, store } = setup();
    store.put(BUCKET, 'uploads/new.PNG', new Uint8Array([9]), [{ Key: 'owner', Value: 'bob' }]);
    store.put(BUCKET, 'uploads/notes.txt', new Uint8Array([9]));
    store.put(BUCKET, 'uploads/bad.gif', new Uint8Array([9]), [
      { Key: 'tagger:status', Value: 'CorruptImage' },
      { Key: 'tagger:model', Value: 'resnet18@1' },
    ]);
    expect((await call(image('uploads/new.PNG'))).body).toMatchObject({
      status: 'pending',
      labels: [],
      tags: { owner: 'bob' },
    });
    expect((await call(image('uploads/new.PNG'))).body).not.toHaveProperty('top');
    expect((await call(image('uploads/notes.txt'))).body.status).toBe('ignored');
    expect((await call(image('uploads/bad.gif'))).body).toMatchObject({
      status: 'CorruptImage',
      labels: [],
      model: 'resnet18@1',
    });
  });

  it('has every GET URL serve a raster type inline, and anything the tagger could not decode as a download', async () => {
    const { call, store, gets } = setup();
    store.put(BUCKET, 'uploads/ok.JPG', new Uint8Array([9]), [{ Key: 'tagger:status', Value: 'ok' }]);
    store.put(BUCKET, 'uploads/new.webp', new Uint8Array([9]));
    store.put(BUCKET, 'uploads/evil.jpg', new Uint8Array([9]), [
      { Key: 'tagger:status', Value: 'UnsupportedFormat' },
    ]);
    store.put(BUCKET, 'uploads/notes.svg', new Uint8Array([9]));
    for (const key of ['ok.JPG', 'new.webp', 'evil.jpg', 'notes.svg'])
      expect((await call(image(`uploads/${key}`))).status).toBe(200);
    await call(event('GET', '/images', { query: { label: 'golden retriever', limit: '2' } }));
    expect(gets.map((g) => [g.key, g.type])).toEqual([
      ['uploads/ok.JPG', 'image/jpeg'],
      ['uploads/new.webp', 'image/webp'],
      ['uploads/evil.jpg', undefined],
      ['uploads/notes.svg', undefined],
      ['uploads/r0.jpg', 'image/jpeg'],
      ['uploads/r1.jpg', 'image/jpeg'],
    ]);
  });

  it('is never pending when the index knows this version: service tags wiped by a racing user tag write', async () => {
    const index = new MemoryIndex();
    const { call, store } = setup({ index });
    const key = 'uploads/race.jpg';
    const etag = store.put(BUCKET, key, new Uint8Array([9]));
    const labels = [
      { label: "jack-o'-lantern", score: 0.9 },
      { label: 'crane (bird)', score: 0.05 },
    ];
    const categories = [{ label: 'decoration', score: 0.91 }];
    await index.put(
      { bucket: BUCKET, key, status: 'ok', labels, categories, model: 'resnet18@1', etag },
      '01',
    );
    // The tagger's tags were written, then a user's blind PutObjectTagging replaced them all (or the
    // tagger has indexed the object and not written its tags yet: the page asks in between).
    await store.putTags(BUCKET, key, [{ Key: 'owner', Value: 'carol' }]);
    expect((await call(image(key))).body).toEqual({
      key,
      status: 'ok',
      top: 'jack-o-lantern',
      labels: [
        { label: 'jack-o-lantern', score: 0.9 },
        { label: 'crane bird', score: 0.05 },
      ],
      categories: [{ label: 'decoration', score: 0.91 }],
      model: 'resnet18@1',
      tags: { owner: 'carol' },
      url: `${S3_ORIGIN}/${encodeURIComponent(key)}?X-Amz-Expires=900`,
      from: 'index',
    });
    // A new version the tagger has not seen yet: the index describes the old one, so pending.
    store.put(BUCKET, key, new Uint8Array([8]));
    expect((await call(image(key))).body.status).toBe('pending');
    // Deleted from the index: pending too (the tagger's event is on its way).
    const other = 'uploads/other.jpg';
    const otherEtag = store.put(BUCKET, other, new Uint8Array([7]));
    await index.put(
      { bucket: BUCKET, key: other, status: 'ok', labels, model: 'm@1', etag: otherEtag },
      '01',
    );
    await index.remove(BUCKET, other, '02');
    expect((await call(image(other))).body.status).toBe('pending');
  });

  it('answers 404 NotFound for a key with no object, and 400 for keys it will not read', async () => {
    const { call, store } = setup();
    expect(await call(image('uploads/gone.jpg'))).toMatchObject({
      status: 404,
      body: { error: { code: 'NotFound' } },
    });
    const bad = [
      '',
      'private/secret.jpg',
      'uploads/',
      'uploads/../private/secret.jpg',
      'uploads/a/../b.jpg',
      'uploads/./a.jpg',
      `uploads/${'é'.repeat(510)}.jpg`,
      'Uploads/a.jpg',
    ];
    for (const key of bad) {
      const res = await call(image(key));
      expect([res.status, res.body.error?.code], key.slice(0, 60)).toEqual([400, 'InvalidArgument']);
    }
    // Nothing was asked of the store for any refused key.
    expect(store.take()).toEqual(['getTags uploads/gone.jpg']);
    // 1024 bytes is still a key (and only the store says whether it exists).
    const longest = `uploads/${'k'.repeat(1024 - 'uploads/'.length - 4)}.jpg`;
    expect((await call(image(longest))).status).toBe(404);
    // S3 keys may hold control characters, and the tagger indexes such objects (search, duplicates
    // and similar list them): they are read like any other key.
    for (const key of ['uploads/a\n.jpg', 'uploads/tab\there.jpg', 'uploads/a\u0000.jpg']) {
      store.put(BUCKET, key, new Uint8Array([1, 2, 3]));
      const res = await call(image(key));
      expect([res.status, res.body.key], JSON.stringify(key)).toEqual([200, key]);
    }
  });

  it('answers 500 when S3 fails for another reason', async () => {
    const { call, store } = setup();
    store.getTags = async () => {
      throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
    };
    expect((await call(image('uploads/a.jpg'))).status).toBe(500);
  });
});

describe('POST /uploads (presigned S3 POST)', () => {
  const upload = (body: unknown) =>
    event('POST', '/uploads', { body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('grants a POST for a new random key under the prefix, sized by the classifier limit, for 5 minutes', async () => {
    const { call, posts, classifier } = setup();
    const before = Date.now();
    const res = await call(
      upload({ filename: 'Holiday photo (1).JPG', contentType: 'image/jpeg', size: 7_000_000 }),
    );
    expect(res.status).toBe(200);
    expect(res.body.key).toMatch(
      /^uploads\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\/Holiday-photo-1\.jpg$/,
    );
    expect(res.body).toMatchObject({ url: `${S3_ORIGIN}/`, maxBytes: classifier.limits.maxBytes });
    expect(res.body.fields).toMatchObject({ key: res.body.key, 'Content-Type': 'image/jpeg' });
    // Over the HTTP path's 4.5 MiB: uploads take what the tagger takes.
    expect(classifier.limits.maxBytes).toBe(25 * 1024 * 1024);
    expect(posts).toEqual([
      {
        key: res.body.key,
        options: { maxBytes: 25 * 1024 * 1024, expiresSeconds: 300, contentType: 'image/jpeg' },
      },
    ]);
    expect(Date.parse(res.body.expiresAt)).toBe(Date.UTC(2030, 0, 1) + 300_000);
    expect(before).toBeLessThanOrEqual(Date.now());

    const again = await call(upload({ filename: 'Holiday photo (1).JPG' }));
    expect(again.body.key).not.toBe(res.body.key);
    // No content type given: the one of the suffix is signed.
    expect(posts[1]?.options.contentType).toBe('image/jpeg');
    const png = await call(upload({ filename: '../../etc/cat.png', contentType: '' }));
    expect(png.body.key).toMatch(/^uploads\/[0-9a-f-]{36}\/cat\.png$/);
    expect(posts[2]?.options.contentType).toBe('image/png');
  });

  it("signs the user's own tags into the upload, within S3's rules and the user's share of the 10 tags", async () => {
    const { call, posts } = setup();
    const tagging = { album: 'Été 2026', 'owner:id': 'alice@example.org', empty: '' };
    const res = await call(upload({ filename: 'cat.jpg', tagging }));
    expect(res.status).toBe(200);
    expect(posts[0]?.options.tagging).toEqual([
      { Key: 'album', Value: 'Été 2026' },
      { Key: 'owner:id', Value: 'alice@example.org' },
      { Key: 'empty', Value: '' },
    ]);
    const most = Object.fromEntries(Array.from({ length: MAX_USER_TAGS }, (_, i) => [`t${i}`, 'v']));
    expect((await call(upload({ filename: 'cat.jpg', tagging: most }))).status).toBe(200);
    for (const bad of [
      { ...most, extra: 'v' },
      ['album', 'x'],
      'album=x',
      { album: 5 },
      { '': 'x' },
      { ['k'.repeat(129)]: 'x' },
      { album: 'v'.repeat(257) },
      { 'tagger:status': 'ok' },
      { 'Tagger:top': 'dog' },
      { 'aws:x': 'y' },
      { album: 'a<b>' },
      { "it's": 'x' },
    ]) {
      const r = await call(upload({ filename: 'cat.jpg', tagging: bad }));
      expect([r.status, r.body.error?.code], JSON.stringify(bad).slice(0, 60)).toEqual([
        400,
        'InvalidArgument',
      ]);
    }
    expect(posts).toHaveLength(2);
  });

  it('answers 415 for a name the tagger would ignore or a type that is not an image', async () => {
    const { call, posts } = setup();
    for (const body of [
      { filename: 'notes.txt' },
      { filename: 'photo' },
      { filename: 'photo.heic' },
      { filename: 'photo.jpg.exe' },
      { filename: 'photo.jpg', contentType: 'text/plain' },
      { filename: 'photo.jpg', contentType: 'image/jpeg; x=1' },
      { filename: 'photo.jpg', contentType: 'image/' },
      // Markup and types the tagger cannot decode: a stored SVG could carry a script.
      { filename: 'cat.jpg', contentType: 'image/svg+xml' },
      { filename: 'cat.jpg', contentType: 'image/heic' },
      { filename: 'cat.jpg', contentType: 'image/x-icon' },
      { filename: 'cat.svg' },
    ]) {
      const res = await call(upload(body));
      expect([res.status, res.body.error?.code], JSON.stringify(body)).toEqual([415, 'UnsupportedFormat']);
    }
    expect(posts).toEqual([]);
  });

  it('answers 413 for a file over the limit, exactly at the limit it grants', async () => {
    const { call, posts } = setup();
    const max = 25 * 1024 * 1024;
    expect(await call(upload({ filename: 'big.jpg', size: max + 1 }))).toMatchObject({
      status: 413,
      body: { error: { code: 'ImageTooLarge' } },
    });
    expect(posts).toEqual([]);
    expect((await call(upload({ filename: 'big.jpg', size: max }))).status).toBe(200);
  });

  it('answers 400 for a request that does not describe a file', async () => {
    const { call, posts } = setup();
    for (const body of [
      '',
      'not json',
      '[]',
      'null',
      '"photo.jpg"',
      { name: 'photo.jpg' },
      { filename: '' },
      { filename: '  ' },
      { filename: 42 },
      { filename: `${'x'.repeat(1025)}.jpg` },
      { filename: 'photo.jpg', size: 0 },
      { filename: 'photo.jpg', size: -1 },
      { filename: 'photo.jpg', size: 1.5 },
      { filename: 'photo.jpg', size: '100' },
      { filename: 'photo.jpg', contentType: 5 },
      { filename: 'photo.jpg', padding: 'x'.repeat(9000) },
    ]) {
      const res = await call(upload(body));
      expect([res.status, res.body.error?.code], JSON.stringify(body).slice(0, 60)).toEqual([
        400,
        'InvalidArgument',
      ]);
    }
    expect(posts).toEqual([]);
  });

  it('answers 405 for other methods on the image routes', async () => {
    const { call } = setup();
    for (const [method, path] of [
      ['GET', '/uploads'],
      ['PUT', '/uploads'],
      ['POST', '/images'],
      ['DELETE', '/image'],
    ] as const)
      expect((await call(event(method, path))).body.error.code, `${method} ${path}`).toBe('MethodNotAllowed');
  });
});

describe('file names in keys', () => {
  it('keeps a safe stem and the suffix, lower-cased', () => {
    expect(sanitizeFilename('Holiday photo (1).JPG')).toBe('Holiday-photo-1.jpg');
    expect(sanitizeFilename('C:\\Users\\me\\Café crème.jpeg')).toBe('Cafe-creme.jpeg');
    expect(sanitizeFilename('../../etc/passwd.png')).toBe('passwd.png');
    expect(sanitizeFilename('.jpg')).toBe('image.jpg');
    expect(sanitizeFilename('..jpg')).toBe('image.jpg');
    // Letters and digits of any script stay: a Chinese user's files keep their names (not image.jpg).
    expect(sanitizeFilename('猫.webp')).toBe('猫.webp');
    expect(sanitizeFilename('金毛 照片（2）.JPG')).toBe('金毛-照片-2.jpg');
    expect(sanitizeFilename('🐶.png')).toBe('image.png');
    expect(sanitizeFilename('a..b...c.tif')).toBe('a.b.c.tif');
    expect(sanitizeFilename(`${'x'.repeat(300)}.gif`)).toBe(`${'x'.repeat(100)}.gif`);
    expect(sanitizeFilename('noext')).toBe('noext');
    for (const name of ['a b.jpg', '%2e%2e.png', 'x/../y.jpg', '<script>.jpg', 'a\u0000b.jpg'])
      expect(sanitizeFilename(name)).toMatch(/^[\p{L}\p{N}][\p{L}\p{N}._-]*\.(jpg|png)$/u);
  });
});

describe('features, page and CSP', () => {
  it('without images: the routes are 404 NotFound, /health says so, the CSP names no S3', async () => {
    const api = createApi({ classifier: fakeClassifier() });
    for (const e of [
      event('GET', '/images', { query: { label: 'dog' } }),
      image('uploads/a.jpg'),
      event('POST', '/uploads', { body: '{"filename":"a.jpg"}' }),
    ]) {
      const res = await api(e);
      expect([res.statusCode, JSON.parse(res.body).error.code]).toEqual([404, 'NotFound']);
    }
    expect(JSON.parse((await api(event('GET', '/health'))).body).features).toEqual({
      search: false,
      upload: false,
      similar: false,
    });
    expect((await api(event('GET', '/'))).headers?.['content-security-policy']).toBe(
      contentSecurityPolicy(PAGE_HTML),
    );
  });

  it('with images: /health offers search and upload, the CSP adds exactly the S3 origin to img-src and connect-src', async () => {
    const { api, call } = setup();
    expect((await call(event('GET', '/health'))).body.features).toEqual({
      search: true,
      upload: true,
      similar: false,
    });
    const page = await api(event('GET', '/'));
    expect(page.statusCode).toBe(200);
    const directives = (csp: string) =>
      Object.fromEntries(
        csp.split('; ').map((d) => [d.slice(0, d.indexOf(' ')), d.slice(d.indexOf(' ') + 1)] as const),
      );
    const base = directives(contentSecurityPolicy(PAGE_HTML));
    const got = directives(String(page.headers?.['content-security-policy']));
    expect(got).toEqual({
      ...base,
      'img-src': `blob: ${S3_ORIGIN}`,
      'connect-src': `'self' ${S3_ORIGIN}`,
    });
    expect(base['img-src']).toBe('blob:');
    expect(base['connect-src']).toBe("'self'");
    expect(got['script-src']).toMatch(/^'sha256-[A-Za-z0-9+/=]+'$/);
  });

  it('refuses an S3 origin that is not a bare http(s) origin', async () => {
    for (const origin of ['https://s3.test/path', "https://s3.test 'unsafe-inline'", 'javascript:x', '*']) {
      const { signer } = fakeSigner(origin);
      const api = createApi({
        classifier: fakeClassifier(),
        images: {
          bucket: BUCKET,
          prefix: PREFIX,
          suffixes: IMAGE_SUFFIXES,
          index: fakeIndex({}).index,
          store: new MemoryStore(),
          signer,
        },
      });
      const page = await api(event('GET', '/'));
      expect(page.statusCode, origin).toBe(500);
      expect(page.body).not.toContain(origin);
    }
    expect(() => contentSecurityPolicy(PAGE_HTML, 'http://127.0.0.1:4569')).not.toThrow();
  });
});

/** The image routes' settings as the api handler reads them from its environment. */
const settingsOf = (env: Record<string, string>) => imageSettings(readSettings({ MODEL_DIR: '/m', ...env }));

describe('configuration from the environment (imageSettings) and the ports made on first use', () => {
  it('is off without UPLOAD_BUCKET and INDEX_TABLE, on with both, prefix and suffixes as the tagger reads them', () => {
    expect(settingsOf({})).toBeUndefined();
    expect(settingsOf({ UPLOAD_BUCKET: ' ', INDEX_TABLE: '' })).toBeUndefined();
    const on = settingsOf({ UPLOAD_BUCKET: 'photos', INDEX_TABLE: 'labels' });
    expect(on).toMatchObject({ bucket: 'photos', prefix: 'uploads/', table: 'labels' });
    expect(on?.suffixes).toContain('.jpg');
    const custom = settingsOf({
      UPLOAD_BUCKET: 'photos',
      INDEX_TABLE: 'labels',
      UPLOAD_PREFIX: 'in/',
      IMAGE_SUFFIXES: '.png, .jpg',
    });
    expect(custom).toMatchObject({ prefix: 'in/', suffixes: ['.png', '.jpg'] });
  });

  it('names the variable that is missing or wrong', () => {
    const fails = (env: Record<string, string>) => {
      try {
        settingsOf(env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      return 'no error';
    };
    expect(fails({ INDEX_TABLE: 'labels' })).toMatch(/^UPLOAD_BUCKET is not set/);
    expect(fails({ UPLOAD_BUCKET: 'photos' })).toMatch(/^INDEX_TABLE is not set/);
    expect(fails({ UPLOAD_BUCKET: 'Photos_Bucket', INDEX_TABLE: 'labels' })).toMatch(
      /^UPLOAD_BUCKET is not a bucket name/,
    );
    expect(fails({ UPLOAD_BUCKET: 'photos', INDEX_TABLE: 'labels', IMAGE_SUFFIXES: ' , ' })).toMatch(
      /IMAGE_SUFFIXES/,
    );
  });

  it('makes the ports once, on the first call that needs them, and again after a failed load', async () => {
    const settings = settingsOf({ UPLOAD_BUCKET: 'photos', INDEX_TABLE: 'labels' });
    if (!settings) throw new Error('settings expected');
    const real = fakeIndex({});
    let loads = 0;
    let fail = true;
    const images = lazyImages(settings, async () => {
      loads++;
      if (fail) throw new Error('SDK failed to load');
      return { index: real.index, store: new MemoryStore(), signer: fakeSigner().signer };
    });
    expect(loads).toBe(0);
    await expect(images.signer.origin()).rejects.toThrow('SDK failed to load');
    fail = false;
    expect(await images.signer.origin()).toBe(S3_ORIGIN);
    await images.index.search('photos', normalizeLabel('dog'), { limit: 1 });
    await expect(images.store.getTags('photos', 'uploads/none.jpg')).rejects.toThrow();
    expect(loads).toBe(2);
  });

  it("forwards the label index's groups of copies (search collapses them, GET /duplicates lists them)", async () => {
    const settings = settingsOf({ UPLOAD_BUCKET: 'photos', INDEX_TABLE: 'labels' });
    if (!settings) throw new Error('settings expected');
    const index = new MemoryIndex();
    const id = '9999999999998-0123456789abcdef';
    await index.joinCopyGroup('photos', id, { key: 'uploads/a.jpg', since: 1 });
    await index.joinCopyGroup('photos', id, { key: 'uploads/b.jpg', since: 2 });
    const images = lazyImages(settings, async () => ({
      index,
      store: new MemoryStore(),
      signer: fakeSigner().signer,
    }));
    expect(await images.index.copyGroups?.('photos', { limit: 5 })).toEqual(
      await index.copyGroups('photos', { limit: 5 }),
    );
    expect(await images.index.copyGroupsOf?.('photos', ['uploads/a.jpg'])).toEqual(
      await index.copyGroupsOf('photos', ['uploads/a.jpg']),
    );
    expect(await images.index.copyGroup?.('photos', id)).toEqual(await index.copyGroup('photos', id));
    expect((await index.copyGroup('photos', id)).map((m) => m.key)).toEqual([
      'uploads/a.jpg',
      'uploads/b.jpg',
    ]);
    // Without groups in the index (a fake with search and get only), they fail with a clear error.
    const bare = lazyImages(settings, async () => ({
      index: fakeIndex({}).index,
      store: new MemoryStore(),
      signer: fakeSigner().signer,
    }));
    await expect(bare.index.copyGroups?.('photos', { limit: 5 })).rejects.toThrow(
      'records no groups of copies',
    );
  });

  it('the AWS ports: the index table from the settings, presigned URLs on the bucket of the settings', async () => {
    const settings = settingsOf({ UPLOAD_BUCKET: 'photos', INDEX_TABLE: 'labels' });
    if (!settings) throw new Error('settings expected');
    const ports = awsImagePorts(
      settings,
      { region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
      { dir: '/opt/models/m', meta: { name: 'm', version: '1' } as ModelMeta },
    );
    expect(ports.vectors).toBeUndefined();
    expect(await ports.signer.origin()).toBe('https://photos.s3.eu-west-1.amazonaws.com');
    expect(await ports.signer.presignGet('uploads/a.jpg', 60)).toMatch(
      /^https:\/\/photos\.s3\.eu-west-1\.amazonaws\.com\/uploads\/a\.jpg\?/,
    );
  });
});

describe('fuzz: the image routes', () => {
  const text = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.constantFrom('', ' ', '%', '%2F', '%00', '..', '../', 'uploads/', 'uploads/a.jpg', 'golden retriever'),
    fc.stringMatching(/^[0-9a-z%./ -]{0,30}$/),
  );
  const request = fc.oneof(
    fc.record({
      route: fc.constant('search' as const),
      method: fc.constantFrom('GET', 'GET', 'POST'),
      query: fc.dictionary(fc.constantFrom('label', 'limit', 'cursor', 'other'), text, { maxKeys: 4 }),
    }),
    fc.record({
      route: fc.constant('describe' as const),
      method: fc.constantFrom('GET', 'GET', 'PUT'),
      path: fc.oneof(
        text,
        fc.tuple(fc.constant('uploads/'), text).map(([a, b]) => a + b),
      ),
    }),
    fc.record({
      route: fc.constant('upload' as const),
      method: fc.constantFrom('POST', 'POST', 'GET'),
      body: fc.oneof(
        text,
        fc
          .record(
            {
              filename: fc.oneof(
                text,
                fc.tuple(text, fc.constantFrom('.jpg', '.PNG', '.txt', '')).map(([a, b]) => a + b),
              ),
              contentType: fc.oneof(text, fc.constantFrom('image/jpeg', 'image/', 'text/plain')),
              size: fc.oneof(fc.integer({ min: -2, max: 30 * 1024 * 1024 }), fc.double(), text),
            },
            { requiredKeys: [] },
          )
          .map((o) => JSON.stringify(o)),
        fc.json(),
      ),
    }),
  );

  it('answers every request with 200 or a JSON 4xx, and never signs or reads outside the prefix', async () => {
    const { call, store, posts, gets } = setup();
    store.put(BUCKET, 'uploads/a.jpg', new Uint8Array([9]), [{ Key: 'tagger:status', Value: 'ok' }]);
    await fuzz('image routes', request, runs(300, 0.3), async (r) => {
      const e =
        r.route === 'search'
          ? event(r.method, '/images', { query: r.query })
          : r.route === 'describe'
            ? event(r.method, '/image', { query: { key: r.path } })
            : event(r.method, '/uploads', { body: r.body });
      const res = await call(e);
      expect([200, 400, 404, 405, 413, 415]).toContain(res.status);
      if (res.status !== 200) expect(typeof res.body.error?.code).toBe('string');
      for (const p of posts.splice(0))
        expect(p.key).toMatch(/^uploads\/[0-9a-f-]{36}\/[\p{L}\p{N}_][\p{L}\p{N}._-]*\.(jpg|png)$/u);
      for (const g of gets.splice(0)) expect(g.key.startsWith(PREFIX)).toBe(true);
      for (const c of store.take()) expect(c).toMatch(/^getTags uploads\/./);
    });
  });
});
