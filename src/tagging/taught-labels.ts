/**
 * Taught labels ("my dogs", issue 26): what a user taught from a few example images, kept in a
 * store (port) beside the label index. The DynamoDB adapter is src/aws/dynamo-taught-labels.ts
 * (items in the label index's table); unit tests use the in-memory fake of
 * test/helpers/memory-taught-labels.ts, and one contract suite (test/helpers/taught-labels-contract.ts)
 * holds both to the same behaviour (the adapter on dynalite, the local stack's DynamoDB).
 *
 * A label keeps its examples as object keys (never their embeddings alone): a new model re-computes
 * the label from them (tools/backfill, docs/taught-names.md). What the label means for its model
 * (group, centroid, threshold: src/tagging/taught-names.ts) is stored with it, so the tagger scores
 * every new upload against its model's labels with no other read.
 */
import type { IndexedLabel } from './label-index.ts';
import { normalizeLabel } from './label-index.ts';
import { GROUP_MIN_SCORE, type NameExample, type NameMeaning } from './taught-names.ts';

export interface TaughtLabel extends NameMeaning {
  /** The name, normalised as search words are (normalizeLabel). */
  name: string;
  /** "<name>@<version>" of the model whose embedding the centroid lives in. */
  model: string;
  /** Object keys of the examples (3 to 100) and counter-examples, as taught. */
  examples: string[];
  not: string[];
  /** Who taught it (the user's name), their verified e-mail address when known, and when (ISO 8601). */
  createdBy: string;
  createdByEmail?: string;
  createdAt: string;
  /** Stored images labelled with it when teaching ended. */
  labelled: number;
  /** False while labelling the stored images runs, or when it stopped at its cap (see `progress`). */
  complete: boolean;
  /** How far labelling the stored images got, in words (when not complete). */
  progress?: string;
}

export interface LabellingProgress {
  labelled: number;
  complete: boolean;
  progress?: string;
}

export interface TaughtLabelStore {
  /** Stores a label (by its name): `created`, or `replaced` when one of that name was there. */
  put(bucket: string, label: TaughtLabel): Promise<'created' | 'replaced'>;
  get(bucket: string, name: string): Promise<TaughtLabel | undefined>;
  /** Every label of the bucket, by name (code-unit order). */
  list(bucket: string): Promise<TaughtLabel[]>;
  /**
   * Records how far labelling the stored images got, only if the label is still the one taught at
   * `createdAt` (a label taught again meanwhile keeps its own progress). False when it is not.
   */
  progress(bucket: string, name: string, createdAt: string, progress: LabellingProgress): Promise<boolean>;
  /** Forgets a label; returns what it was (undefined when there was none). */
  delete(bucket: string, name: string): Promise<TaughtLabel | undefined>;
}

/** A name as stored, searched and tagged: normalised as search words are. */
export const normalizeName = (raw: string): string => normalizeLabel(raw);
/** The longest name (characters, after normalising): it must fit a tagger:names entry. */
export const MAX_NAME_CHARS = 64;
/** Taught labels per bucket, at most (the tagger scores every one of them on every upload). */
export const MAX_TAUGHT_LABELS = 1000;
/** Names an image carries at most (index and tagger:names), best first. */
export const MAX_NAMES_PER_IMAGE = 5;
/** How long the tagger and the api reuse the list of taught labels they read (per container). */
export const TAUGHT_LABELS_TTL_MS = 30_000;

/** A model's labels with their centroids packed row by row (one scan of memory per upload). */
interface Packed {
  labels: TaughtLabel[];
  centroids: Float32Array;
  dimension: number;
}
const packedLists = new WeakMap<readonly TaughtLabel[], Map<string, Packed>>();

/** The labels of `model` of one dimension, packed once per list (the cached list is reused for its TTL). */
function packed(labels: readonly TaughtLabel[], model: string, dimension: number): Packed {
  let byModel = packedLists.get(labels);
  if (!byModel) {
    byModel = new Map();
    packedLists.set(labels, byModel);
  }
  const id = `${dimension}:${model}`;
  let p = byModel.get(id);
  if (!p) {
    const mine = labels.filter((l) => l.model === model && l.centroid.length === dimension);
    const centroids = new Float32Array(mine.length * dimension);
    mine.forEach((l, i) => {
      centroids.set(l.centroid, i * dimension);
    });
    p = { labels: mine, centroids, dimension };
    byModel.set(id, p);
  }
  return p;
}

/**
 * `vector` times each row of `rows` (row-major, rows.length / vector.length rows), in row order: the
 * port through which scoreNames multiplies long lists (src/classifier/dot-products.ts, in ONNX
 * Runtime, wired by src/handlers/tagger.ts and the backfill).
 */
