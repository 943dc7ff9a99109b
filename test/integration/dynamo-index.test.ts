/**
 * The DynamoDB label index (src/aws/dynamo-index.ts) on a real DynamoDB-compatible server (dynalite
 * on loopback): the LabelIndex contract, no label item left behind (a table scan, here only), and the
 * request units per operation.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../models/resnet18.ts';
import { LOCAL_CREDENTIALS, type LocalDynamo, startLocalDynamo } from '../../scripts/local/local-dynamo.ts';
import { dynamoLabelIndex, labelSk, legacyLabelPk, objectPk } from '../../src/aws/dynamo-index.ts';
import { normalizeLabel } from '../../src/tagging/label-index.ts';
import {
  freshBucket,
  labelIndexContract,
  rec,
  scanLabelItems,
  searchAll,
} from '../helpers/index-contract.ts';

const TABLE = 'labels-contract';
let dynamo: LocalDynamo;
/** A client that holds each request 0-12 ms (seeded): concurrent writers really interleave. */
let jittery: DynamoDBClient;
beforeAll(async () => {
  dynamo = await startLocalDynamo({ tables: [TABLE] });
  jittery = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  const random = seededRandom(7);
  jittery.middlewareStack.add(
    (next) => async (args) => {
      await new Promise((r) => setTimeout(r, Math.floor(random() * 13)));
      return next(args);
    },
    { step: 'finalizeRequest', name: 'jitter' },
  );
});
afterAll(async () => {
  jittery?.destroy();
  await dynamo?.close();
});

labelIndexContract('DynamoDB adapter on dynalite', {
  index: async () => dynamoLabelIndex(jittery, TABLE),
  labelItems: (bucket) => scanLabelItems(dynamo.client, TABLE, bucket),
});

/**
 * The races the conditions exist for, forced deterministically: writer A's requests go through a
 * client whose gate can hold or fail a request until another writer is done.
 */
describe('DynamoDB label index: forced races', () => {
  type Gate = (command: string) => Promise<void> | undefined;
  let gate: Gate = () => undefined;
  let slow: DynamoDBClient;
  beforeAll(() => {
    slow = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
    });
    slow.middlewareStack.add(
      (next, context) => async (args) => {
        await gate(context.commandName ?? '');
        return next(args);
      },
      { step: 'initialize', name: 'gate' },
    );
  });
  afterAll(() => slow?.destroy());

  /** A promise and its resolver. */
  function latch() {
    let open = () => {};
    const opened = new Promise<void>((r) => {
      open = r;
    });
    return { open, opened };
  }

  it("an older writer's label put that lands after a newer writer is done neither overwrites nor survives", async () => {
    const b = freshBucket();
    const k = 'uploads/race1.jpg';
    const a = dynamoLabelIndex(slow, TABLE);
    const fast = dynamoLabelIndex(dynamo.client, TABLE);
    const release = latch();
    gate = (command) => (command.startsWith('PutItem') ? release.opened : undefined);
    const older = a.put(
      rec(b, k, [
        ['dog', 0.5],
        ['cat', 0.5],
      ]),
      '01',
    );
    // A has claimed (its label puts wait at the gate); B claims after it, and finishes.
    for (let i = 0; i < 100 && (await fast.get(b, k)) === undefined; i++)
      await new Promise((r) => setTimeout(r, 5));
    expect((await fast.put(rec(b, k, [['dog', 0.5]]), '02')).result).toBe('written');
    release.open();
    expect(await older).toMatchObject({
      result: 'written',
      current: { sequencer: expect.stringMatching(/^02/) },
    });
    gate = () => undefined;
    expect((await fast.search(b, normalizeLabel('dog'), { limit: 5 })).items).toEqual([
      { key: k, score: 0.5, top: 'dog', labels: [{ label: 'dog', score: 0.5 }] },
    ]);
    expect(await scanLabelItems(dynamo.client, TABLE, b)).toEqual([`dog ${k}`]);
  });

  it('a writer that dies after its late put leaves an item that the retry of its event removes', async () => {
    const b = freshBucket();
    const k = 'uploads/race2.jpg';
    const a = dynamoLabelIndex(slow, TABLE);
    const fast = dynamoLabelIndex(dynamo.client, TABLE);
    const release = latch();
    gate = (command) => {
      if (command.startsWith('PutItem')) return release.opened;
      // A "crashes" right after its label puts: its read of the object (step 3) fails.
      if (command.startsWith('GetItem')) return Promise.reject(new Error('Lambda timed out'));
      return undefined;
    };
    const older = a.put(
      rec(b, k, [
        ['dog', 0.5],
        ['cat', 0.5],
      ]),
      '01',
    );
    for (let i = 0; i < 100 && (await fast.get(b, k)) === undefined; i++)
      await new Promise((r) => setTimeout(r, 5));
    await fast.put(rec(b, k, [['dog', 0.5]]), '02');
    release.open();
    await expect(older).rejects.toThrow('Lambda timed out');
    gate = () => undefined;
    // A's late "cat" exists for now; Lambda retries A's event: stale, and its sweep removes it.
    expect(
      await fast.put(
        rec(b, k, [
          ['dog', 0.5],
          ['cat', 0.5],
        ]),
        '01',
      ),
    ).toMatchObject({ result: 'stale' });
    expect((await scanLabelItems(dynamo.client, TABLE, b)).sort()).toEqual([`dog ${k}`]);
    expect(await searchAll(fast, b, 'cat')).toEqual([]);
  });

  it("a writer's delete of an old item never removes the same item written by a newer claim", async () => {
    const b = freshBucket();
    const k = 'uploads/race3.jpg';
    const a = dynamoLabelIndex(slow, TABLE);
    const fast = dynamoLabelIndex(dynamo.client, TABLE);
    await fast.put(rec(b, k, [['dog', 0.5]]), '01');
    const release = latch();
    let held = false;
    gate = (command) => {
      if (!command.startsWith('DeleteItem')) return undefined;
      held = true;
      return release.opened;
    };
    // B (seq 02) replaces dog by cat; its delete of dog waits. C (seq 03) brings dog back, and finishes.
    const middle = a.put(rec(b, k, [['cat', 0.5]]), '02');
    for (let i = 0; i < 200 && !held; i++) await new Promise((r) => setTimeout(r, 5));
    expect(held).toBe(true);
    await fast.put(rec(b, k, [['dog', 0.5]]), '03');
    release.open();
    await middle;
    gate = () => undefined;
    expect(await searchAll(fast, b, 'dog')).toEqual([k]);
    expect(await searchAll(fast, b, 'cat')).toEqual([]);
    expect((await scanLabelItems(dynamo.client, TABLE, b)).sort()).toEqual([`dog ${k}`]);
  });
});

