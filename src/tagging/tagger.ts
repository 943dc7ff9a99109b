/**
 * The S3 tagger: for each ObjectCreated record, read the object (bounded by the image limit),
 * classify, record the labels in the label index (when one is configured), merge the tags with the
 * object's existing ones and PutObjectTagging. ObjectRemoved records remove the object from the index.
 *
 * S3 requests per image (see ObjectStore): one GetObject with a Range of at most the image limit;
 * its response carries the full size (Content-Range), the ETag and the tag count, so
 * - no HeadObject: bytes and size come from one response, hence from one object version;
 * - an object whose event size is over the limit is probed with a 1-byte read instead (the size in
 *   the event may be stale: the current version decides), so it is refused without downloading it;
 * - a size in the event that lies (or an object replaced by a larger one) can never make the tagger
 *   read more than the limit: the Range bounds it;
 * - GetObjectTagging always, right before PutObjectTagging, even when GetObject's tag count says
 *   none: S3 has no conditional tag write, and a user's tags put during the classification would
 *   otherwise be overwritten; reading them last keeps that window to one round trip;
 * - PutObjectTagging only when the tags change.
 *
 * - Bad images (unsupported, corrupt, too large) get a status tag and count as handled: retrying
 *   cannot help them.
 * - An object deleted before it is processed is skipped.
 * - Anything else (throttling, 5xx, access denied, a classifier fault) is thrown, so Lambda retries
 *   the asynchronous invocation and finally hands the event to the on-failure destination.
 * - Idempotent: a duplicate delivery computes the same tags and writes nothing when they are already
 *   there. PutObjectTagging emits s3:ObjectTagging:Put, never ObjectCreated, so it cannot re-trigger.
 *
 * With a label index (TaggerOptions.index), duplicate, out-of-order and concurrent deliveries
 * leave the tags and the index equal to the newest event of each key:
 * 1. read   A record with an ETag reads exactly that version (If-Match). If a newer version
 *           replaced it (412): `superseded`, nothing is written; the newer version's own event will
 *           come. So the labels a record carries always describe the version its event names.
 * 2. index  index.put(record, sequencer) before any tag write. The index accepts writes in
 *           sequencer order (src/aws/dynamo-index.ts): an older event is `stale` and writes no tags.
 * 3. tags   getTags, merge, putTags (the user's own tags are never touched), from the newest record
 *           the index returned (its own, or a newer event's when one overtook it).
 * 4. check  index.get after the tag write: if the index now holds a record whose service tags
 *           differ from the ones just written (a newer event claimed the key meanwhile), write those
 *           (repair), and check again, at most MAX_REPAIRS times.
 * Why this converges: every accepted index write is followed, by the same invocation, by a tag write
 * and then a check of the index. Consider the newest event of a key, E. Its index write is the last
 * one (older ones are stale from then on). Any tag write that lands after E's tag write was made by
 * an invocation whose check follows it and reads the index after E's write: it sees E's record and
 * re-applies it. So the last tag write of the key applies E's record (the user's tags merged), and
 * the tags equal the index. A deleted object has no tags to fix and leaves the index (ObjectRemoved
 * claims a tombstone in sequencer order). Without an index the tagger works as before (no step 2, 4).
 *
 * With a vector index too (TaggerOptions.vectors, src/tagging/vector-index.ts), each object's
 * embedding is kept equal to the newest version of its key, by the same sequencer order:
 * 5. vector  beside step 3 (after the index write), if the index's record is this version (same ETag), put the vector (key =
 *            object key; metadata: ETag, model, top labels, categories, SHA-256 of the bytes, the top
 *            classes and their scores); a status other than ok deletes it. If the index holds another
 *            version, that version's own invocation writes its vector: nothing is written.
 *            ObjectRemoved that claims the tombstone deletes the vector.
 * 6. settle  index.get after the vector write (step 4's read serves): if the index now holds another version (a newer event
 *            came in while this one wrote: its vector may have been overwritten by this older one),
 *            or the object is deleted, make the vector match it: delete it, keep it when it already
 *            holds that version's ETag, or else read that version (If-Match its ETag), embed it and
 *            put it; then check again, at most MAX_REPAIRS times. A version that is gone meanwhile
 *            (412, 404) belongs to a newer event, whose invocation does steps 5-6 after this one.
 * Why this converges: S3 Vectors has no conditional write, so every vector write (put or delete) is
 * followed by a check of the label index by the same invocation. The last vector write of a key
 * happens after the newest event's index write (that event's invocation writes its vector after its
 * index write), so its check sees the newest record and repairs anything else.
 * 7. copies  after step 6, when the vector index holds this version's vector (or none: deleted, not
 *            an image), src/tagging/duplicates.ts records the object's group of copies in the label
 *            index from one query of its nearest neighbours (none: it leaves its group), then checks
 *            the index again and redoes it for a newer version. Not when a newer version owns the key.
 */