export type DotProducts = (rows: Float32Array, vector: Float32Array) => Promise<Float32Array>;

/**
 * From this many centroid values to multiply (names that pass the group check × embedding
 * dimension) on, scoreNames uses the DotProducts port; below, its JavaScript loop is cheaper: one
 * ONNX Runtime run costs about 50-80 µs of CPU whatever the list, the loop about 1.5-3 ns per value.
 * `npm run bench:names` prints both paths' CPU time for 4 to 128 names (its crossover table,
 * docs/taught-names.md): they were even at about 64 names of 512 dimensions and 24-32 of 1280, so
 * the switch is at 64 names of ResNet-18's embedding, 26 of MobileNetV2's.
 */
export const DOT_PRODUCTS_MIN_VALUES = 64 * 512;

/** The dot product of `vector` with the row of `rows` starting at `base` (four sums: the loop pipelines). */
function rowDot(rows: Float32Array, base: number, vector: Float32Array): number {
  const d = vector.length;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < d; i += 4) {
    s0 += (rows[base + i] as number) * (vector[i] as number);
    s1 += (rows[base + i + 1] as number) * (vector[i + 1] as number);
    s2 += (rows[base + i + 2] as number) * (vector[i + 2] as number);
    s3 += (rows[base + i + 3] as number) * (vector[i + 3] as number);
  }
  for (; i < d; i++) s0 += (rows[base + i] as number) * (vector[i] as number);
  return s0 + s1 + s2 + s3;
}

/**
 * The taught labels of `model` that a new image matches (matchName: the group, then the cosine
 * similarity to the centroid against the threshold), best score first, at most MAX_NAMES_PER_IMAGE.
 * `image.categories` are its indexed categories (with scores). The centroids of a list are packed
 * into one array the first time it is scored, so each upload is one pass over them. The names that
 * pass their group check are multiplied through `dotProducts` (all names at once) when it is given
 * and they hold `minValues` centroid values or more, else by a JavaScript loop over those names.
 */
export async function scoreNames(
  labels: readonly TaughtLabel[],
  model: string,
  image: NameExample,
  dotProducts?: DotProducts,
  minValues = DOT_PRODUCTS_MIN_VALUES,
): Promise<IndexedLabel[]> {
  const { embedding } = image;
  const d = embedding.length;
  const p = packed(labels, model, d);
  const groupScores = new Map(image.categories.map((c) => [c.label, c.score]));
  // The names whose group the image has (or that have none): only they are scored.
  const candidates: number[] = [];
  p.labels.forEach((label, k) => {
    if (label.group === undefined || (groupScores.get(label.group) ?? 0) >= GROUP_MIN_SCORE / 2)
      candidates.push(k);
  });
  const all =
    dotProducts && candidates.length > 0 && candidates.length * d >= minValues
      ? await dotProducts(p.centroids, embedding)
      : undefined;
  const out: IndexedLabel[] = [];
  for (const k of candidates) {
    const label = p.labels[k] as TaughtLabel;
    const score = all ? (all[k] as number) : rowDot(p.centroids, k * d, embedding);
    if (score >= label.threshold) out.push({ label: label.name, score });
  }
  return bestNames(out);
}

/** The names an image carries: best score first (ties by name), at most MAX_NAMES_PER_IMAGE. */
export const bestNames = (names: readonly IndexedLabel[]): IndexedLabel[] =>
  [...names].sort((a, b) => b.score - a.score || (a.label < b.label ? -1 : 1)).slice(0, MAX_NAMES_PER_IMAGE);

/**
 * The store's list per bucket, reused for `ttlMs` (a read costs a Query of every label: about
 * 5 KB each with a 1280-dimensional centroid). A failed read is not kept. `forget` drops a bucket's
 * entry (after this container changed a label).
 */
export function cachedTaughtLabels(
  store: Pick<TaughtLabelStore, 'list'>,
  ttlMs = TAUGHT_LABELS_TTL_MS,
  now: () => number = Date.now,
) {
  const cache = new Map<string, { at: number; labels: Promise<TaughtLabel[]> }>();
  const list = (bucket: string): Promise<TaughtLabel[]> => {
    const hit = cache.get(bucket);
    if (hit && now() - hit.at < ttlMs) return hit.labels;
    const labels = store.list(bucket);
    const entry = { at: now(), labels };
    cache.set(bucket, entry);
    labels.catch(() => {
      if (cache.get(bucket) === entry) cache.delete(bucket);
    });
    return labels;
  };
  return Object.assign(list, { forget: (bucket: string) => void cache.delete(bucket) });
}

export type TaughtLabelsReader = ReturnType<typeof cachedTaughtLabels>;