describe('DynamoDB label index: request units per operation (dynalite, ReturnConsumedCapacity)', () => {
  it('fresh image, duplicate, overwrite, stale delivery, delete, get, search page', async () => {
    const metered = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
    });
    let units = { wru: 0, rru: 0, failedWrites: 0, requests: [] as string[] };
    metered.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { ReturnConsumedCapacity?: string };
        input.ReturnConsumedCapacity = 'TOTAL';
        const name = (context.commandName ?? '').replace(/Command$/, '');
        units.requests.push(name);
        try {
          const out = await next(args);
          const used = (out.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity;
          if (/Put|Update|Delete/.test(name)) units.wru += used?.CapacityUnits ?? 0;
          else units.rru += used?.CapacityUnits ?? 0;
          return out;
        } catch (err) {
          // DynamoDB charges a failed conditional write too (1 WRU for items up to 1 KB).
          if ((err as Error).name === 'ConditionalCheckFailedException') units.failedWrites++;
          throw err;
        }
      },
      { step: 'initialize', name: 'meter' },
    );
    const index = dynamoLabelIndex(metered, TABLE);
    const b = freshBucket();
    const key = 'uploads/2026/11/holiday-photo-0001.jpg';
    const labels: [string, number][] = [
      ['golden retriever', 0.62],
      ['Labrador retriever', 0.21],
      ['tennis ball', 0.05],
    ];
    const measure = async (run: () => Promise<unknown>) => {
      units = { wru: 0, rru: 0, failedWrites: 0, requests: [] };
      await run();
      return { ...units, wru: units.wru + units.failedWrites };
    };
    const perOperation = {
      fresh: await measure(() => index.put(rec(b, key, labels, { etag: '"e1"' }), '0A01')),
      duplicate: await measure(() => index.put(rec(b, key, labels, { etag: '"e1"' }), '0A01')),
      overwrite: await measure(() =>
        index.put(
          rec(
            b,
            key,
            [
              ['tabby', 0.5],
              ['tiger cat', 0.3],
              ['Egyptian cat', 0.1],
            ],
            { etag: '"e2"' },
          ),
          '0A02',
        ),
      ),
      search: await measure(() => index.search(b, normalizeLabel('tabby'), { limit: 20 })),
      stale: await measure(() => index.put(rec(b, key, labels, { etag: '"e1"' }), '0A01')),
      delete: await measure(() => index.remove(b, key, '0A03')),
      get: await measure(() => index.get(b, key)),
    };
    metered.destroy();
    console.info('DynamoDB request units per operation (dynalite):', JSON.stringify(perOperation));
    const summary = Object.fromEntries(
      Object.entries(perOperation).map(([k, v]) => [
        k,
        { wru: v.wru, rru: v.rru, requests: v.requests.length },
      ]),
    );
    expect(summary).toEqual({
      fresh: { wru: 5, rru: 1, requests: 6 },
      duplicate: { wru: 5, rru: 1, requests: 6 },
      overwrite: { wru: 8, rru: 1, requests: 9 },
      search: { wru: 0, rru: 0.5, requests: 1 },
      stale: { wru: 1, rru: 1, requests: 2 },
      delete: { wru: 5, rru: 1, requests: 6 },
      get: { wru: 0, rru: 1, requests: 1 },
    });
  });
});

