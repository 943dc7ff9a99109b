/**
 * Backfill: tags the objects already in a bucket through the tagger's own path (tagObject), and
 * re-tags those an older model tagged. `npm run backfill` (tools/backfill/cli.ts) wires it to S3.
 *
 * Which objects (per listed key, in listing order):
 * - not taggable (outside the tagger's prefix, not an image suffix): skipped, no request;
 * - GetObjectTagging, then:
 *   - no `tagger:status`: tagged;
 *   - with --retag-older-than NAME@V: re-tagged when `tagger:model` is NAME@U with U older than V;
 *     when NAME is the model's vocabulary (imagenet-1k@2), when `tagger:vocabulary` is older than V
 *     or absent (tagged before vocabularies: they get categories)
 *     (compareModelVersions: numeric-aware, "1.10" is newer than "1.9"); a tag of another model
 *     name, or no `tagger:model` at all (the user's own tags left no room for it), is not comparable
 *     and is left alone (skipped, "other model"): re-tagging it would not make it comparable either;
 *   - else already current: skipped, unless a label index is configured and does not hold the object
 *     live with the same model (objects tagged before the index existed, or whose index write was
 *     lost): then it goes through tagObject again, which rewrites the index (its tags come out
 *     unchanged), counted as `indexed`. One GetItem per current object.
 * - with a vector index too (TaggerOptions.vectors): an object whose tags are current and whose status
 *   is ok but whose vector is missing from the served model's index, or is of another version (ETag),
 *   goes through tagObject again, which writes it, counted as `embedded`. A new model has an index of
 *   its own (one per name@version), empty at first: this is how its vectors are filled in; its tags
 *   then become the new model's too. The vectors of each listing page are read first (GetVectors, 100
 *   keys a call). The backfill's vector writes are paced (tools/backfill/vector-writes.ts) under S3
 *   Vectors' per-index write limits, leaving room for the live tagger.
 * So a second run after a complete one writes nothing and classifies nothing: per object it costs
 * one GetObjectTagging (plus one ListObjectsV2 per 1,000 keys, and with vectors a GetVectors per 100). The tags are the record of what is
 * done; the checkpoint only spares an interrupted run the finished part of the listing.
 *
 * Stop and resume: the checkpoint holds the listing position `after`: every key up to it, in
 * listing order, is finished (tagged, skipped or failed). With concurrency, `after` advances only
 * past a run of finished keys, never past one still in flight. A resumed run lists with StartAfter
 * = `after`; keys that finished beyond it are listed again but their tags now say they are done,
 * so they cost one GetObjectTagging and are not classified again. A complete run deletes its
 * checkpoint (the next run starts from the top and finds everything current).
 *
 * Failures never stop the run: an image the classifier refuses gets its status tag (as in the
 * tagger) and is counted as failed with that reason; a transient error (throttling, 5xx, network)
 * is counted with its message and the object keeps its old tags, so a later run retries it.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { LabelIndex } from '../../src/tagging/label-index.ts';
import { ObjectMissingError } from '../../src/tagging/object-store.ts';
import { type TaggerOptions, tagObject } from '../../src/tagging/tagger.ts';
import {
  formatModelRef,
  isServiceTag,
  isTaggable,
  MAX_TAGS,
  type ModelRef,
  splitModelRef,
  TAG_MODEL,
  TAG_STATUS,
  TAG_VOCABULARY,
  type Tag,
} from '../../src/tagging/tags.ts';
import type { BucketListing, ListedObject } from './bucket-listing.ts';
import { limitVectorWrites, type WriteRate } from './vector-writes.ts';

export interface BackfillSummary {
  /** Keys listed (in this run and the runs it resumed). */
  listed: number;
  /** Status ok, tags written. */
  tagged: number;
  /** Selected, but tagObject found the tags already right (written meanwhile by the tagger). */
  unchanged: number;
  /** Tags were current but the label index did not hold the object: classified again to index it. */
  indexed: number;
  /** Tags and index were current but the vector index lacked this version: classified again to embed it. */
  embedded: number;
  /** --dry-run: selected, not tagged. */
  wouldTag: number;
  skipped: {
    /** Outside the tagger's prefix or not an image suffix. */
    notTaggable: number;
    /** Has a status, and (with --retag-older-than) a model that is not older. */
    current: number;
    /** --retag-older-than: tagged by another model name, or with no tagger:model tag. */
    otherModel: number;
    /** Deleted between the listing and the tagging. */
    missing: number;
    /** Changed since the listing: the index already holds a newer S3 event for it, whose tagger run tags it. */
    newer: number;
  };
  /** By reason: UnsupportedFormat, CorruptImage, ImageTooLarge, or "error: <message>". */
  failed: Record<string, number>;
  /** Up to MAX_FAILED_KEYS keys per failure reason. */
  failedKeys: Record<string, string[]>;
}

