/** The taught-name rule (src/tagging/taught-names.ts) on made-up embeddings; measured on real photos by npm run lab:taught-names. */
import { describe, expect, it } from 'vitest';
import { centroidOf, matchName, type NameExample, understandName } from '../../src/tagging/taught-names.ts';

/** A unit vector near axis `axis` of 8 dimensions, tilted by `tilt` towards axis `towards`. */
function vec(axis: number, tilt = 0, towards = (axis + 1) % 8): Float32Array {
  const v = new Float32Array(8);
  v[axis] = 1;
  v[towards] = tilt;
  return centroidOf([v]);
}
const ex = (embedding: Float32Array, categories: [string, number][] = []): NameExample => ({
  embedding,
  categories: categories.map(([label, score]) => ({ label, score })),
});
const sizes: Record<string, number> = { animal: 400, mammal: 200, dog: 118 };
const size = (c: string) => sizes[c] ?? 1000;

describe('what a taught name means', () => {
  const dogs = [
    ex(vec(0, 0.3), [
      ['animal', 0.99],
      ['mammal', 0.95],
      ['dog', 0.9],
    ]),
    ex(vec(0, 0.4, 2), [
      ['animal', 0.99],
      ['mammal', 0.97],
      ['dog', 0.8],
    ]),
    ex(vec(0, 0.5, 3), [
      ['animal', 0.98],
      ['mammal', 0.9],
      ['dog', 0.7],
    ]),
  ];

  it('takes the most specific category every example shares, and a threshold every example passes', () => {
    const m = understandName(dogs, [], size);
    expect(m.group).toBe('dog');
    expect(m.leaveOneOut).toHaveLength(3);
    expect(m.threshold).toBeLessThan(Math.min(...m.leaveOneOut));
    for (const d of dogs) expect(matchName(m, d)).toBeGreaterThanOrEqual(m.threshold);
  });

  it('keeps out what looks alike but is not of the group, and what is of the group but far', () => {
    const m = understandName(dogs, [], size);
    // A red panda: close in the embedding, not a dog to the classifier.
    expect(
      matchName(
        m,
        ex(vec(0, 0.35), [
          ['animal', 0.99],
          ['mammal', 0.9],
        ]),
      ),
    ).toBeUndefined();
    expect(matchName(m, ex(vec(5), [['dog', 0.9]]))).toBeUndefined();
    expect(matchName(m, ex(vec(0, 0.2, 4), [['dog', 0.6]]))).toBeGreaterThan(0.8);
  });

  it('uses the embedding alone when the examples share no category', () => {
    const mixed = [
      ex(vec(1, 0.2), [['car', 0.9]]),
      ex(vec(1, 0.3, 3), [['cup', 0.9]]),
      ex(vec(1, 0.25, 4), []),
    ];
    const m = understandName(mixed, [], size);
    expect(m.group).toBeUndefined();
    expect(matchName(m, ex(vec(1, 0.1)))).toBeDefined();
    expect(matchName(m, ex(vec(6)))).toBeUndefined();
  });

  it('a counter-example the rule would take in raises the threshold past it, the examples staying in', () => {
    const near = ex(vec(0, 0.6, 5), [['dog', 0.9]]);
    const before = understandName(dogs, [], size);
    expect(matchName(before, near)).toBeDefined();
    const after = understandName(dogs, [near], size);
    expect(matchName(after, near)).toBeUndefined();
    for (const d of dogs) expect(matchName(after, d)).toBeDefined();
  });

  it('needs 3 to 100 examples', () => {
    expect(() => understandName(dogs.slice(0, 2))).toThrow(RangeError);
  });
});
