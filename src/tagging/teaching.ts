/**
 * Teaching and forgetting names (issue 26; docs/taught-names.md): the logic behind PUT and DELETE
 * /labels/{name} (src/http/labels.ts only wires it).
 *
 * teach   checks the name (normalised as search words are; not a vocabulary word: NameTakenError)
 *         and the examples (3 to 100 keys of images the served model tagged `ok`, with an embedding
 *         in the vector index), decides what they mean (understandName, src/tagging/taught-names.ts),
 *         stores the label (TaughtLabelStore) and labels the images already stored that match:
 *         - with a group ("dog"): the group's partition of the label index, best score first (every
 *           stored image of that category), their vectors read by key (GetVectors, 100 a call) and
 *           scored, at most MAX_TEACH_CANDIDATES images;
 *         - without: the vector index's nearest images to the centroid (one query, topK 100) above
 *           the threshold; when all 100 match there may be more.
 *         Images that carried the name but no longer match (a name taught again) lose it. At most
 *         MAX_TEACH_WRITES images are changed; past either cap the label says how far it got
 *         (complete false, progress), and the backfill finishes (docs/taught-names.md).
 * forget  deletes the label first (the tagger stops adding it once its cache expires), then
 *         removes the name from every image the index lists under it (at most MAX_FORGET_WRITES).
 * Each image is changed by updateNames (src/tagging/tagger.ts): the index record of that version,
 * then its tags, with the tagger's own convergence checks.
 */
import { categoryMembers, type Vocabulary } from '../classifier/vocabulary.ts';
import type { IndexedLabel, LabelIndex } from './label-index.ts';
import { nameTerm, normalizeLabel } from './label-index.ts';
import { type TaggerOptions, updateNames } from './tagger.ts';
import {
  bestNames,
  MAX_NAME_CHARS,
  MAX_NAMES_PER_IMAGE,
  MAX_TAUGHT_LABELS,
  normalizeName,
  scoreNames,
  type TaughtLabel,
  type TaughtLabelStore,
} from './taught-labels.ts';
import { MAX_EXAMPLES, MIN_EXAMPLES, matchName, type NameExample, understandName } from './taught-names.ts';
import { VECTOR_LIMITS, type VectorIndex } from './vector-index.ts';

/** Stored images scored per teaching (the group's partition is read best first). */
export const MAX_TEACH_CANDIDATES = 2000;
/** Images whose names one teaching changes, at most. */
export const MAX_TEACH_WRITES = 500;
/** Images one DELETE removes the name from, at most. */
export const MAX_FORGET_WRITES = 2000;
/** The backfill's caps: none (it runs as long as it takes, outside any request). */
const UNCAPPED = { candidates: Number.POSITIVE_INFINITY, writes: Number.POSITIVE_INFINITY };
/** Counter-examples, at most. */
export const MAX_COUNTER_EXAMPLES = 100;
/** Images changed at once. */
const WRITE_CONCURRENCY = 8;

export interface TeachingPorts {
  bucket: string;
  /** "<name>@<version>" of the served model: labels are taught for it, from images it tagged. */
  model: string;
  index: LabelIndex;
  vectors: Pick<VectorIndex, 'get' | 'query'>;
  labels: TaughtLabelStore;
  /** What the tags are written with (the tagger's object store, model folder, tag language). */
  tagging: Pick<TaggerOptions, 'store' | 'classifier' | 'language'>;
  /** Classes in a category (the smallest shared category is the most specific group). */
  groupSize(category: string): number;
  /** Whether search reads this word as a vocabulary term (class, category, colour, synonym...). */
  isVocabularyWord(word: string): boolean;
}

/**
 * Classes per category of a vocabulary, by English name, as understandName wants it (the smallest
 * shared category is the most specific group); a category it does not know counts as the largest.
 */
export function groupSizeOf(vocabulary: Vocabulary | undefined): (category: string) => number {
  const members = vocabulary ? categoryMembers(vocabulary) : new Map<string, number[]>();
  const sizes = new Map((vocabulary?.categories ?? []).map((c) => [c.en, members.get(c.id)?.length ?? 0]));
  return (category) => sizes.get(category) ?? Number.MAX_SAFE_INTEGER;
}

/** Bad input of a teaching: `invalid` 400, `missing` 404 (an example key), `taken` 409 (a vocabulary word). */
export class TeachingError extends Error {
  constructor(
    readonly kind: 'invalid' | 'missing' | 'taken' | 'not-found',
    message: string,
  ) {
    super(message);
    this.name = 'TeachingError';
  }
}

