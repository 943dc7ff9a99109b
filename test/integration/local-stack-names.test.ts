/**
 * Issue 26's "done when" through the API, on `npm start` (test/helpers/local-stack.ts: signed in as
 * its local user, an editor; the int8 MobileNetV2 of ../shared): eight shared photos go into the
 * local bucket (five dogs, a lynx, a red panda, a limousine), "my dogs" is taught from three of the
 * dogs; the two other stored dogs carry it (tags, index, search) and the lynx, the red panda and the
 * limousine do not; a dog uploaded afterwards gets it from the tagger, a car does not; DELETE takes it
 * off the tags, the index and search. The photo names carry their class.
 */
import { readFile } from 'node:fs/promises';
import { GetObjectTaggingCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localS3Client } from '../../scripts/local/local-s3.ts';
import { TAG_NAMES } from '../../src/tagging/tags.ts';
import { TAUGHT_LABELS_TTL_MS } from '../../src/tagging/taught-labels.ts';
import { type LocalStack, startLocalStack } from '../helpers/local-stack.ts';
import { photo, sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

const BUCKET = 'image-tagger-dev-uploads-local';
const key = (file: string) => `uploads/names/${file}`;
const EXAMPLES = ['167-English-foxhound.jpg', '187-Yorkshire-Terrier.jpg', '207-Golden-Retriever.jpg'];
const OTHER_DOGS = ['227-Australian-Kelpie.jpg', '247-St.-Bernard.jpg'];
const NOT_DOGS = ['287-lynx.jpg', '387-red-panda.jpg', '627-limousine.jpg'];
const LATER_DOG = '267-Standard-Poodle.jpg';
const LATER_CAR = '407-ambulance.jpg';

describe.skipIf(skipUnlessShared('the taught names test on npm start'))('npm start: teach "my dogs"', () => {
  let stack: LocalStack;
  let s3: S3Client;
  let auth: Record<string, string>;

  beforeAll(async () => {
    stack = await startLocalStack(['--model-dir', sharedModelFolder()]);
    s3 = localS3Client(stack.s3);
    auth = await stack.authHeaders();
  }, 240_000);
  afterAll(async () => {
    s3?.destroy();
    await stack?.stop();
  }, 30_000);

  const taggedCount = () =>
    stack.output().match(/\[start\] tagger done for ObjectCreated:Put /g)?.length ?? 0;
  /** Puts photos into the bucket and waits (bounded) until the tagger has handled that many events. */
  async function upload(files: string[]) {
    const before = taggedCount();
    for (const file of files) {
      const put = await fetch(`${stack.s3}/${BUCKET}/${key(file)}`, {
        method: 'PUT',
        body: new Uint8Array(await readFile(photo(file))),
      });
      expect(put.status).toBe(200);
    }
    for (let i = 0; i < 240 && taggedCount() < before + files.length; i++)
      await new Promise((r) => setTimeout(r, 500));
    expect(taggedCount(), stack.output().slice(-3000)).toBe(before + files.length);
  }
  const namesOf = async (file: string) => {
    const { TagSet = [] } = await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key(file) }));
    return TagSet.find((t) => t.Key === TAG_NAMES)?.Value;
  };
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${stack.base}${path}`, {
      method,
      headers: { ...auth, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const found = async (query: string) =>
    ((await api('GET', `/images?${query}&copies=all&limit=100`)).body.items as { key: string }[])
      .map((i) => i.key)
      .sort();

  it('answers its own page and refuses a page of another origin (serverless-offline grants every origin CORS)', async () => {
    const from = (origin: string, headers: Record<string, string> = auth) =>
      fetch(`${stack.base}/labels`, { headers: { ...headers, origin } });
    expect((await from(stack.base)).status).toBe(200);
    const foreign = await from('https://evil.example');
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { error: { code: string } }).error.code).toBe('ForeignOrigin');
    // Without a token the route's authorizer refuses it first, as API Gateway's does.
    expect((await from('https://evil.example', {})).status).toBe(401);
  });

  it('labels the stored dogs and a later dog, no lynx, red panda or car; search finds them; DELETE removes it everywhere', async () => {
    await upload([...EXAMPLES, ...OTHER_DOGS, ...NOT_DOGS]);

    const taughtAt = Date.now();
    const taught = await api('PUT', '/labels/my%20dogs', { examples: EXAMPLES.map(key) });
    expect(taught.status, JSON.stringify(taught.body)).toBe(201);
    expect(taught.body).toMatchObject({
      name: 'my dogs',
      understoodAs: { group: { label: 'dog' }, kind: 'group+embedding' },
      labelled: EXAMPLES.length + OTHER_DOGS.length,
      complete: true,
    });
    for (const file of [...EXAMPLES, ...OTHER_DOGS])
      expect(await namesOf(file), file).toMatch(/^my dogs=0\.\d{3}$/);
    for (const file of NOT_DOGS) expect(await namesOf(file), file).toBeUndefined();

    // The tagger reads the names again after TAUGHT_LABELS_TTL_MS: an upload after that carries it.
    await new Promise((r) => setTimeout(r, Math.max(0, taughtAt + TAUGHT_LABELS_TTL_MS + 1000 - Date.now())));
    await upload([LATER_DOG, LATER_CAR]);
    expect(await namesOf(LATER_DOG)).toMatch(/^my dogs=/);
    expect(await namesOf(LATER_CAR)).toBeUndefined();

    const dogs = [...EXAMPLES, ...OTHER_DOGS, LATER_DOG].map(key).sort();
    expect(await found('label=My%20Dogs')).toEqual(dogs);
    expect(await found('q=my%20dogs')).toEqual(dogs);
    const image = await api('GET', `/image?key=${encodeURIComponent(key(LATER_DOG))}`);
    expect(image.body.names).toEqual([{ label: 'my dogs', score: expect.any(Number) }]);
    const list = await api('GET', '/labels');
    expect((list.body.labels as { name: string }[]).map((l) => l.name)).toEqual(['my dogs']);

    const gone = await api('DELETE', '/labels/my%20dogs');
    expect(gone).toEqual({ status: 200, body: { name: 'my dogs', removed: dogs.length, complete: true } });
    for (const file of [...EXAMPLES, ...OTHER_DOGS, LATER_DOG])
      expect(await namesOf(file), file).toBeUndefined();
    expect(await found('label=my%20dogs')).toEqual([]);
    expect((await api('GET', '/labels/my%20dogs')).status).toBe(404);
    expect(stack.output()).not.toContain('FAILURE QUEUE');
  }, 420_000);
});