import { createHash } from 'node:crypto';
import type { S3Event } from 'aws-lambda';
import type { Classification, Classifier } from '../classifier/classifier.ts';
import { ImageError } from '../classifier/errors.ts';
import { DEFAULT_CATEGORY_MIN_SCORE } from '../classifier/postprocess.ts';
import { COLOURS, type ColourName } from '../classifier/properties.ts';
import { tagNames, type Vocabulary } from '../classifier/vocabulary.ts';
import type { TagLanguage } from '../settings.ts';
import { COPY_QUERY_TOP_K, type CopiesOutcome, recordCopies } from './duplicates.ts';
import { type S3EventBridgeEvent, toRecords } from './events.ts';
import {
  bareEtag,
  type IndexedLabel,
  type IndexedObject,
  type IndexWrite,
  type LabelIndex,
  normalizeLabel,
} from './label-index.ts';
import { ObjectChangedError, ObjectMissingError, type ObjectStore } from './object-store.ts';
import {
  formatModelRef,
  isTaggable,
  MIN_INDEXED_COLOUR_SHARE,
  mergeTags,
  sameTags,
  serviceTags,
  splitModelRef,
  type Tag,
  type TagStatus,
} from './tags.ts';
import { type DotProducts, scoreNames, type TaughtLabel } from './taught-labels.ts';
import type { StoredVector, VectorIndex, VectorMatch, VectorMetadata } from './vector-index.ts';

/** What invokes the tagger: the bucket notification, or an EventBridge S3 event for a bucket routed there. */
export type TaggerEvent = S3Event | S3EventBridgeEvent;

export interface TaggerOptions {
  store: ObjectStore;
  classifier: Pick<Classifier, 'classify' | 'folder' | 'limits'>;
  /** Keys under it are tagged (UPLOAD_PREFIX: src/settings.ts). */
  prefix: string;
  /** Key suffixes tagged, any letter case (IMAGE_SUFFIXES). */
  suffixes: readonly string[];
  /** Labels and categories scoring less are neither tagged nor indexed (MIN_CONFIDENCE). */
  minConfidence: number;
  /** Categories scoring less are neither tagged nor indexed (CATEGORY_MIN_SCORE; default DEFAULT_CATEGORY_MIN_SCORE). */
  categoryMinScore?: number;
  /** The language of the names in the tags (TAG_LANGUAGE; the index holds English); zh needs a vocabulary. */
  language: TagLanguage;
  /** The label index (src/tagging/label-index.ts); without one, only tags are written. */
  index?: LabelIndex;
  /**
   * The vector index of the served model (src/tagging/vector-index.ts): the embedding of each
   * object, kept with the label index's ordering (used only with `index`).
   */
  vectors?: VectorIndex;
  /**
   * With a vector index: record each object's group of copies in the label index (step 7,
   * src/tagging/duplicates.ts). Default true; false only to measure what it costs.
   */
  copies?: boolean;
  /**
   * The taught labels of a bucket (src/tagging/taught-labels.ts: cachedTaughtLabels, read again
   * after TAUGHT_LABELS_TTL_MS): each upload's embedding is scored against those of its model, and
   * the names it matches go into the index (under nameTerm) and tagger:names.
   */
  names?: (bucket: string) => Promise<readonly TaughtLabel[]>;
  /**
   * How a long list of names is multiplied with the embedding (src/classifier/dot-products.ts: ONNX
   * Runtime); without it, and for short lists, scoreNames' JavaScript loop.
   */
  dotProducts?: DotProducts;
}

