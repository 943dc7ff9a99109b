/** Scores -> ranked labels. */
import { InvalidArgumentError } from './errors.ts';

export interface Label {
  label: string;
  index: number;
  score: number;
}

export const MAX_TOP_K = 20;
export const DEFAULT_TOP_K = 3;
/**
 * Like Rekognition's MinConfidence: a label or category scoring less is neither tagged nor indexed
 * (the HTTP answer keeps its top-k labels). Chosen from the 50 photos of ../shared: see
 * docs/vocabulary.md.
 */
export const DEFAULT_MIN_CONFIDENCE = 0.1;
/**
 * A category's own threshold (CATEGORY_MIN_SCORE): a category scores the sum of many classes'
 * small probabilities, so at MIN_CONFIDENCE's 0.1 it was too generous. A category is kept when it
 * scores at least this and at least MIN_CONFIDENCE. Chosen by lab/category-threshold.ts on the 50
 * photos of ../shared and 7 transformed copies of each (2-fold by photo): see docs/vocabulary.md.
 */
export const DEFAULT_CATEGORY_MIN_SCORE = 0.5;

export function validateMinConfidence(v: unknown, name = 'minConfidence'): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1)
    throw new InvalidArgumentError(`${name} must be a number from 0 to 1, got ${String(v)}`);
  return v;
}

/** Numerically stable softmax: subtracting the maximum keeps exp() from overflowing. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i] as number);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp((logits[i] as number) - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / sum;
  return out;
}

/** A top-k from outside (HTTP, CLI), checked once there: the classifier takes it as given. */
export function validateTopK(k: unknown): number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > MAX_TOP_K)
    throw new InvalidArgumentError(`topK must be an integer from 1 to ${MAX_TOP_K}, got ${String(k)}`);
  return k;
}

/** The k highest scores, best first; ties keep the lower class index first. */
export function topK(scores: ArrayLike<number>, labels: readonly string[], k: number): Label[] {
  const best: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    if (best.length === k && s <= (scores[best[k - 1] as number] as number)) continue;
    let pos = best.length;
    while (pos > 0 && (scores[best[pos - 1] as number] as number) < s) pos--;
    best.splice(pos, 0, i);
    if (best.length > k) best.pop();
  }
  return best.map((index) => ({
    label: labels[index] ?? `class ${index}`,
    index,
    score: scores[index] as number,
  }));
}