/**
 * Label items written before normalizeLabel took the tag form sit in the partition of
 * legacyNormalizeLabel ("jack-o'-lantern"): search reads them too, and the object's next index
 * write (a new event, or backfill re-indexing it) moves them to the tag-form partition.
 */
describe('DynamoDB label index: partitions of the legacy label form', () => {
  it('finds objects indexed under the old form by either spelling, in one score order, until a write moves them', async () => {
    const index = dynamoLabelIndex(dynamo.client, TABLE);
    const db = DynamoDBDocumentClient.from(dynamo.client);
    const b = freshBucket();
    const label = "jack-o'-lantern";
    // As the index wrote it before: the object item lists its label item, in the legacy partition.
    const old = { key: 'uploads/old.jpg', score: 0.8 };
    const legacyItem = { pk: legacyLabelPk(b, label), sk: labelSk(old.score, old.key) };
    const labels = [{ label, score: old.score }];
    await db.send(
      new PutCommand({
        TableName: TABLE,
        Item: {
          ...legacyItem,
          key: old.key,
          score: old.score,
          top: label,
          labels,
          rev: 1,
          seq: '01'.padEnd(32, '0'),
        },
      }),
    );
    await db.send(
      new PutCommand({
        TableName: TABLE,
        Item: {
          pk: objectPk(b, old.key),
          sk: 'o',
          bucket: b,
          key: old.key,
          state: 'live',
          status: 'ok',
          labels,
          top: label,
          model: 'fake@1',
          seq: '01'.padEnd(32, '0'),
          rev: 1,
          entries: new Set([JSON.stringify([legacyItem.pk, legacyItem.sk])]),
        },
      }),
    );
    // Objects indexed since are in the tag-form partition.
    await index.put(rec(b, 'uploads/new1.jpg', [[label, 0.9]]), '01');
    await index.put(rec(b, 'uploads/new2.jpg', [[label, 0.7]]), '01');
    expect(await scanLabelItems(dynamo.client, TABLE, b)).toEqual(
      expect.arrayContaining(["jack-o'-lantern uploads/old.jpg", 'jack-o-lantern uploads/new1.jpg']),
    );

    const pages = async (term: string, spellings: string[]) => {
      const keys: string[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 10; i++) {
        const page = await index.search(b, normalizeLabel(term), { limit: 1, cursor, spellings });
        keys.push(...page.items.map((it) => it.key));
        cursor = page.cursor;
        if (!cursor) break;
      }
      return keys;
    };
    const all = ['uploads/new1.jpg', 'uploads/old.jpg', 'uploads/new2.jpg'];
    // The model's spelling, typed by the user (the API passes the word as typed among the spellings);
    // the tag form with the model's spelling (what the API adds).
    expect(await pages(label, [label])).toEqual(all);
    expect(await pages('jack-o-lantern', [label])).toEqual(all);
    // Without the spelling, only what was indexed in the tag form.
    expect(await pages('jack-o-lantern', [])).toEqual(['uploads/new1.jpg', 'uploads/new2.jpg']);

    // The next write of the old object (its next event, or backfill) moves it to the tag form.
    await index.put(rec(b, old.key, [[label, old.score]]), '02');
    expect((await scanLabelItems(dynamo.client, TABLE, b)).sort()).toEqual([
      'jack-o-lantern uploads/new1.jpg',
      'jack-o-lantern uploads/new2.jpg',
      'jack-o-lantern uploads/old.jpg',
    ]);
    expect(await pages('jack-o-lantern', [])).toEqual(all);
  });
});