/**
 * What the vector index holds for the object after its tagging: this version's vector (`written`),
 * none (`deleted`: a status other than ok, or the object is gone), or it was left to the invocation
 * of a newer version (`newer`).
 */
export type VectorOutcome = 'written' | 'deleted' | 'newer';

/** Re-applications of a newer index record to the tags, per invocation, before giving up (throws). */
export const MAX_REPAIRS = 5;

/** Which event a tagging is about: its sequencer orders it, its ETag names the version. */
export interface EventVersion {
  sequencer?: string;
  etag?: string;
  /** When the version read was written (Last-Modified, epoch ms), when the read told it. */
  uploadedAt?: number;
}

export type TagOutcome = {
  bucket: string;
  key: string;
} & (
  | { result: 'ignored'; reason: 'not-object-created' | 'prefix-or-suffix' }
  | { result: 'malformed'; detail: string }
  | { result: 'missing' }
  /** A newer version replaced the one the event named: nothing written (its own event will come). */
  | { result: 'superseded' }
  /** ObjectRemoved: the index entry is gone (`written`), or a newer event owns the key (`stale`). */
  | { result: 'removed'; index: IndexWrite; vector?: VectorOutcome; copies?: CopiesOutcome }
  | {
      /** `stale`: the index holds a newer event of the key; no tags were written. */
      result: 'tagged' | 'unchanged' | 'stale';
      status: TagStatus;
      /** The object's tags after the write (empty when stale). */
      tags: Tag[];
      /** Service tags that did not fit next to the user's tags. */
      dropped: string[];
      classification?: Classification;
      /** Message of the image error, when status is not ok. */
      detail?: string;
      /** Times a newer index record was applied to the tags instead of this one's. */
      repairs?: number;
      /** With a vector index: what it holds for the key now (see VectorOutcome). */
      vector?: VectorOutcome;
      /** With a vector index: the object's group of copies (step 7), unless a newer version owns the key. */
      copies?: CopiesOutcome;
    }
);

/** What the tags show of one object: the service's part, computed from a record. */
interface TagTarget {
  status: TagStatus;
  labels: IndexedLabel[];
  categories?: IndexedLabel[];
  /** Dominant colours by English name, share of the picture as score. */
  colours?: IndexedLabel[];
  /** Taught names, similarity as score (user text: the same in every language). */
  names?: IndexedLabel[];
  /** "<name>@<version>" */
  model: string;
  vocabulary?: string;
}

/** Each vocabulary's Chinese tag names, made once (not per object tagged). */
const zhTagNames = new WeakMap<Vocabulary, Map<string, string>>();

/** The names written in the tags: English as indexed, or their Chinese form (TAG_LANGUAGE=zh). */
function namer(o: TaggerOptions): (name: string) => string {
  const { vocabulary, labels } = o.classifier.folder;
  if (o.language !== 'zh' || !vocabulary) return (name) => name;
  let zh = zhTagNames.get(vocabulary);
  if (!zh) {
    zh = tagNames(vocabulary, labels);
    zhTagNames.set(vocabulary, zh);
  }
  const names = zh;
  return (name) => names.get(name) ?? name;
}