export const MAX_FAILED_KEYS = 5;

export const emptySummary = (): BackfillSummary => ({
  listed: 0,
  tagged: 0,
  unchanged: 0,
  indexed: 0,
  embedded: 0,
  wouldTag: 0,
  skipped: { notTaggable: 0, current: 0, otherModel: 0, missing: 0, newer: 0 },
  failed: {},
  failedKeys: {},
});

export const failedCount = (s: BackfillSummary) => Object.values(s.failed).reduce((a, b) => a + b, 0);

export interface Checkpoint {
  version: 1;
  /** Every key up to this one (listing order) is finished. */
  after: string;
  summary: BackfillSummary;
  updatedAt: string;
}

/** Where the checkpoint lives (port): a file in the CLI, memory in tests. */
export interface CheckpointStore {
  load(): Promise<Checkpoint | undefined>;
  save(checkpoint: Checkpoint): Promise<void>;
  clear(): Promise<void>;
}

export interface BackfillProgress {
  /** Keys finished in this run. */
  done: number;
  /** Keys listed in this run so far (ahead of those done by up to `pagesAhead` pages). */
  listed: number;
  /** True once the listing has reached its end: `listed` is then the run's total. */
  listingComplete: boolean;
  summary: BackfillSummary;
}

export interface BackfillOptions {
  /** The tagger's own options (store, classifier, prefix, suffixes, index): the same tag path. */
  tagger: TaggerOptions & { index?: LabelIndex };
  listing: BucketListing;
  bucket: string;
  /** Listing prefix (default: the tagger's prefix). */
  prefix?: string;
  /** Objects in flight at once (default 4). */
  concurrency?: number;
  retagOlderThan?: ModelRef;
  /** Select and report, write nothing (no tags, no index, no checkpoint). */
  dryRun?: boolean;
  checkpoint?: CheckpointStore;
  /** Saves the checkpoint at most this often while running (default 1,000 ms), and always at the end. */
  checkpointEveryMs?: number;
  /** Pages (of 1,000 keys on S3) listed ahead of the work (default 10). */
  pagesAhead?: number;
  /** Stops listing and starting objects; those in flight finish and the checkpoint is saved. */
  signal?: AbortSignal;
  onProgress?: (progress: BackfillProgress) => void;
  /** --dry-run: each key that would be tagged, and why. */
  onSelected?: (key: string, reason: 'untagged' | 'older' | 'unindexed' | 'unembedded') => void;
  /** The pace of vector writes (default DEFAULT_BACKFILL_WRITE_RATE: half of S3 Vectors' limits). */
  vectorWriteRate?: WriteRate;
}

export interface BackfillResult {
  summary: BackfillSummary;
  /** Stopped by the signal before the listing's end (the checkpoint is kept). */
  interrupted: boolean;
  /** The key a resumed run started after, if any. */
  resumedAfter?: string;
}

/** "name@version" -> {name, version}; the version is what follows the last '@'. */
export function parseModelRef(text: string): ModelRef {
  const split = splitModelRef(text);
  const [name, version] = [split.name.trim(), split.version.trim()];
  if (!name || !version) throw new Error(`expected <model>@<version> (e.g. resnet18@2), got "${text}"`);
  return { name, version };
}

const tokens = (version: string) =>
  (version.replace(/^v(?=\d)/i, '').match(/\d+|[^\d.\-_+]+/g) ?? []).map((t) =>
    /^\d+$/.test(t) ? Number(t) : t,
  );

/**
 * Orders two versions: runs of digits compare as numbers ("1.10" > "1.9", "10" > "9"), other runs
 * as text, separators (. - _ +) and a leading "v" are ignored, and missing trailing parts count as
 * zero ("2" equals "2.0"). A number ranks above text in the same place ("1.0" > "1.beta").
 */
export function compareModelVersions(a: string, b: string): number {
  const x = tokens(a);
  const y = tokens(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i] ?? 0;
    const q = y[i] ?? 0;
    if (typeof p === 'number' && typeof q === 'number') {
      if (p !== q) return p < q ? -1 : 1;
    } else if (typeof p === 'number') return 1;
    else if (typeof q === 'number') return -1;
    else if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}