/** The name of a request, normalised, or why not. */
export function checkName(raw: string, isVocabularyWord: (word: string) => boolean): string {
  const name = normalizeName(raw);
  if (name === '') throw new TeachingError('invalid', 'the name is empty');
  if (Array.from(name).length > MAX_NAME_CHARS)
    throw new TeachingError('invalid', `the name is over ${MAX_NAME_CHARS} characters`);
  if (isVocabularyWord(raw) || isVocabularyWord(name))
    throw new TeachingError(
      'taken',
      `"${name}" is already a word of the vocabulary: search finds it as such; choose another name (e.g. "my ${name}")`,
    );
  return name;
}

function keyList(raw: unknown, what: string, min: number, max: number): string[] {
  if (raw === undefined && min === 0) return [];
  if (!Array.isArray(raw) || raw.some((k) => typeof k !== 'string' || k === ''))
    throw new TeachingError('invalid', `${what} must be an array of object keys`);
  const keys = [...new Set(raw as string[])];
  if (keys.length < min || keys.length > max)
    throw new TeachingError(
      'invalid',
      `${what}: ${min === 0 ? `at most ${max}` : `${min} to ${max}`} different keys, got ${keys.length}`,
    );
  return keys;
}

/** Each key's embedding and indexed categories, checked: 404 when missing, 400 when not usable. */
async function examplesOf(p: TeachingPorts, keys: string[], what: string): Promise<NameExample[]> {
  const records = await Promise.all(keys.map((key) => p.index.get(p.bucket, key)));
  records.forEach((r, i) => {
    const key = keys[i] as string;
    if (r?.state !== 'live') throw new TeachingError('missing', `${what} ${key}: no such image`);
    if (r.status !== 'ok')
      throw new TeachingError('invalid', `${what} ${key}: not an image the tagger could read (${r.status})`);
    if (r.model !== p.model)
      throw new TeachingError(
        'invalid',
        `${what} ${key}: tagged by ${r.model}, not the served model ${p.model} (npm run backfill re-tags it)`,
      );
  });
  const vectors = new Map<string, Float32Array>();
  for (let i = 0; i < keys.length; i += VECTOR_LIMITS.getBatch)
    for (const v of await p.vectors.get(keys.slice(i, i + VECTOR_LIMITS.getBatch)))
      vectors.set(v.key, v.vector);
  return keys.map((key, i) => {
    const embedding = vectors.get(key);
    if (!embedding) throw new TeachingError('invalid', `${what} ${key}: its embedding is not stored yet`);
    return { embedding, categories: records[i]?.categories ?? [] };
  });
}

/** Runs `work` on every item, WRITE_CONCURRENCY at a time. */
async function eachLimited<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(WRITE_CONCURRENCY, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

const withName = (name: string, score: number) => (names: readonly IndexedLabel[]) =>
  bestNames([...names.filter((n) => n.label !== name), { label: name, score }]);
const withoutName = (name: string) => (names: readonly IndexedLabel[]) =>
  names.filter((n) => n.label !== name);

/** Keys the index lists under a name, at most `max` (and whether more remain). */
async function carrying(p: TeachingPorts, name: string, max: number) {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await p.index.search(p.bucket, nameTerm(name), { limit: 100, cursor });
    keys.push(...page.items.map((i) => i.key));
    cursor = page.cursor;
  } while (cursor && keys.length < max);
  return { keys: keys.slice(0, max), more: cursor !== undefined || keys.length > max };
}

/** The stored images that match a label now (see the module's comment), and whether the search was capped. */
async function matching(p: TeachingPorts, label: TaughtLabel, maxCandidates: number) {
  const found = new Map<string, { score: number; etag: string }>();
  if (label.group === undefined) {
    const near = await p.vectors.query(label.centroid, { topK: VECTOR_LIMITS.maxTopK });
    for (const m of near)
      if (m.similarity >= label.threshold) found.set(m.key, { score: m.similarity, etag: m.metadata.etag });
    const capped = near.length === VECTOR_LIMITS.maxTopK && found.size === near.length;
    return { found, scanned: near.length, capped, how: 'the 100 nearest images' };
  }
  let scanned = 0;
  let cursor: string | undefined;
  do {
    const page = await p.index.search(p.bucket, normalizeLabel(label.group), { limit: 100, cursor });
    scanned += page.items.length;
    cursor = page.cursor;
    const vectors = await p.vectors.get(page.items.map((i) => i.key));
    const byKey = new Map(vectors.map((v) => [v.key, v]));
    for (const item of page.items) {
      const v = byKey.get(item.key);
      if (!v) continue;
      const score = matchName(label, { embedding: v.vector, categories: item.categories ?? [] });
      if (score !== undefined) found.set(item.key, { score, etag: v.metadata.etag });
    }
  } while (cursor && scanned < maxCandidates);
  return { found, scanned, capped: cursor !== undefined, how: `the stored images of "${label.group}"` };
}