function serviceTagsOf(t: TagTarget, language: TagLanguage, name: (n: string) => string = (n) => n): Tag[] {
  const named = (list: IndexedLabel[]) => list.map((l) => ({ label: name(l.label), score: l.score }));
  const colourName = (n: string) => (language === 'zh' ? (COLOURS[n as ColourName] ?? n) : n);
  return serviceTags(
    t.status,
    splitModelRef(t.model),
    named(t.labels),
    {
      categories: named(t.categories ?? []),
      ...(t.vocabulary ? { ref: t.vocabulary } : {}),
    },
    (t.colours ?? []).map((c) => ({ label: colourName(c.label), score: c.score })),
    t.names ?? [],
  );
}

/** Merges the service tags with the object's current ones and writes them if they changed. */
async function applyTags(o: TaggerOptions, bucket: string, key: string, ours: Tag[]) {
  const existing = await o.store.getTags(bucket, key);
  const { tags, dropped } = mergeTags(existing, ours);
  if (sameTags(existing, tags)) return { tags, dropped, changed: false };
  await o.store.putTags(bucket, key, tags);
  return { tags, dropped, changed: true };
}

async function writeTags(
  o: TaggerOptions,
  bucket: string,
  key: string,
  version: EventVersion,
  status: TagStatus,
  classification?: Classification,
  detail?: string,
  bytes?: Uint8Array,
): Promise<TagOutcome> {
  const { meta, vocabulary } = o.classifier.folder;
  const scored = (list: readonly IndexedLabel[] | undefined, min = o.minConfidence) =>
    status === 'ok'
      ? (list ?? []).filter((l) => l.score >= min).map((l) => ({ label: l.label, score: l.score }))
      : [];
  const categories = scored(
    classification?.categories,
    Math.max(o.minConfidence, o.categoryMinScore ?? DEFAULT_CATEGORY_MIN_SCORE),
  );
  // The best guess always stays, with its score, even under the threshold, which filters the rest:
  // an image the service looked at is never `ok` without a top label.
  const best = classification?.labels[0];
  const labels = scored(classification?.labels);
  const colours =
    status === 'ok'
      ? (classification?.properties?.colours ?? [])
          .map((c) => ({ label: c.name, score: Math.round(c.percent * 10) / 1000 }))
          .filter((c) => c.score >= MIN_INDEXED_COLOUR_SHARE)
      : [];
  const names =
    status === 'ok' && classification?.embedding && o.names
      ? await scoreNames(
          await o.names(bucket),
          formatModelRef(meta),
          { embedding: classification.embedding, categories },
          o.dotProducts,
        )
      : [];
  const own: TagTarget = {
    status,
    labels:
      status === 'ok' && labels.length === 0 && best ? [{ label: best.label, score: best.score }] : labels,
    ...(categories.length ? { categories } : {}),
    ...(colours.length ? { colours } : {}),
    ...(names.length ? { names } : {}),
    model: formatModelRef(meta),
    ...(vocabulary ? { vocabulary: formatModelRef(vocabulary) } : {}),
  };
  const name = namer(o);
  const tagsOf = (t: TagTarget) => serviceTagsOf(t, o.language, name);
  const common = { bucket, key, status, classification, detail };
  if (!o.index) {
    const ours = tagsOf(own);
    const { tags, dropped, changed } = await applyTags(o, bucket, key, ours);
    return { ...common, tags, dropped, result: changed ? 'tagged' : 'unchanged' };
  }
  const put = await o.index.put({ bucket, key, ...own, etag: version.etag }, version.sequencer);
  if (put.result === 'stale') return { ...common, result: 'stale', tags: [], dropped: [] };
  let target = own;
  let repairs = 0;
  const differs = (t: TagTarget) => !sameTags(tagsOf(t), tagsOf(target));
  // A newer event overtook this one while it was being written: show that one.
  if (put.current && put.current.state === 'live' && differs(put.current)) {
    target = put.current;
    repairs++;
  }
  // Step 5 runs beside the tag write (both follow the index write), so that the check below (step
  // 4's index.get) also re-checks the vector write (step 6's first read).
  const draft =
    status === 'ok' && classification && bytes
      ? vectorOf(o, key, { ...own, etag: version.etag }, classification, bytes, version.uploadedAt)
      : undefined;
  // Step 7's query of the neighbours also runs beside the tag write, once the vector is written.
  const [tagged, written] = await Promise.allSettled([
    applyTags(o, bucket, key, tagsOf(target)),
    writeVector(o, key, version.etag, put.current, draft).then(async (w) => ({
      w,
      neighbours:
        draft && w !== undefined && w !== null && w !== 'newer' && groupsOn(o)
          ? await (o.vectors as VectorIndex).query(draft.vector, { topK: COPY_QUERY_TOP_K })
          : undefined,
    })),
  ]);
  if (written.status === 'rejected') throw written.reason;
  const { w: vectorWrite, neighbours } = written.value;
  if (tagged.status === 'rejected') {
    // The tag write failed (the object is gone, S3 throttled...): the vector written still settles.
    if (vectorWrite !== undefined && vectorWrite !== 'newer') await settleVector(o, bucket, key, vectorWrite);
    throw tagged.reason;
  }
  let applied = tagged.value;
  let changed = applied.changed;
  let current: IndexedObject | undefined;
  for (;;) {
    current = await o.index.get(bucket, key);
    if (current?.state !== 'live' || !differs(current)) break;
    if (repairs >= MAX_REPAIRS)
      throw new Error(
        `s3://${bucket}/${key}: the index changed ${repairs} times while its tags were written; retrying`,
      );
    target = current;
    repairs++;
    applied = await applyTags(o, bucket, key, tagsOf(target));
    changed ||= applied.changed;
  }
  const vector =
    vectorWrite === undefined
      ? undefined
      : vectorWrite === 'newer'
        ? 'newer'
        : await settleVector(o, bucket, key, vectorWrite, current);
  // Step 7: its group of copies, from the vector just written when the index still names it.
  const ours = draft && vector === 'written' && bareEtag(current?.etag) === bareEtag(version.etag);
  const copies =
    vector === 'written' || vector === 'deleted'
      ? await groupCopies(o, bucket, key, vector === 'deleted' ? null : ours ? draft : undefined, neighbours)
      : undefined;
  return {
    ...common,
    tags: applied.tags,
    dropped: applied.dropped,
    result: changed ? 'tagged' : 'unchanged',
    ...(repairs > 0 ? { repairs } : {}),
    ...(vector ? { vector } : {}),
    ...(copies ? { copies } : {}),
  };
}

