/**
 * The label index on DynamoDB (adapter of src/tagging/label-index.ts), one table (scripts/local/label-table.ts),
 * with single-item conditional writes only: no transactions (dynalite, the local server, has none,
 * and they would double the write cost).
 *
 * Items
 *   object item O   pk "o#<bucket>/<key>"  sk "o"
 *     bucket, key, state live|deleted, status, labels [{label, score}], top, model, etag,
 *     seq       the newest sequencer applied, normalised (normalizeSequencer) so that string order
 *               is S3's order; absent while only version-less writes were applied
 *     rev       a counter, +1 on every accepted write ("claim"): claims of one key are totally
 *               ordered by it, which also orders two deliveries of the same event
 *     owner     the token of the claim that set rev
 *     entries   string set: every label item this object may have (JSON [pk, sk]); a superset
 *     inflight  string set: "<epoch ms>#<token>" of claims whose writer has not finished
 *     expiresAt tombstones only (epoch s, TOMBSTONE_DAYS): the TTL attribute
 *   label item L    pk "l#<bucket>#<term>" (normalizeLabel(label), or colourTerm(colour))  sk "<inverted score, 10 digits>#<key>"
 *                   (a dominant colour: pk "l#<bucket>#colour:<name>", colourTerm)
 *                   (a key too long for DynamoDB's 1024-byte sort key: "~<sha256 of the key>")
 *                   (a taught name: pk "l#<bucket>#name:<name>", nameTerm)
 *     key, score, top, labels, categories, colours, names (so a search needs no second read), rev (the claim
 *     that wrote it), seq
 *   An object's labels are deduplicated by normalised label (ImageNet has two "crane" classes).
 *
 * Search: one Query on the label partition, ascending sk = best score first, then key. The cursor is
 * the base64url of the last returned item's key; a cursor whose pk is not the queried partition is
 * an InvalidCursorError. Label items written before normalizeLabel took the tag form sit in the
 * partition of legacyNormalizeLabel: when a label's legacy forms differ from it, those partitions
 * are queried too from the same sk on, and the rows merged in sk order (one Query per partition).
 *
 * Write protocol (put with sequencer s; remove is the same with a tombstone and no label items)
 *   1. claim   UpdateItem O  if attribute_not_exists(pk) OR attribute_not_exists(seq) OR seq <= s:
 *              SET the record, owner = me; ADD rev 1, entries <new label items>, inflight <me>;
 *              ALL_NEW gives rev r. A failed condition is `stale`: nothing was written (go to 4 as a
 *              sweep without a token).
 *   2. put     each new label item, if attribute_not_exists(pk) OR rev <= r.
 *   3. read    GetItem O (strongly consistent): the current record C, rev c (c >= r).
 *   4. clean   garbage = C.entries minus C's own label items; DeleteItem each if rev < c.
 *              Then, if no other claim older than c is still in flight (inflight, ignoring markers
 *              older than MAX_WRITER_MS, the Lambda timeout bound), UpdateItem O if rev = c:
 *              DELETE entries <garbage>. Always DELETE inflight <me>.
 *   Return C (`current`): if c > r, a newer claim owns the key and the caller re-applies C to the tags.
 *
 * Why the label items end equal to the newest record (with no transactions)
 *   - O is the serialisation point: claims are totally ordered by rev and accepted in sequencer order.
 *   - A label item is only ever overwritten by a claim at least as new (condition rev <= r) and only
 *     deleted by a writer that has seen a newer claim that does not list it (rev < c). So an item of
 *     the newest claim is never removed, and is written by its own claim.
 *   - An older writer may re-create one of its items after a newer writer deleted it (its put ran
 *     late). Its own step 3/4 then sees the newer claim and deletes it (rev < c). And it stays in
 *     entries until that older writer is done (the inflight check), so if that writer crashed, the
 *     next writer of the key (or Lambda's retry of the event: a stale claim still sweeps) deletes it.
 *   - entries only grows at claims and only shrinks by items that are gone and that no unfinished
 *     claim can re-create: it stays a superset of the object's label items, so step 4 finds them all.
 * Version-less writes (backfill, Batch Operations) read O first and claim with rev = <read rev>
 * (retried a few times); see label-index.ts for when they are stale.
 *
 * Requests (WRU = write units per 1 KB item, RRU = read units per 4 KB, strongly consistent):
 *   fresh image, 3 labels:   claim 1 + 3 puts + finish 1 = 5 WRU, 1 RRU
 *   overwrite, 3 new labels: claim 1 + 3 puts + 3 deletes + finish 1 = 8 WRU, 1 RRU
 *   duplicate delivery:      like a fresh image (the puts rewrite the same items): 5 WRU, 1 RRU
 *   delete:                  claim 1 + 3 deletes + finish 1 = 5 WRU, 1 RRU
 *   stale delivery:          1 failed conditional write (charged: 1 WRU) + 1 RRU
 *   get 1 RRU (strongly consistent); search page 0.5 RRU per 4 KB read (eventually consistent)
 *   The tagger adds one get after its tag write (1 RRU). Items stay under 1 KB for S3 keys of
 *   ordinary length; a key near S3's 1024-byte limit makes O (entries lists the key thrice) 2-4 WRU.
 *   (test/integration/dynamo-index.test.ts measures them on dynalite with ReturnConsumedCapacity.)
 * IAM: the tagger needs dynamodb:UpdateItem, PutItem, DeleteItem, GetItem, Query (groups of copies);
 * the API GetItem, Query.
 */