/** Labels the stored images that match `label` and unlabels those that no longer do; returns the progress. */
export async function labelStored(
  p: TeachingPorts,
  label: TaughtLabel,
  caps: { candidates: number; writes: number } = {
    candidates: MAX_TEACH_CANDIDATES,
    writes: MAX_TEACH_WRITES,
  },
) {
  const { found, scanned, capped, how } = await matching(p, label, caps.candidates);
  const tagging = { ...p.tagging, index: p.index };
  const before = await carrying(p, label.name, caps.writes);
  const stale = before.keys.filter((k) => !found.has(k));
  const wanted = [...found.entries()];
  let writes = 0;
  let labelled = 0;
  let skipped = 0;
  /** Whether the write budget allows another change (a skipped image is counted). */
  const budget = () => {
    if (writes < caps.writes) return true;
    skipped++;
    return false;
  };
  await eachLimited(stale, async (key) => {
    if (!budget()) return;
    writes++;
    await updateNames(tagging, p.bucket, key, withoutName(label.name));
  });
  await eachLimited(wanted, async ([key, { score, etag }]) => {
    if (!budget()) return;
    // Labelled only when the name found room among the image's best MAX_NAMES_PER_IMAGE.
    let carries = false;
    const out = await updateNames(
      tagging,
      p.bucket,
      key,
      (names) => {
        const next = withName(label.name, score)(names);
        carries = next.some((n) => n.label === label.name);
        return next;
      },
      etag,
    );
    if (out === 'changed') writes++;
    if (out !== 'gone' && carries) labelled++;
  });
  const unfinished = skipped > 0;
  const complete = !capped && !unfinished && !before.more;
  return {
    labelled,
    complete,
    ...(complete
      ? {}
      : {
          progress: `labelled ${labelled} of ${found.size} matching images among ${scanned} of ${how} checked${
            capped ? ' (more were not checked)' : ''
          }${unfinished ? `; stopped after ${caps.writes} changes` : ''}: npm run backfill labels the rest`,
        }),
  };
}

/** PUT /labels/{name}: the label stored, and how far labelling the stored images got. */
export async function teach(
  p: TeachingPorts,
  request: { name: string; examples: unknown; not?: unknown; by: string; byEmail?: string; now?: Date },
): Promise<{ label: TaughtLabel; result: 'created' | 'replaced' }> {
  const name = checkName(request.name, p.isVocabularyWord);
  const keys = keyList(request.examples, 'examples', MIN_EXAMPLES, MAX_EXAMPLES);
  const notKeys = keyList(request.not, 'not', 0, MAX_COUNTER_EXAMPLES).filter((k) => !keys.includes(k));
  const existing = await p.labels.get(p.bucket, name);
  if (!existing && (await p.labels.list(p.bucket)).length >= MAX_TAUGHT_LABELS)
    throw new TeachingError('invalid', `at most ${MAX_TAUGHT_LABELS} names; delete one first`);
  const [examples, counter] = await Promise.all([
    examplesOf(p, keys, 'example'),
    examplesOf(p, notKeys, 'counter-example'),
  ]);
  const meaning = understandName(examples, counter, p.groupSize);
  const label: TaughtLabel = {
    name,
    model: p.model,
    ...meaning,
    examples: keys,
    not: notKeys,
    createdBy: request.by,
    ...(request.byEmail ? { createdByEmail: request.byEmail } : {}),
    createdAt: (request.now ?? new Date()).toISOString(),
    labelled: 0,
    complete: false,
    progress: 'labelling the stored images',
  };
  const result = await p.labels.put(p.bucket, label);
  const { progress: _, ...taught } = label;
  const progress = await labelStored(p, label);
  await p.labels.progress(p.bucket, name, label.createdAt, progress);
  return { label: { ...taught, ...progress }, result };
}