export type Selection = 'untagged' | 'older' | 'current' | 'other-model';

/** What to do with an object that has `tags` (see the top of this file). */
export function select(tags: readonly Tag[], retagOlderThan?: ModelRef, vocabularyName?: string): Selection {
  if (!tags.some((t) => t.Key === TAG_STATUS)) return 'untagged';
  if (!retagOlderThan) return 'current';
  // --retag-older-than <vocabulary>@V: objects tagged before the vocabulary (no tagger:vocabulary) or
  // with an older one.
  const byVocabulary = vocabularyName !== undefined && retagOlderThan.name === vocabularyName;
  if (byVocabulary && !tags.some((t) => t.Key === TAG_VOCABULARY)) return 'older';
  const model = tags.find((t) => t.Key === (byVocabulary ? TAG_VOCABULARY : TAG_MODEL))?.Value;
  if (!model) return 'other-model';
  let ref: ModelRef;
  try {
    ref = parseModelRef(model);
  } catch {
    return 'other-model';
  }
  if (ref.name !== retagOlderThan.name) return 'other-model';
  return compareModelVersions(ref.version, retagOlderThan.version) < 0 ? 'older' : 'current';
}

/**
 * Refuses a re-tag that could never finish: the model doing the tagging is the same model name as
 * the threshold and older than it, so every object it tags stays "older".
 */
export function checkRetagModel(model: ModelRef, retagOlderThan: ModelRef, vocabulary?: ModelRef): void {
  // --retag-older-than may name the vocabulary instead of the model (tagger:vocabulary).
  const here = vocabulary?.name === retagOlderThan.name ? vocabulary : model;
  if (here.name === retagOlderThan.name && compareModelVersions(here.version, retagOlderThan.version) < 0)
    throw new Error(
      `--retag-older-than ${formatModelRef(retagOlderThan)}: the ${here === model ? 'model' : 'vocabulary'} here is ${formatModelRef(here)}, older than that; its tags would stay older`,
    );
}

/**
 * Lists ahead of the work: a background reader keeps up to `max` pages waiting, so the progress
 * total (keys listed) runs ahead of the keys done, and small buckets know their total at once.
 */
async function* readAhead<T>(
  source: AsyncIterable<T>,
  max: number,
  onPage: (page: T) => void,
  onEnd: () => void,
): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const queue: T[] = [];
  let ended = false;
  let stopped = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  let space: (() => void) | undefined;
  const pump = (async () => {
    try {
      while (!stopped) {
        while (queue.length >= max && !stopped) await new Promise<void>((r) => (space = r));
        if (stopped) break;
        const r = await it.next();
        if (r.done) {
          onEnd();
          break;
        }
        queue.push(r.value);
        onPage(r.value);
        wake?.();
      }
    } catch (error) {
      failure = { error };
    } finally {
      ended = true;
      wake?.();
    }
  })();
  try {
    for (;;) {
      const page = queue.shift();
      if (page !== undefined) {
        space?.();
        yield page;
        continue;
      }
      if (failure) throw failure.error;
      if (ended) return;
      await new Promise<void>((r) => (wake = r));
    }
  } finally {
    stopped = true;
    space?.();
    if (!ended) await it.return?.();
    await pump.catch(() => {});
  }
}

type Outcome =
  | { kind: 'tagged' | 'unchanged' | 'indexed' | 'embedded' | 'wouldTag' }
  | { kind: keyof BackfillSummary['skipped'] }
  | { kind: 'failed'; reason: string };

/** Counts one finished key into a summary. */
function count(summary: BackfillSummary, key: string, outcome: Outcome): void {
  switch (outcome.kind) {
    case 'tagged':
    case 'unchanged':
    case 'indexed':
    case 'embedded':
    case 'wouldTag':
      // A checkpoint of an older version may lack a count.
      summary[outcome.kind] = (summary[outcome.kind] ?? 0) + 1;
      return;
    case 'failed': {
      summary.failed[outcome.reason] = (summary.failed[outcome.reason] ?? 0) + 1;
      const keys = summary.failedKeys[outcome.reason] ?? [];
      if (keys.length < MAX_FAILED_KEYS) keys.push(key);
      summary.failedKeys[outcome.reason] = keys;
      return;
    }
    default:
      summary.skipped[outcome.kind]++;
  }
}