/** Whether step 7 runs: with a label index and a vector index, unless turned off. */
const groupsOn = (o: TaggerOptions) => o.vectors !== undefined && o.index !== undefined && o.copies !== false;

/** Step 7 (src/tagging/duplicates.ts). `neighbours`: those of `vector`, queried already. */
function groupCopies(
  o: TaggerOptions,
  bucket: string,
  key: string,
  vector: StoredVector | null | undefined,
  neighbours?: VectorMatch[],
): Promise<CopiesOutcome> | undefined {
  if (!o.vectors || !o.index || !groupsOn(o)) return undefined;
  return recordCopies({ index: o.index, vectors: o.vectors }, bucket, key, vector, 0, neighbours);
}

/**
 * The vector of one object version: its embedding, with the metadata of its index record (labels,
 * categories as search words), the model's top classes and scores, and the SHA-256 of its bytes.
 * Undefined when the classification has no embedding.
 */
function vectorOf(
  o: TaggerOptions,
  key: string,
  record: { etag?: string; labels: IndexedLabel[]; categories?: IndexedLabel[]; vocabulary?: string },
  classification: Classification,
  bytes: Uint8Array,
  uploadedAt: number | undefined,
): StoredVector | undefined {
  const { embedding } = classification;
  if (!embedding) return undefined;
  const metadata: VectorMetadata = {
    etag: bareEtag(record.etag) ?? '',
    model: formatModelRef(o.classifier.folder.meta),
    labels: record.labels.map((l) => normalizeLabel(l.label)),
    categories: (record.categories ?? []).map((l) => normalizeLabel(l.label)),
    sha256: createHash('sha256').update(bytes).digest('hex'),
    // When this version was written (Last-Modified; the time of its first vector write when unknown):
    // the oldest member of a group of copies represents it (duplicates.ts).
    uploadedAt: uploadedAt ?? Date.now(),
    classes: classification.labels.map((l) => l.index),
    scores: classification.labels.map((l) => l.score),
    ...(record.vocabulary ? { vocabulary: record.vocabulary } : {}),
  };
  return { key, vector: embedding, metadata };
}

