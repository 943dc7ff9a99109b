/**
 * Everyday words find the shared photos, through the real parts: a local S3 (s3rver) whose events
 * drive the tagger, the real classifier with the ImageNet-1k vocabulary, the DynamoDB label index
 * on dynalite, and GET /images of the HTTP API. The dog photos are found by "dog", "Dogs" and "狗",
 * the birds by "bird", the vehicles by "vehicle"; the chameleon is not found by "dog".
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEventV2, S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '../../scripts/local/local-dynamo.ts';
import { type LocalS3, localS3Client, startLocalS3 } from '../../scripts/local/local-s3.ts';
import { dynamoLabelIndex } from '../../src/aws/dynamo-index.ts';
import { s3ObjectStore } from '../../src/aws/s3-object-store.ts';
import { s3UploadSigner } from '../../src/aws/upload-signer.ts';
import { type Classifier, createClassifier } from '../../src/classifier/classifier.ts';
import { IMAGE_SUFFIXES } from '../../src/classifier/image-formats.ts';
import { createApi } from '../../src/http/api.ts';
import { taggerSettings } from '../../src/settings.ts';
import { createS3Tagger } from '../../src/tagging/notifications.ts';
import { photo, sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

const BUCKET = 'vocabulary-search';
const TABLE = 'labels-vocabulary';
const DOGS = [
  '167-English-foxhound',
  '187-Yorkshire-Terrier',
  '207-Golden-Retriever',
  '227-Australian-Kelpie',
  '247-St.-Bernard',
  '267-Standard-Poodle',
];
const BIRDS = ['007-cock', '087-grey-parrot', '127-white-stork'];
const VEHICLES = ['407-ambulance', '547-electric-locomotive', '627-limousine', '867-semi-trailer-truck'];
const OTHERS = ['047-chameleon', '967-espresso'];
const key = (name: string) => `uploads/${name}.jpg`;

describe.skipIf(skipUnlessShared('the vocabulary search test'))(
  'search by everyday words (local S3, dynalite)',
  () => {
    let dir: string;
    let s3server: LocalS3;
    let dynamo: LocalDynamo;
    let classifier: Classifier;
    let get: (label: string) => Promise<{ status: number; keys: string[]; body: Record<string, unknown> }>;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'vocabulary-search-'));
      const events: S3Event[] = [];
      s3server = await startLocalS3({
        directory: dir,
        buckets: [BUCKET],
        onEvent: (e) => void events.push(e),
      });
      const s3 = localS3Client(s3server.endpoint);
      dynamo = await startLocalDynamo({ tables: [TABLE] });
      const index = dynamoLabelIndex(dynamo.client, TABLE);
      classifier = await createClassifier(sharedModelFolder(), { threads: 2 });
      const tagger = createS3Tagger({ store: s3ObjectStore(s3), classifier, index, ...taggerSettings({}) });
      for (const name of [...DOGS, ...BIRDS, ...VEHICLES, ...OTHERS])
        await s3.send(
          new PutObjectCommand({
            Bucket: BUCKET,
            Key: key(name),
            Body: await readFile(photo(`${name}.jpg`)),
          }),
        );
      for (let i = 0; i < 100 && events.length < 15; i++) await new Promise((r) => setTimeout(r, 50));
      for (const e of events) await tagger(e);
      const api = createApi({
        classifier,
        images: {
          bucket: BUCKET,
          prefix: 'uploads/',
          suffixes: IMAGE_SUFFIXES,
          index,
          store: s3ObjectStore(s3),
          signer: s3UploadSigner(s3, BUCKET),
        },
      });
      get = async (label) => {
        const res = await api({
          rawPath: '/images',
          requestContext: { http: { method: 'GET' } },
          headers: {},
          queryStringParameters: { label, limit: '100' },
        } as unknown as APIGatewayProxyEventV2);
        const body = JSON.parse(res.body);
        return { status: res.statusCode, keys: (body.items ?? []).map((i: { key: string }) => i.key), body };
      };
    }, 120_000);

    afterAll(async () => {
      await classifier?.release();
      await s3server?.close();
      await dynamo?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('"dog", "Dogs" and "狗" list the dog photos, best dog score first, and not the chameleon', async () => {
      for (const word of ['dog', 'Dogs', '狗']) {
        const { status, keys, body } = await get(word);
        expect(status, word).toBe(200);
        expect([...keys].sort(), word).toEqual(DOGS.map(key).sort());
        expect(keys).not.toContain(key('047-chameleon'));
        const scores = (body.items as { score: number }[]).map((i) => i.score);
        expect([...scores].sort((a, b) => b - a)).toEqual(scores);
        expect(body.resolved).toMatchObject({ term: 'dog', kind: 'category' });
      }
    });

    it('"bird" lists the birds, "vehicle" the vehicles, "金毛猎犬" the retriever', async () => {
      expect([...(await get('bird')).keys].sort()).toEqual(BIRDS.map(key).sort());
      expect([...(await get('vehicles')).keys].sort()).toEqual(VEHICLES.map(key).sort());
      expect((await get('金毛猎犬')).keys).toEqual([key('207-Golden-Retriever')]);
      expect((await get('food')).keys).toContain(key('967-espresso'));
    });

    it('"terrier", "hound", "poodle" (WordNet groups), "金毛" and "🐶" find their photos on DynamoDB', async () => {
      for (const [word, photoName] of [
        ['terrier', '187-Yorkshire-Terrier'],
        ['hounds', '167-English-foxhound'],
        ['poodle', '267-Standard-Poodle'],
      ] as const) {
        const { status, keys, body } = await get(word);
        expect(status, word).toBe(200);
        expect(keys, word).toContain(key(photoName));
        expect(
          keys.every((k) => DOGS.map(key).includes(k)),
          `${word}: ${keys}`,
        ).toBe(true);
        expect(new Set(keys).size, word).toBe(keys.length);
        expect(body.resolved, word).toMatchObject({ kind: 'group' });
      }
      expect((await get('金毛')).keys).toEqual([key('207-Golden-Retriever')]);
      expect([...(await get('🐶')).keys].sort()).toEqual(DOGS.map(key).sort());
      expect((await get('d\u200bog')).keys.length).toBe(DOGS.length);
    });

    it('a word that matches nothing: 200, no items, suggestions', async () => {
      const { status, keys, body } = await get('dgo');
      expect(status).toBe(200);
      expect(keys).toEqual([]);
      expect((body.suggestions as { term: string }[]).map((s) => s.term)).toContain('dog');
    });
  },
);