const unquote = (etag: string | undefined) => etag?.replace(/"/g, '');

const message = (err: unknown) =>
  ((err as Error)?.message ?? String(err)).replace(/\s+/g, ' ').slice(0, 200) || 'unknown error';

export async function backfill(o: BackfillOptions): Promise<BackfillResult> {
  const { prefix: taggerPrefix, suffixes } = o.tagger;
  const prefix = o.prefix ?? taggerPrefix;
  const concurrency = Math.max(1, Math.floor(o.concurrency ?? 4));
  const { bucket, store } = { bucket: o.bucket, store: o.tagger.store };
  const { meta, vocabulary } = o.tagger.classifier.folder;
  if (o.retagOlderThan) checkRetagModel(meta, o.retagOlderThan, vocabulary);
  // Vectors are kept only with the label index (it orders their writes, as in the tagger).
  const vectors = o.tagger.index ? o.tagger.vectors : undefined;
  const tagger =
    vectors && !o.dryRun ? { ...o.tagger, vectors: limitVectorWrites(vectors, o.vectorWriteRate) } : o.tagger;

  const checkpoint = o.dryRun ? undefined : o.checkpoint;
  const saved = await checkpoint?.load();
  // `summary`: every key finished so far; `committed`: only those up to `after` (what the
  // checkpoint keeps, so a resumed run does not count twice the keys it lists again).
  const summary = saved ? structuredClone(saved.summary) : emptySummary();
  const committed = saved ? structuredClone(saved.summary) : emptySummary();
  let after = saved?.after;
  const resumedAfter = after;

  /** The ETag of each key's vector in the served model's index (keys of one page). */
  async function vectorEtags(page: ListedObject[]): Promise<Map<string, string> | undefined> {
    if (!vectors) return undefined;
    const keys = page.filter((x) => isTaggable(x.key, taggerPrefix, suffixes)).map((x) => x.key);
    const held = new Map<string, string>();
    if (keys.length === 0) return held;
    for (const v of await vectors.get(keys)) held.set(v.key, unquote(v.metadata.etag) ?? '');
    return held;
  }

  async function one(object: ListedObject, vectorEtag: Map<string, string> | undefined): Promise<Outcome> {
    const { key } = object;
    if (!isTaggable(key, taggerPrefix, suffixes)) return { kind: 'notTaggable' };
    try {
      const tags = await store.getTags(bucket, key);
      let choice = select(tags, o.retagOlderThan, vocabulary?.name);
      const index = o.tagger.index;
      // The user's own tags may leave no room for tagger:model (6 or more of theirs) or even for
      // tagger:status (10): then the index, holding this version (same ETag), is the record of what is done.
      const noRoom = tags.filter((t) => !isServiceTag(t.Key)).length >= MAX_TAGS;
      const held =
        index && (choice === 'current' || (choice === 'untagged' && noRoom))
          ? await index.get(bucket, key)
          : undefined;
      const heldThisVersion =
        held?.state === 'live' && object.etag !== undefined && unquote(held.etag) === unquote(object.etag);
      if (choice === 'untagged' && noRoom && heldThisVersion && held?.model === formatModelRef(meta))
        choice = 'current';
      let reindex = false;
      let reembed = false;
      if (choice === 'current') {
        if (!index) return { kind: 'current' };
        const model =
          tags.find((t) => t.Key === TAG_MODEL)?.Value ?? (heldThisVersion ? held?.model : undefined);
        const indexed = held?.state === 'live' && model !== undefined && held.model === model;
        // Only an image the model read (status ok) has a vector.
        const embedded =
          !vectorEtag ||
          held?.status !== 'ok' ||
          (object.etag !== undefined && vectorEtag.get(key) === unquote(object.etag));
        if (indexed && embedded) return { kind: 'current' };
        reindex = !indexed;
        reembed = !embedded;
      }
      if (choice === 'other-model') return { kind: 'otherModel' };
      if (o.dryRun) {
        o.onSelected?.(key, choice !== 'current' ? choice : reindex ? 'unindexed' : 'unembedded');
        return { kind: 'wouldTag' };
      }
      const out = await tagObject(tagger, bucket, key, object.size); // over the limit: a 1-byte read, not a download
      if (reindex && out.result === 'unchanged') return { kind: 'indexed' };
      if (reembed && out.result === 'unchanged') return { kind: 'embedded' };
      if (out.result === 'missing') return { kind: 'missing' };
      if (out.result === 'tagged' || out.result === 'unchanged') {
        if (out.status !== 'ok') return { kind: 'failed', reason: out.status };
        return { kind: out.result };
      }
      if (out.result === 'ignored') return { kind: 'notTaggable' };
      if (out.result === 'stale' || out.result === 'superseded') return { kind: 'newer' };
      return { kind: 'failed', reason: `error: ${out.result === 'malformed' ? out.detail : out.result}` };
    } catch (err) {
      if (err instanceof ObjectMissingError) return { kind: 'missing' };
      return { kind: 'failed', reason: `error: ${message(err)}` };
    }
  }

  // Keys started, in listing order; the head is dropped (and `after` advanced) once it is finished.
  const order: { key: string; outcome?: Outcome }[] = [];
  const active = new Set<Promise<void>>();
  let done = 0;
  let listed = 0;
  let listingComplete = false;
  let lastSave = Date.now();
  const every = o.checkpointEveryMs ?? 1000;
  let saving: Promise<void> = Promise.resolve();
  const save = () => {
    if (!checkpoint || after === undefined) return saving;
    const snapshot: Checkpoint = {
      version: 1,
      after,
      summary: structuredClone(committed),
      updatedAt: new Date().toISOString(),
    };
    // A failed periodic save is retried by the next one; the final save's failure is thrown.
    saving = saving.catch(() => {}).then(() => checkpoint.save(snapshot));
    return saving;
  };
  const progress = () => o.onProgress?.({ done, listed, listingComplete, summary });

  const finished = (entry: { key: string; outcome?: Outcome }, outcome: Outcome) => {
    entry.outcome = outcome;
    count(summary, entry.key, outcome);
    done++;
    for (let head = order[0]; head?.outcome; head = order[0]) {
      order.shift();
      committed.listed++;
      count(committed, head.key, head.outcome);
      after = head.key;
    }
    if (Date.now() - lastSave >= every) {
      lastSave = Date.now();
      save().catch(() => {});
    }
    progress();
  };

  let interrupted = false;
  let listingError: unknown;
  try {
    const pages = readAhead(
      o.listing.pages(bucket, prefix, after),
      o.pagesAhead ?? 10,
      (page) => {
        listed += page.length;
      },
      () => {
        listingComplete = true;
      },
    );
    outer: for await (const page of pages) {
      const vectorEtag = await vectorEtags(page);
      for (const object of page) {
        while (active.size >= concurrency) await Promise.race(active);
        if (o.signal?.aborted) {
          interrupted = true;
          break outer;
        }
        summary.listed++;
        const entry: { key: string; outcome?: Outcome } = { key: object.key };
        order.push(entry);
        const task: Promise<void> = one(object, vectorEtag).then((outcome) => {
          active.delete(task);
          finished(entry, outcome);
        });
        active.add(task);
      }
      progress();
    }
  } catch (err) {
    listingError = err;
  }
  await Promise.all(active);
  progress();
  if (interrupted || listingError) await save();
  else {
    await saving.catch(() => {});
    await checkpoint?.clear();
  }
  if (listingError) throw listingError;
  return { summary, interrupted, ...(resumedAfter !== undefined ? { resumedAfter } : {}) };
}

/**
 * The checkpoint file of one backfill: `<dir>/<bucket>-<hash>.json`, the hash over everything that
 * changes which keys a run selects (endpoint, bucket, prefix, tagger prefix and suffixes,
 * --retag-older-than), so runs with other options never resume each other's position.
 */
export function checkpointPath(dir: string, identity: Record<string, unknown>): string {
  const hash = createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 16);
  const bucket = String(identity.bucket ?? 'bucket').replace(/[^\w.-]/g, '_');
  return join(dir, `${bucket}-${hash}.json`);
}

/** A checkpoint in a JSON file, replaced atomically (write a temporary file, then rename). */
export function fileCheckpoint(path: string): CheckpointStore {
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      const data = JSON.parse(text) as Checkpoint;
      if (data?.version !== 1 || typeof data.after !== 'string' || typeof data.summary !== 'object')
        throw new Error(`${path} is not a backfill checkpoint (delete it to start over)`);
      return data;
    },
    async save(checkpoint) {
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, `${JSON.stringify(checkpoint, null, 2)}\n`);
      await rename(tmp, path);
    },
    clear: () => rm(path, { force: true }),
  };
}