/** DELETE /labels/{name}: the label gone, and the images it was removed from. */
export async function forget(p: TeachingPorts, raw: string) {
  const name = normalizeName(raw);
  const gone = await p.labels.delete(p.bucket, name);
  const { keys, more } = await carrying(p, name, MAX_FORGET_WRITES);
  if (!gone && keys.length === 0) throw new TeachingError('not-found', `no name "${name}"`);
  const tagging = { ...p.tagging, index: p.index };
  const remaining = await p.labels.list(p.bucket);
  let removed = 0;
  await eachLimited(keys, async (key) => {
    const refill = await namesLeftOut(p, remaining, key);
    const change = (names: readonly IndexedLabel[]) =>
      bestNames([
        ...withoutName(name)(names),
        ...refill.filter((r) => r.label !== name && !names.some((n) => n.label === r.label)),
      ]);
    if ((await updateNames(tagging, p.bucket, key, change)) === 'changed') removed++;
  });
  return { name, removed, complete: !more };
}

/**
 * The names an image matches among `labels` (scoreNames, as the tagger scores an upload), when its
 * names are full: a name left out for want of room may take the place of one being removed.
 */
async function namesLeftOut(p: TeachingPorts, labels: readonly TaughtLabel[], key: string) {
  const record = await p.index.get(p.bucket, key);
  if (record?.state !== 'live' || (record.names?.length ?? 0) < MAX_NAMES_PER_IMAGE) return [];
  const [vector] = await p.vectors.get([key]);
  if (!vector) return [];
  return scoreNames(labels, p.model, { embedding: vector.vector, categories: record.categories ?? [] });
}

/** What re-learning did with one name (relearnNames). */
export interface Relearned {
  name: string;
  /** `completed`: a name of the served model whose teaching stopped at a cap, labelled to the end. */
  result: 'relearned' | 'completed' | 'current' | 'failed';
  labelled?: number;
  complete?: boolean;
  detail?: string;
}

/**
 * On a model change (the backfill, after re-tagging the bucket with the served model): every label
 * of another model is learnt again from its examples as the served model sees them (their index
 * records and vectors: re-tagging wrote both), stored for the served model, and the stored images
 * labelled again, with no cap; a name of the served model whose teaching stopped at a cap is labelled
 * to the end. Examples that are gone meanwhile are left out; a label keeps its old model, and
 * says why, when fewer than MIN_EXAMPLES remain usable. Labels of the served model are `current`.
 */
export async function relearnNames(p: TeachingPorts): Promise<Relearned[]> {
  const out: Relearned[] = [];
  for (const old of await p.labels.list(p.bucket)) {
    if (old.model === p.model) {
      if (old.complete) out.push({ name: old.name, result: 'current' });
      else {
        // Taught with a cap reached: the backfill labels the rest, with no cap.
        const progress = await labelStored(p, old, UNCAPPED);
        await p.labels.progress(p.bucket, old.name, old.createdAt, progress);
        out.push({
          name: old.name,
          result: 'completed',
          labelled: progress.labelled,
          complete: progress.complete,
        });
      }
      continue;
    }
    // The keys still usable with the served model, each read once.
    const usable = async (keys: string[], what: string) => {
      const kept: { keys: string[]; examples: NameExample[] } = { keys: [], examples: [] };
      for (const key of keys)
        try {
          const [example] = await examplesOf(p, [key], what);
          kept.keys.push(key);
          kept.examples.push(example as NameExample);
        } catch (err) {
          if (!(err instanceof TeachingError)) throw err;
        }
      return kept;
    };
    const examples = await usable(old.examples, 'example');
    const counter = await usable(old.not, 'counter-example');
    const keys = examples.keys;
    if (keys.length < MIN_EXAMPLES) {
      out.push({
        name: old.name,
        result: 'failed',
        detail: `${keys.length} of its ${old.examples.length} examples are images of ${p.model}; teach it again`,
      });
      continue;
    }
    const meaning = understandName(examples.examples, counter.examples, p.groupSize);
    const { group: _, progress: __, ...rest } = old;
    const label: TaughtLabel = {
      ...rest,
      ...meaning,
      model: p.model,
      examples: keys,
      not: counter.keys,
      labelled: 0,
      complete: false,
    };
    await p.labels.put(p.bucket, label);
    const progress = await labelStored(p, label, UNCAPPED);
    await p.labels.progress(p.bucket, label.name, label.createdAt, progress);
    out.push({
      name: old.name,
      result: 'relearned',
      labelled: progress.labelled,
      complete: progress.complete,
    });
  }
  return out;
}
