/**
 * What a taught name means (issue 26 item 2): from a few example images (and optional
 * counter-examples), each with its embedding (the classifier's L2-normalised pooled features) and
 * its vocabulary categories, decide what the name covers, then score any image against it.
 *
 * The rule (measured on the shared photos: docs/taught-names.md, `npm run lab:taught-names`):
 * - group: the most specific vocabulary category that every example has with a score of at least
 *   GROUP_MIN_SCORE ("dog" for three dog breeds; none for a dog, a car and a cup). A candidate must
 *   have that category at GROUP_MIN_SCORE / 2 or more: the classifier's own knowledge keeps a red
 *   panda out of "my dogs", which the embedding alone lets in.
 * - centroid: the mean of the examples' embeddings, L2-normalised.
 * - threshold: leave-one-out: each example's cosine similarity to the centroid of the others; the
 *   lowest of them, less THRESHOLD_MARGIN, so every example (and what lies as near as they do) is
 *   in (never under MIN_THRESHOLD); counter-examples raise it just past their own similarity when
 *   they would otherwise match, as long as the examples stay in.
 * A candidate matches when it passes the group and its similarity to the centroid reaches the
 * threshold; its score is that similarity.
 */

export interface NameExample {
  /** L2-normalised embedding (classifier output). */
  embedding: Float32Array;
  /** The image's vocabulary categories ({label: English name, score}), as the index holds them. */
  categories: readonly { label: string; score: number }[];
}

export interface NameMeaning {
  /** The vocabulary category every example shares (English name), if any. */
  group?: string;
  /** Mean of the examples' embeddings, L2-normalised. */
  centroid: Float32Array;
  /** Cosine similarity to the centroid a candidate needs. */
  threshold: number;
  /** Leave-one-out similarities of the examples (what the threshold came from). */
  leaveOneOut: number[];
}

/** A category counts as shared when every example scores at least this for it. */
export const GROUP_MIN_SCORE = 0.5;
export const THRESHOLD_MARGIN = 0.05;
/** Below this the embedding alone says nothing (unrelated photos reach about 0.3 with MobileNetV2). */
export const MIN_THRESHOLD = 0.35;
export const MIN_EXAMPLES = 3;
export const MAX_EXAMPLES = 100;

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

/** The normalised mean of some vectors (all of one dimension). */
export function centroidOf(vectors: readonly Float32Array[]): Float32Array {
  const first = vectors[0];
  if (!first) throw new RangeError('no vectors');
  const out = new Float32Array(first.length);
  for (const v of vectors) {
    if (v.length !== out.length) throw new RangeError('vectors of different dimensions');
    for (let i = 0; i < v.length; i++) out[i] = (out[i] as number) + (v[i] as number);
  }
  const norm = Math.sqrt(dot(out, out)) || 1;
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / norm;
  return out;
}

const scoreOf = (e: Pick<NameExample, 'categories'>, category: string) =>
  e.categories.find((c) => c.label === category)?.score ?? 0;

/**
 * Decides what examples mean. `groupSize(category)` tells how many classes a category holds (the
 * smallest shared one is the most specific: "dog" before "mammal" before "animal").
 */
export function understandName(
  examples: readonly NameExample[],
  counterExamples: readonly NameExample[] = [],
  groupSize: (category: string) => number = () => 1,
): NameMeaning {
  if (examples.length < MIN_EXAMPLES || examples.length > MAX_EXAMPLES)
    throw new RangeError(`a name needs ${MIN_EXAMPLES} to ${MAX_EXAMPLES} examples, got ${examples.length}`);
  const shared = (examples[0]?.categories ?? [])
    .map((c) => c.label)
    .filter((label) => examples.every((e) => scoreOf(e, label) >= GROUP_MIN_SCORE))
    .sort((a, b) => groupSize(a) - groupSize(b));
  const group = shared[0];
  const centroid = centroidOf(examples.map((e) => e.embedding));
  const leaveOneOut = examples.map((e, i) =>
    dot(e.embedding, centroidOf(examples.filter((_, j) => j !== i).map((x) => x.embedding))),
  );
  const lowest = Math.min(...leaveOneOut);
  let threshold = Math.max(MIN_THRESHOLD, lowest - THRESHOLD_MARGIN);
  // Counter-examples the rule would take in raise the threshold past them, if the examples stay in.
  const inGroup = (e: NameExample) => group === undefined || scoreOf(e, group) >= GROUP_MIN_SCORE / 2;
  for (const n of counterExamples) {
    if (!inGroup(n)) continue;
    const s = dot(n.embedding, centroid);
    if (s >= threshold && s + THRESHOLD_MARGIN / 5 < lowest) threshold = s + THRESHOLD_MARGIN / 5;
  }
  return { ...(group !== undefined ? { group } : {}), centroid, threshold, leaveOneOut };
}

/** The candidate's score for the name (cosine similarity to the centroid), or undefined when it does not match. */
export function matchName(meaning: NameMeaning, candidate: NameExample): number | undefined {
  if (meaning.group !== undefined && scoreOf(candidate, meaning.group) < GROUP_MIN_SCORE / 2)
    return undefined;
  const s = dot(candidate.embedding, meaning.centroid);
  return s >= meaning.threshold ? s : undefined;
}