/**
 * Step 5: writes this version's vector (or deletes the key's: `draft` undefined) when the index's
 * record `current` (what the index write left) is this version; returns what it wrote (the ETag, or
 * null for a delete) for step 6, 'newer' when a newer version owns the key, undefined without a
 * vector index.
 */
async function writeVector(
  o: TaggerOptions,
  key: string,
  etag: string | undefined,
  current: IndexedObject | undefined,
  draft: StoredVector | undefined,
): Promise<string | null | 'newer' | undefined> {
  if (!o.vectors || !o.index) return undefined;
  const ours = bareEtag(etag);
  if (current?.state !== 'live' || (ours !== undefined && bareEtag(current.etag) !== ours)) return 'newer';
  if (draft) await o.vectors.put([draft]);
  else await o.vectors.delete([key]);
  return draft ? (ours ?? '') : null;
}

/**
 * Step 6: after a vector write (`wrote`: the ETag of the version written, null for a delete), makes
 * the key's vector match the index's newest record, re-checking after each repair.
 */
async function settleVector(
  o: TaggerOptions,
  bucket: string,
  key: string,
  wrote: string | null,
  /** The index read right after the write, when the caller made one. */
  readAfter?: IndexedObject,
): Promise<VectorOutcome> {
  const vectors = o.vectors as VectorIndex;
  const index = o.index as LabelIndex;
  let first = readAfter === undefined ? undefined : { current: readAfter };
  for (let repairs = 0; ; repairs++) {
    const current = first ? first.current : await index.get(bucket, key);
    first = undefined;
    const live = current?.state === 'live' ? current : undefined;
    const want = live?.status === 'ok' ? (bareEtag(live.etag) ?? '') : null;
    // '' (a version without an ETag) cannot be told apart: it matches what was written.
    if (want === wrote || (want === '' && wrote !== null)) return wrote === null ? 'deleted' : 'written';
    if (repairs >= MAX_REPAIRS)
      throw new Error(
        `s3://${bucket}/${key}: the index changed ${repairs} times while its vector was written; retrying`,
      );
    if (want === null) {
      await vectors.delete([key]);
      wrote = null;
      continue;
    }
    const [stored] = await vectors.get([key]);
    if (stored && bareEtag(stored.metadata.etag) === want) return 'written';
    const fresh = await embedVersion(o, bucket, key, live as IndexedObject);
    if (fresh === 'gone') return 'newer';
    if (fresh) await vectors.put([fresh]);
    else await vectors.delete([key]);
    wrote = fresh ? want : null;
  }
}

/**
 * The vector of the version an index record names, read (If-Match its ETag) and embedded again:
 * undefined when it gives none (an image error, no embedding), 'gone' when that version no longer
 * exists (a newer event's invocation owns the key).
 */
async function embedVersion(
  o: TaggerOptions,
  bucket: string,
  key: string,
  record: IndexedObject,
): Promise<StoredVector | undefined | 'gone'> {
  const maxBytes = o.classifier.limits.maxBytes;
  const etag = bareEtag(record.etag);
  try {
    const object = await o.store.get(bucket, key, {
      maxBytes,
      ...(etag ? { ifMatch: `"${etag}"` } : {}),
    });
    if (object.size > maxBytes || object.bytes.length !== object.size) return undefined;
    const classification = await o.classifier.classify(object.bytes, { minConfidence: o.minConfidence });
    return vectorOf(o, key, record, classification, object.bytes, object.lastModified?.getTime());
  } catch (err) {
    if (err instanceof ObjectMissingError || err instanceof ObjectChangedError) return 'gone';
    if (err instanceof ImageError) return undefined;
    throw err;
  }
}