import { createHash, randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  bareEtag,
  byAge,
  COPY_GROUP_ID,
  type CopyGroup,
  type CopyMember,
  colourTerm,
  groupTerm,
  type IndexedLabel,
  type IndexedObject,
  type IndexRecord,
  type IndexWrite,
  InvalidCursorError,
  type LabelIndex,
  type LabelTerm,
  legacyNormalizeLabel,
  nameTerm,
  normalizeLabel,
  normalizeSequencer,
  type SearchItem,
  type SearchPage,
} from '../tagging/label-index.ts';

/** How long a tombstone orders late deliveries before DynamoDB's TTL removes it. */
export const TOMBSTONE_DAYS = 7;
/** A writer is certainly gone after this long (the Lambda timeout is at most 15 minutes). */
export const MAX_WRITER_MS = 16 * 60 * 1000;
/** Attempts of a version-less write that keeps losing to concurrent writes. */
const VERSIONLESS_ATTEMPTS = 5;

export const objectPk = (bucket: string, key: string) => `o#${bucket}/${key}`;
export const labelPk = (bucket: string, term: LabelTerm) => `l#${bucket}#${term}`;
/** The partition of a label as written before normalizeLabel took the tag form (read only). */
export const legacyLabelPk = (bucket: string, label: string) => `l#${bucket}#${legacyNormalizeLabel(label)}`;
/** DynamoDB's limit on a sort key, in bytes; an S3 key may take 1024 bytes on its own. */
const MAX_SK_BYTES = 1024;

/**
 * Sorts best score first: (1 - score) in billionths, 10 digits, then the key. A key too long for
 * the sort key is replaced by "~" and its SHA-256 (the item still carries the key).
 */
export function labelSk(score: number, key: string): string {
  const s = Number.isFinite(score) ? Math.min(1, Math.max(0, score)) : 0;
  const prefix = `${String(Math.round((1 - s) * 1e9)).padStart(10, '0')}#`;
  const fits = Buffer.byteLength(prefix) + Buffer.byteLength(key) <= MAX_SK_BYTES;
  return `${prefix}${fits ? key : `~${createHash('sha256').update(key).digest('hex')}`}`;
}

/**
 * Whether `sk` has the shape labelSk gives: 10 digits at most 1000000000, '#', a key, at most
 * MAX_SK_BYTES in all. Cursors carry a sort key, and only this shape may reach DynamoDB (anything
 * else, e.g. an over-long one, DynamoDB refuses with a ValidationException: a 500, not a 400).
 */
export function isLabelSk(sk: string): boolean {
  const m = /^(\d{10})#./su.exec(sk);
  return m !== null && Number(m[1]) <= 1e9 && Buffer.byteLength(sk) <= MAX_SK_BYTES;
}

interface ObjectItem {
  pk: string;
  sk: string;
  bucket: string;
  key: string;
  state: 'live' | 'deleted';
  status?: IndexedObject['status'];
  labels?: IndexedLabel[];
  categories?: IndexedLabel[];
  vocabulary?: string;
  colours?: IndexedLabel[];
  names?: IndexedLabel[];
  top?: string;
  model?: string;
  etag?: string;
  seq?: string;
  rev: number;
  owner?: string;
  entries?: Set<string>;
  inflight?: Set<string>;
}

interface LabelItemKey {
  pk: string;
  sk: string;
}

/**
 * The label items a record should have: one per normalised label or category (best score), and one
 * per dominant colour (colourTerm), only when ok. A category named like a class ("mushroom") is one
 * item, with the category's score.
 */