/**
 * Tags one object (key already decoded). `eventSize` is the size the S3 event announced, if any: over
 * the limit, only one byte is read to learn the current version's size. `version` is the event's
 * sequencer and ETag; without them (backfill, Batch Operations) the object is tagged as it is now.
 */
export async function tagObject(
  o: TaggerOptions,
  bucket: string,
  key: string,
  eventSize?: number,
  version: EventVersion = {},
): Promise<TagOutcome> {
  if (!isTaggable(key, o.prefix, o.suffixes))
    return { bucket, key, result: 'ignored', reason: 'prefix-or-suffix' };
  const maxBytes = o.classifier.limits.maxBytes;
  // Without an index nothing orders the writes, so any version is read, as before.
  const ifMatch = o.index ? version.etag : undefined;
  try {
    const probe = eventSize !== undefined && eventSize > maxBytes;
    // An object announced as empty is asked for without a Range (none is satisfiable on it).
    let object = await o.store.get(bucket, key, {
      maxBytes: probe ? 1 : maxBytes,
      ranged: eventSize !== 0,
      ...(ifMatch ? { ifMatch } : {}),
    });
    // The probe found a version that fits (the object was replaced since the event): read it.
    if (object.size <= maxBytes && object.bytes.length < object.size)
      object = await o.store.get(bucket, key, { maxBytes, ...(ifMatch ? { ifMatch } : {}) });
    const read = {
      ...version,
      etag: object.etag ?? version.etag,
      ...(object.lastModified ? { uploadedAt: object.lastModified.getTime() } : {}),
    };
    if (object.size > maxBytes)
      return await writeTags(
        o,
        bucket,
        key,
        read,
        'ImageTooLarge',
        undefined,
        `object is ${object.size} bytes; the limit is ${maxBytes} bytes`,
      );
    if (object.bytes.length !== object.size)
      throw new Error(`s3://${bucket}/${key}: read ${object.bytes.length} of ${object.size} bytes`);
    let classification: Classification;
    try {
      classification = await o.classifier.classify(object.bytes, {
        minConfidence: o.minConfidence,
        categoryMinScore: o.categoryMinScore ?? DEFAULT_CATEGORY_MIN_SCORE,
      });
    } catch (err) {
      if (err instanceof ImageError && err.code !== 'InvalidArgument')
        return await writeTags(o, bucket, key, read, err.code, undefined, err.message);
      throw err;
    }
    return await writeTags(o, bucket, key, read, 'ok', classification, undefined, object.bytes);
  } catch (err) {
    if (err instanceof ObjectMissingError) return { bucket, key, result: 'missing' };
    if (err instanceof ObjectChangedError) return { bucket, key, result: 'superseded' };
    throw err;
  }
}

const sameNames = (a: readonly IndexedLabel[], b: readonly IndexedLabel[]) =>
  a.length === b.length && a.every((n, i) => n.label === b[i]?.label && n.score === b[i]?.score);

/**
 * Changes the taught names of an object as the index holds it now (teaching or forgetting a name:
 * src/tagging/teaching.ts). `change` gets its names and returns the new ones. Each round reads the
 * index record and writes it again, version-less (same ETag, so only over that version) with the
 * new names, until a read shows `change` has nothing left to do (two teachings of one object at
 * once both land); then the tags follow the index's record, checked again as step 4 does. With
 * `etag`, only that version is changed (the one whose embedding was scored). 'gone': no live `ok`
 * record of that version (deleted, replaced, a bad image): a new version's tagging scores the names.
 */