export function labelItemKeys(
  record: Pick<IndexRecord, 'bucket' | 'key' | 'status' | 'labels' | 'categories' | 'colours' | 'names'>,
) {
  if (record.status !== 'ok') return [];
  const best = new Map<LabelTerm, number>();
  const terms = [
    ...[...record.labels, ...(record.categories ?? [])].map((l) => ({
      term: normalizeLabel(l.label),
      score: l.score,
    })),
    ...(record.colours ?? []).map((c) => ({ term: colourTerm(c.label), score: c.score })),
    ...(record.names ?? []).map((n) => ({ term: nameTerm(n.label), score: n.score })),
  ];
  for (const { term, score } of terms) {
    if (!term) continue;
    const seen = best.get(term);
    if (seen === undefined || score > seen) best.set(term, score);
  }
  return [...best].map(([term, score]) => ({
    pk: labelPk(record.bucket, term),
    sk: labelSk(score, record.key),
    score,
  }));
}

const entryOf = (k: LabelItemKey) => JSON.stringify([k.pk, k.sk]);
function parseEntry(entry: string): LabelItemKey | undefined {
  try {
    const [pk, sk] = JSON.parse(entry) as unknown[];
    return typeof pk === 'string' && typeof sk === 'string' ? { pk, sk } : undefined;
  } catch {
    return undefined;
  }
}

const isConditionFailure = (err: unknown) =>
  err instanceof ConditionalCheckFailedException ||
  (err as { name?: string })?.name === 'ConditionalCheckFailedException';

function toIndexed(item: ObjectItem): IndexedObject {
  const out: IndexedObject = {
    bucket: item.bucket,
    key: item.key,
    status: item.status ?? 'ok',
    labels: (item.labels ?? []).map((l) => ({ label: l.label, score: l.score })),
    model: item.model ?? '',
    sequencer: item.seq ?? '',
    state: item.state,
  };
  if (item.etag !== undefined) out.etag = item.etag;
  if (item.categories?.length)
    out.categories = item.categories.map((l) => ({ label: l.label, score: l.score }));
  if (item.vocabulary !== undefined) out.vocabulary = item.vocabulary;
  if (item.colours?.length) out.colours = item.colours.map((l) => ({ label: l.label, score: l.score }));
  if (item.names?.length) out.names = item.names.map((l) => ({ label: l.label, score: l.score }));
  return out;
}

export function encodeCursor(key: LabelItemKey): string {
  return Buffer.from(JSON.stringify({ pk: key.pk, sk: key.sk })).toString('base64url');
}
/**
 * The item key a cursor of partition `pk` names. Only the exact string encodeCursor made is taken:
 * base64 decoding ignores trailing characters, so "<cursor>x" would otherwise pass too.
 */
export function decodeCursor(cursor: string, pk: string): LabelItemKey {
  let parsed: unknown;
  try {
    if (!/^[A-Za-z0-9_-]{1,4096}$/.test(cursor)) throw new Error('not base64url');
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  const c = parsed as { pk?: unknown; sk?: unknown };
  if (c?.pk !== pk || typeof c.sk !== 'string' || !isLabelSk(c.sk)) throw new InvalidCursorError();
  if (encodeCursor({ pk, sk: c.sk }) !== cursor) throw new InvalidCursorError();
  return { pk, sk: c.sk };
}

/**
 * Groups of copies. Two items per member, single-item writes (no transactions):
 *   pointer   pk "o#<bucket>/<key>" sk "g"   group, since, token: which group the key is in (the truth)
 *   member    pk "g#<bucket>" sk "<group id>#<key>"  group, key, since, token: the group's listing
 *             (a key too long for the sort key: "~<sha256 of the key>", as labelSk does)
 * A join puts the member item, then the pointer (PutItem, ALL_OLD), then deletes the member item of
 * the group the pointer named before, if that item is still the one that join wrote (its token).
 * A leave deletes the pointer, then its member item (same condition). Readers keep only member items
 * whose key's pointer names their group, so a member item left by a writer that stopped half-way is
 * never shown (the next join or leave of the key removes it). All groups of a bucket share one
 * partition, in id order (newest first: copyGroupId), so one Query pages through them.
 * Requests: a join 2-3 writes (1 WRU each), a leave 2, the pointer of a key 1 strongly consistent read.
 */
const groupsPk = (bucket: string) => `g#${bucket}`;
export const memberSk = (group: string, key: string) => {
  const fits = Buffer.byteLength(group) + 1 + Buffer.byteLength(key) <= MAX_SK_BYTES;
  return `${group}#${fits ? key : `~${createHash('sha256').update(key).digest('hex')}`}`;
};
/** Query requests per read of a group or a page of groups, and member rows read at most. */
const MAX_GROUP_QUERIES = 20;
const MAX_GROUP_ROWS = 2000;

interface PointerItem {
  group: string;
  since: number;
  token: string;
}
interface MemberItem extends PointerItem {
  sk: string;
  key: string;
}

export const encodeGroupCursor = (id: string) => Buffer.from(`g:${id}`).toString('base64url');
/** The group id a cursor of GET /duplicates names; only the exact string encodeGroupCursor made. */
export function decodeGroupCursor(cursor: string): string {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) throw new InvalidCursorError();
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const id = text.slice(2);
  if (!text.startsWith('g:') || !COPY_GROUP_ID.test(id) || encodeGroupCursor(id) !== cursor)
    throw new InvalidCursorError();
  return id;
}