export async function updateNames(
  o: Pick<TaggerOptions, 'store' | 'classifier' | 'language'> & { index: LabelIndex },
  bucket: string,
  key: string,
  change: (names: readonly IndexedLabel[]) => IndexedLabel[],
  etag?: string,
): Promise<'changed' | 'unchanged' | 'gone'> {
  let target: IndexedObject | undefined;
  let wrote = false;
  for (let attempt = 0; ; attempt++) {
    const current = await o.index.get(bucket, key);
    const gone =
      current?.state !== 'live' ||
      current.status !== 'ok' ||
      (etag !== undefined && bareEtag(current.etag) !== bareEtag(etag));
    if (gone) return 'gone';
    const names = change(current.names ?? []);
    if (sameNames(names, current.names ?? [])) {
      if (!wrote) return 'unchanged';
      target = current;
      break;
    }
    if (attempt >= MAX_REPAIRS)
      throw new Error(
        `s3://${bucket}/${key}: the index changed ${attempt} times while its names were written`,
      );
    const { sequencer: _, state: __, ...record } = current;
    await o.index.put({ ...record, names }, undefined);
    wrote = true;
  }
  const name = namer(o as TaggerOptions);
  const tagsOf = (t: TagTarget) => serviceTagsOf(t, o.language, name);
  for (let repairs = 0; ; repairs++) {
    await applyTags(o as TaggerOptions, bucket, key, tagsOf(target));
    const now = await o.index.get(bucket, key);
    if (now?.state !== 'live' || sameTags(tagsOf(now), tagsOf(target))) return 'changed';
    if (repairs >= MAX_REPAIRS)
      throw new Error(
        `s3://${bucket}/${key}: the index changed ${repairs} times while its tags were written`,
      );
    target = now;
  }
}

/**
 * Handles every record of an S3 notification or EventBridge S3 event (src/tagging/events.ts).
 * Records are independent: each is judged alone, a malformed one is reported and skipped (no retry
 * can mend it), and the first transient error is thrown after all were attempted (a retry repeats
 * the others harmlessly: they are idempotent). ObjectRemoved records only touch the index (no S3
 * request); without an index they are ignored.
 */
export async function tagS3Event(o: TaggerOptions, event: TaggerEvent): Promise<TagOutcome[]> {
  const outcomes: TagOutcome[] = [];
  let failure: unknown;
  for (const record of toRecords(event)) {
    if (typeof record === 'string') {
      outcomes.push({ bucket: '', key: '', result: 'malformed', detail: record });
      continue;
    }
    const { bucket, key } = record;
    try {
      if (record.eventName.startsWith('ObjectRemoved:') && o.index) {
        if (!isTaggable(key, o.prefix, o.suffixes))
          outcomes.push({ bucket, key, result: 'ignored', reason: 'prefix-or-suffix' });
        else {
          const { result } = await o.index.remove(bucket, key, record.sequencer);
          // The tombstone is this event's: the vector goes too (then settles, as any vector write).
          let vector: VectorOutcome | undefined;
          if (result === 'written' && o.vectors) {
            await o.vectors.delete([key]);
            vector = await settleVector(o, bucket, key, null);
          }
          const copies = vector === 'deleted' ? await groupCopies(o, bucket, key, null) : undefined;
          outcomes.push({
            bucket,
            key,
            result: 'removed',
            index: result,
            ...(vector ? { vector } : {}),
            ...(copies ? { copies } : {}),
          });
        }
        continue;
      }
      if (!record.eventName.startsWith('ObjectCreated:')) {
        outcomes.push({ bucket, key, result: 'ignored', reason: 'not-object-created' });
        continue;
      }
      outcomes.push(
        await tagObject(o, bucket, key, record.size, { sequencer: record.sequencer, etag: record.etag }),
      );
    } catch (err) {
      failure ??= err;
    }
  }
  if (failure !== undefined) throw failure;
  return outcomes;
}