export function dynamoLabelIndex(client: DynamoDBClient, table: string): LabelIndex {
  const db = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const TableName = table;

  const readObject = async (bucket: string, key: string) =>
    (
      await db.send(
        new GetCommand({ TableName, Key: { pk: objectPk(bucket, key), sk: 'o' }, ConsistentRead: true }),
      )
    ).Item as ObjectItem | undefined;

  /**
   * Step 1: the claim. `condition` decides whether it is accepted; `change.record` is the record (absent
   * for a tombstone). Returns the new rev, or undefined when the condition failed.
   */
  async function claim(
    bucket: string,
    key: string,
    token: string,
    condition: { expression: string; values: Record<string, unknown> },
    change: { seq?: string; record?: IndexRecord; newEntries: string[] },
  ): Promise<number | undefined> {
    // bucket, key, state, status and owner are reserved words: every name goes through an alias.
    const names: Record<string, string> = {
      '#bucket': 'bucket',
      '#key': 'key',
      '#state': 'state',
      '#seq': 'seq',
      '#rev': 'rev',
      '#inflight': 'inflight',
      '#entries': 'entries',
      '#expiresAt': 'expiresAt',
    };
    const values: Record<string, unknown> = {
      ...condition.values,
      ':one': 1,
      ':me': new Set([`${Date.now()}#${token}`]),
      ':owner': token,
      ':bucket': bucket,
      ':key': key,
    };
    const set = ['#bucket = :bucket', '#key = :key', '#state = :state', '#owner = :owner'];
    names['#owner'] = 'owner';
    const remove: string[] = [];
    const add = ['#rev :one', '#inflight :me'];
    if (change.seq !== undefined) {
      set.push('#seq = :seq');
      values[':seq'] = change.seq;
    }
    const r = change.record;
    if (r) {
      values[':state'] = 'live';
      Object.assign(names, { '#status': 'status', '#labels': 'labels', '#model': 'model', '#top': 'top' });
      Object.assign(values, {
        ':status': r.status,
        ':labels': r.status === 'ok' ? r.labels.map((l) => ({ label: l.label, score: l.score })) : [],
        ':model': r.model,
      });
      set.push('#status = :status', '#labels = :labels', '#model = :model');
      Object.assign(names, { '#categories': 'categories', '#vocabulary': 'vocabulary' });
      const categories = r.status === 'ok' ? (r.categories ?? []) : [];
      if (categories.length > 0) {
        set.push('#categories = :categories');
        values[':categories'] = categories.map((l) => ({ label: l.label, score: l.score }));
      } else remove.push('#categories');
      names['#colours'] = 'colours';
      const colours = r.status === 'ok' ? (r.colours ?? []) : [];
      if (colours.length > 0) {
        set.push('#colours = :colours');
        values[':colours'] = colours.map((l) => ({ label: l.label, score: l.score }));
      } else remove.push('#colours');
      names['#names'] = 'names';
      const taught = r.status === 'ok' ? (r.names ?? []) : [];
      if (taught.length > 0) {
        set.push('#names = :names');
        values[':names'] = taught.map((l) => ({ label: l.label, score: l.score }));
      } else remove.push('#names');
      if (r.vocabulary !== undefined) {
        set.push('#vocabulary = :vocabulary');
        values[':vocabulary'] = r.vocabulary;
      } else remove.push('#vocabulary');
      const top = r.status === 'ok' ? r.labels[0]?.label : undefined;
      if (top !== undefined) {
        set.push('#top = :top');
        values[':top'] = top;
      } else remove.push('#top');
      const etag = bareEtag(r.etag);
      names['#etag'] = 'etag';
      if (etag !== undefined) {
        set.push('#etag = :etag');
        values[':etag'] = etag;
      } else remove.push('#etag');
      remove.push('#expiresAt');
    } else {
      values[':state'] = 'deleted';
      values[':expires'] = Math.floor(Date.now() / 1000) + TOMBSTONE_DAYS * 86400;
      Object.assign(names, { '#status': 'status', '#labels': 'labels', '#model': 'model', '#top': 'top' });
      names['#etag'] = 'etag';
      set.push('#expiresAt = :expires');
      Object.assign(names, { '#categories': 'categories', '#vocabulary': 'vocabulary' });
      names['#colours'] = 'colours';
      names['#names'] = 'names';
      remove.push(
        '#status',
        '#labels',
        '#model',
        '#top',
        '#etag',
        '#categories',
        '#vocabulary',
        '#colours',
        '#names',
      );
    }
    if (change.newEntries.length > 0) {
      add.push('#entries :new');
      values[':new'] = new Set(change.newEntries);
    }
    const used = (n: string) =>
      [condition.expression, ...set, ...remove, ...add].some((part) => new RegExp(`${n}\\b`).test(part));
    const ExpressionAttributeNames = Object.fromEntries(Object.entries(names).filter(([n]) => used(n)));
    try {
      const out = await db.send(
        new UpdateCommand({
          TableName,
          Key: { pk: objectPk(bucket, key), sk: 'o' },
          ConditionExpression: condition.expression,
          UpdateExpression: `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''} ADD ${add.join(', ')}`,
          ExpressionAttributeNames,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return (out.Attributes as ObjectItem).rev;
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw err;
    }
  }

  /** Step 2: this claim's label items. */
  async function putLabels(record: IndexRecord, rev: number, seq: string | undefined) {
    const labels = record.labels.map((l) => ({ label: l.label, score: l.score }));
    const categories = (record.categories ?? []).map((l) => ({ label: l.label, score: l.score }));
    const colours = (record.colours ?? []).map((l) => ({ label: l.label, score: l.score }));
    const taught = (record.names ?? []).map((l) => ({ label: l.label, score: l.score }));
    const top = labels[0]?.label ?? '';
    await Promise.all(
      labelItemKeys(record).map(async (k) => {
        try {
          await db.send(
            new PutCommand({
              TableName,
              Item: {
                pk: k.pk,
                sk: k.sk,
                key: record.key,
                score: k.score,
                top,
                labels,
                ...(categories.length ? { categories } : {}),
                ...(colours.length ? { colours } : {}),
                ...(taught.length ? { names: taught } : {}),
                rev,
                seq,
              },
              ConditionExpression: 'attribute_not_exists(pk) OR rev <= :rev',
              ExpressionAttributeValues: { ':rev': rev },
            }),
          );
        } catch (err) {
          if (!isConditionFailure(err)) throw err;
        }
      }),
    );
  }

  /** Steps 3 and 4: read the current record, delete what it does not list, tidy entries. */
  async function finish(bucket: string, key: string, token?: string): Promise<IndexedObject | undefined> {
    const current = await readObject(bucket, key);
    if (!current) return undefined;
    const listed = new Set(
      current.state === 'live'
        ? labelItemKeys({ ...toIndexed(current), labels: current.labels ?? [] }).map(entryOf)
        : [],
    );
    const garbage = [...(current.entries ?? [])].filter((e) => !listed.has(e));
    await Promise.all(
      garbage.map(async (entry) => {
        const k = parseEntry(entry);
        if (!k) return;
        try {
          await db.send(
            new DeleteCommand({
              TableName,
              Key: k,
              ConditionExpression: 'rev < :rev',
              ExpressionAttributeValues: { ':rev': current.rev },
            }),
          );
        } catch (err) {
          // Gone already, or written by a newer claim.
          if (!isConditionFailure(err)) throw err;
        }
      }),
    );
    const now = Date.now();
    const markers = [...(current.inflight ?? [])];
    const expired = markers.filter((m) => now - Number(m.split('#')[0]) > MAX_WRITER_MS);
    const mine = markers.filter((m) => token !== undefined && m.endsWith(`#${token}`));
    const others = markers.filter(
      (m) => !expired.includes(m) && !mine.includes(m) && !m.endsWith(`#${current.owner}`),
    );
    const drop = [...mine, ...expired];
    const shrink = garbage.length > 0 && others.length === 0;
    if (!shrink && drop.length === 0) return toIndexed(current);
    const send = (withEntries: boolean) =>
      db.send(
        new UpdateCommand({
          TableName,
          Key: { pk: objectPk(bucket, key), sk: 'o' },
          ConditionExpression: withEntries ? 'rev = :rev' : 'attribute_exists(pk)',
          UpdateExpression: `DELETE ${[
            ...(withEntries ? ['entries :garbage'] : []),
            ...(drop.length ? ['inflight :drop'] : []),
          ].join(', ')}`,
          ExpressionAttributeValues: {
            ...(withEntries ? { ':rev': current.rev, ':garbage': new Set(garbage) } : {}),
            ...(drop.length ? { ':drop': new Set(drop) } : {}),
          },
        }),
      );
    try {
      await send(shrink);
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      // A newer claim came in meanwhile: it will tidy entries; still drop this writer's marker.
      if (shrink && drop.length > 0) await send(false);
    }
    return toIndexed(current);
  }

  /** Reads of all a group's partitions for one page, at most (each round moves past limit + 1 rows). */
  const GROUP_ROUNDS = 4;
  type GroupRow = { pk: string; sk: string; key: string; score: number; top: string } & Pick<
    IndexRecord,
    'labels' | 'categories'
  >;
  /**
   * A group search: the label partitions of `anyOf` read from the same sort key on (they share one
   * order: best score, then key), merged, each object kept only in the partition of its groupTerm.
   * Rows are final up to the horizon (the lowest last sort key among partitions with more to read);
   * past it the partitions are read again, at most GROUP_ROUNDS times per page.
   */
  async function searchGroup(
    bucket: string,
    pk: string,
    anyOf: readonly LabelTerm[],
    limit: number,
    from: string | undefined,
  ): Promise<SearchPage> {
    const group = new Set(anyOf);
    const partitions = [...group].map((term) => labelPk(bucket, term));
    const items: SearchItem[] = [];
    let after = from;
    for (let round = 0; round < GROUP_ROUNDS; round++) {
      const outs = await Promise.all(
        partitions.map((partition) =>
          db.send(
            new QueryCommand({
              TableName,
              KeyConditionExpression: 'pk = :pk',
              ExpressionAttributeValues: { ':pk': partition },
              ExclusiveStartKey: after === undefined ? undefined : { pk: partition, sk: after },
              Limit: limit + 1,
            }),
          ),
        ),
      );
      let horizon: string | undefined;
      const rows: GroupRow[] = [];
      for (const o of outs) {
        const got = (o.Items ?? []) as GroupRow[];
        rows.push(...got);
        const last = got[got.length - 1];
        const more = o.LastEvaluatedKey !== undefined || got.length > limit;
        if (
          more &&
          last &&
          (horizon === undefined || Buffer.compare(Buffer.from(last.sk), Buffer.from(horizon)) < 0)
        )
          horizon = last.sk;
      }
      rows.sort((a, b) => Buffer.compare(Buffer.from(a.sk), Buffer.from(b.sk)));
      for (const r of rows) {
        if (horizon !== undefined && Buffer.compare(Buffer.from(r.sk), Buffer.from(horizon)) > 0) break;
        if (items.length === limit) return { items, cursor: encodeCursor({ pk, sk: after as string }) };
        after = r.sk;
        const labels = r.labels ?? [];
        const term = groupTerm({ labels, categories: r.categories }, group);
        if (term === undefined || labelPk(bucket, term) !== r.pk) continue;
        items.push({
          key: r.key,
          score: r.score,
          top: r.top,
          labels: labels.map((l) => ({ label: l.label, score: l.score })),
          ...(r.categories?.length
            ? { categories: r.categories.map((l) => ({ label: l.label, score: l.score })) }
            : {}),
        });
      }
      if (horizon === undefined) return { items };
      after = horizon;
    }
    return { items, cursor: encodeCursor({ pk, sk: after as string }) };
  }

  /** The pointer of each key (which group it is in, and the token of the join that put it there). */
  async function pointers(bucket: string, keys: readonly string[]) {
    const out = new Map<string, PointerItem>();
    await Promise.all(
      [...new Set(keys)].map(async (key) => {
        const item = (
          await db.send(
            new GetCommand({ TableName, Key: { pk: objectPk(bucket, key), sk: 'g' }, ConsistentRead: true }),
          )
        ).Item as PointerItem | undefined;
        if (item) out.set(key, item);
      }),
    );
    return out;
  }

  /** Deletes a member item, if it is still the one the join with this token wrote. */
  async function dropMember(bucket: string, group: string, key: string, token: string) {
    try {
      await db.send(
        new DeleteCommand({
          TableName,
          Key: { pk: groupsPk(bucket), sk: memberSk(group, key) },
          ConditionExpression: '#token = :token',
          ExpressionAttributeNames: { '#token': 'token' },
          ExpressionAttributeValues: { ':token': token },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  /** Member items, grouped by id in id order, kept only where the key's pointer names that group. */
  async function confirmed(bucket: string, rows: MemberItem[]): Promise<CopyGroup[]> {
    const named = await pointers(
      bucket,
      rows.map((r) => r.key),
    );
    const groups = new Map<string, CopyMember[]>();
    for (const r of rows) {
      if (named.get(r.key)?.group !== r.group) continue;
      const list = groups.get(r.group) ?? [];
      if (!list.some((m) => m.key === r.key)) list.push({ key: r.key, since: r.since });
      groups.set(r.group, list);
    }
    return [...groups].map(([id, members]) => ({ id, members: members.sort(byAge) }));
  }

  /** Member items of the bucket's groups partition, from sort key `after` on (exclusive), at most `rows`. */
  async function memberRows(
    bucket: string,
    condition: { after?: string; prefix?: string },
    rows: number,
  ): Promise<{ items: MemberItem[]; more: boolean }> {
    const items: MemberItem[] = [];
    let start: Record<string, unknown> | undefined;
    for (let page = 0; page < MAX_GROUP_QUERIES; page++) {
      const out = await db.send(
        new QueryCommand({
          TableName,
          KeyConditionExpression:
            condition.prefix !== undefined
              ? 'pk = :pk AND begins_with(sk, :prefix)'
              : condition.after !== undefined
                ? 'pk = :pk AND sk > :after'
                : 'pk = :pk',
          ExpressionAttributeValues: {
            ':pk': groupsPk(bucket),
            ...(condition.prefix !== undefined ? { ':prefix': condition.prefix } : {}),
            ...(condition.prefix === undefined && condition.after !== undefined
              ? { ':after': condition.after }
              : {}),
          },
          ConsistentRead: true,
          ExclusiveStartKey: start,
          Limit: Math.min(100, rows - items.length),
        }),
      );
      items.push(...((out.Items ?? []) as MemberItem[]));
      start = out.LastEvaluatedKey;
      if (!start) return { items, more: false };
      if (items.length >= rows) return { items, more: true };
    }
    return { items, more: start !== undefined };
  }

  return {
    async copyGroupsOf(bucket, keys) {
      const out = new Map<string, string>();
      for (const [key, p] of await pointers(bucket, keys)) out.set(key, p.group);
      return out;
    },

    async joinCopyGroup(bucket, id, member) {
      if (!COPY_GROUP_ID.test(id)) throw new RangeError(`not a copy group id: ${id}`);
      const token = randomUUID();
      // The member item first: a pointer always names a group whose item for the key exists (or
      // existed: a later join's may replace it, with its own token).
      await db.send(
        new PutCommand({
          TableName,
          Item: {
            pk: groupsPk(bucket),
            sk: memberSk(id, member.key),
            group: id,
            key: member.key,
            since: member.since,
            token,
          },
        }),
      );
      const out = await db.send(
        new PutCommand({
          TableName,
          Item: { pk: objectPk(bucket, member.key), sk: 'g', group: id, since: member.since, token },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const old = out.Attributes as PointerItem | undefined;
      if (old && old.group !== id) await dropMember(bucket, old.group, member.key, old.token);
    },

    async leaveCopyGroup(bucket, key) {
      const out = await db.send(
        new DeleteCommand({
          TableName,
          Key: { pk: objectPk(bucket, key), sk: 'g' },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const old = out.Attributes as PointerItem | undefined;
      if (!old) return undefined;
      await dropMember(bucket, old.group, key, old.token);
      return old.group;
    },

    async copyGroup(bucket, id, limit = MAX_GROUP_ROWS) {
      if (!COPY_GROUP_ID.test(id)) return [];
      const rows = Math.max(1, Math.min(limit, MAX_GROUP_ROWS));
      // Member items whose pointer names another group are dropped: read a few more than asked.
      const { items } = await memberRows(
        bucket,
        { prefix: `${id}#` },
        rows === MAX_GROUP_ROWS ? rows : rows + 8,
      );
      return ((await confirmed(bucket, items))[0]?.members ?? []).slice(0, rows);
    },

    async copyGroups(bucket, { limit, cursor }) {
      if (!Number.isInteger(limit) || limit < 1 || limit > 50)
        throw new RangeError(`limit must be an integer from 1 to 50, not ${limit}`);
      const after = cursor === undefined ? undefined : decodeGroupCursor(cursor);
      // Rows until limit + 1 groups began (the last one shows another page exists), in rounds.
      const rows: MemberItem[] = [];
      let from = after === undefined ? undefined : `${after}$`;
      let more = true;
      const ids = () => new Set(rows.map((r) => r.group));
      while (more && ids().size <= limit && rows.length < MAX_GROUP_ROWS) {
        const out = await memberRows(bucket, from === undefined ? {} : { after: from }, 100);
        rows.push(...out.items);
        more = out.more;
        const last = out.items[out.items.length - 1];
        if (!last) break;
        from = last.sk;
      }
      const pageIds = [...ids()].sort().slice(0, limit);
      const hasMore = more || ids().size > limit;
      const kept = new Set(pageIds);
      const groups = (
        await confirmed(
          bucket,
          rows.filter((r) => kept.has(r.group)),
        )
      ).filter((g) => g.members.length >= 2);
      const last = pageIds[pageIds.length - 1];
      return hasMore && last !== undefined ? { groups, cursor: encodeGroupCursor(last) } : { groups };
    },

    async put(record, sequencer) {
      const seq = normalizeSequencer(sequencer);
      const newEntries = labelItemKeys(record).map(entryOf);
      const token = randomUUID();
      if (seq !== undefined) {
        const rev = await claim(
          record.bucket,
          record.key,
          token,
          {
            expression: 'attribute_not_exists(pk) OR attribute_not_exists(#seq) OR #seq <= :seq',
            values: {},
          },
          { seq, record, newEntries },
        );
        if (rev === undefined) {
          const current = await finish(record.bucket, record.key);
          return { result: 'stale' as IndexWrite, current };
        }
        await putLabels(record, rev, seq);
        return { result: 'written' as IndexWrite, current: await finish(record.bucket, record.key, token) };
      }
      // Version-less: only over nothing, over version-less writes, or over the same version.
      for (let attempt = 0; attempt < VERSIONLESS_ATTEMPTS; attempt++) {
        const before = await readObject(record.bucket, record.key);
        if (before) {
          const sameVersion =
            before.etag !== undefined && record.etag !== undefined && before.etag === bareEtag(record.etag);
          if (before.state === 'deleted' || (before.seq !== undefined && !sameVersion))
            return { result: 'stale' as IndexWrite, current: toIndexed(before) };
        }
        const rev = await claim(
          record.bucket,
          record.key,
          token,
          before
            ? { expression: '#rev = :was', values: { ':was': before.rev } }
            : { expression: 'attribute_not_exists(pk)', values: {} },
          { record, newEntries },
        );
        if (rev === undefined) continue;
        await putLabels(record, rev, before?.seq);
        return { result: 'written' as IndexWrite, current: await finish(record.bucket, record.key, token) };
      }
      throw new Error(
        `label index: s3://${record.bucket}/${record.key} kept changing (${VERSIONLESS_ATTEMPTS} attempts)`,
      );
    },

    async remove(bucket, key, sequencer) {
      const seq = normalizeSequencer(sequencer);
      const token = randomUUID();
      const rev = await claim(
        bucket,
        key,
        token,
        seq !== undefined
          ? {
              expression: 'attribute_not_exists(pk) OR attribute_not_exists(#seq) OR #seq <= :seq',
              values: {},
            }
          : // Without a sequencer only version-less entries can be known to be older.
            { expression: 'attribute_not_exists(pk) OR attribute_not_exists(#seq)', values: {} },
        { seq, newEntries: [] },
      );
      if (rev === undefined) {
        await finish(bucket, key);
        return { result: 'stale' };
      }
      await finish(bucket, key, token);
      return { result: 'written' };
    },

    async get(bucket, key) {
      const item = await readObject(bucket, key);
      return item ? toIndexed(item) : undefined;
    },

    async search(bucket, term, { limit, cursor, spellings = [], anyOf }): Promise<SearchPage> {
      if (!Number.isInteger(limit) || limit < 1 || limit > 100)
        throw new RangeError(`limit must be an integer from 1 to 100, not ${limit}`);
      const pk = labelPk(bucket, term);
      const start = cursor === undefined ? undefined : decodeCursor(cursor, pk);
      if (anyOf?.length) return searchGroup(bucket, pk, anyOf, limit, start?.sk);
      const legacy = [term, ...spellings].map((l) => legacyLabelPk(bucket, l)).filter((p) => p !== pk);
      const outs = await Promise.all(
        [...new Set([pk, ...legacy])].map((partition) =>
          db.send(
            new QueryCommand({
              TableName,
              KeyConditionExpression: 'pk = :pk',
              ExpressionAttributeValues: { ':pk': partition },
              ExclusiveStartKey: start && { pk: partition, sk: start.sk },
              // One more than asked: tells whether another page exists without an empty last page.
              Limit: limit + 1,
            }),
          ),
        ),
      );
      type Row = {
        pk: string;
        sk: string;
        key: string;
        score: number;
        top: string;
        labels: IndexedLabel[];
        categories?: IndexedLabel[];
        colours?: IndexedLabel[];
        names?: IndexedLabel[];
      };
      const seen = new Set<string>();
      const rows = (outs.flatMap((o) => o.Items ?? []) as Row[])
        .sort((a, b) => Buffer.compare(Buffer.from(a.sk), Buffer.from(b.sk)))
        .filter((r) => !seen.has(r.key) && seen.add(r.key));
      const page = rows.slice(0, limit);
      const items = page.map((r) => ({
        key: r.key,
        score: r.score,
        top: r.top,
        labels: (r.labels ?? []).map((l) => ({ label: l.label, score: l.score })),
        ...(r.categories?.length
          ? { categories: r.categories.map((l) => ({ label: l.label, score: l.score })) }
          : {}),
        ...(r.colours?.length ? { colours: r.colours.map((l) => ({ label: l.label, score: l.score })) } : {}),
        ...(r.names?.length ? { names: r.names.map((l) => ({ label: l.label, score: l.score })) } : {}),
      }));
      const last = page[page.length - 1];
      return rows.length > limit && last ? { items, cursor: encodeCursor({ pk, sk: last.sk }) } : { items };
    },
  };
}
