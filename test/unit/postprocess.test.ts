import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/classifier/errors.ts';
import { softmax, topK, validateTopK } from '../../src/classifier/postprocess.ts';

describe('softmax', () => {
  it('sums to one and keeps the order of the logits', () => {
    const p = softmax([1, 2, 3, 0.5]);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(p[2]).toBeGreaterThan(p[1] as number);
    expect(p[0]).toBeCloseTo(Math.exp(1) / (Math.exp(1) + Math.exp(2) + Math.exp(3) + Math.exp(0.5)), 12);
  });

  it('stays finite for logits that would overflow exp()', () => {
    const p = softmax([1000, 999, -1000]);
    expect([...p].every(Number.isFinite)).toBe(true);
    expect(p[0]).toBeCloseTo(1 / (1 + Math.exp(-1)), 12);
    expect(p[2]).toBe(0);
  });
});

describe('topK', () => {
  const labels = ['a', 'b', 'c', 'd', 'e'];

  it('returns the k best, best first, with label, index and score', () => {
    expect(topK([0.1, 0.5, 0.05, 0.3, 0.05], labels, 3)).toEqual([
      { label: 'b', index: 1, score: 0.5 },
      { label: 'd', index: 3, score: 0.3 },
      { label: 'a', index: 0, score: 0.1 },
    ]);
  });

  it('keeps the lower index first on ties', () => {
    expect(topK([0.2, 0.2, 0.2, 0.2, 0.2], labels, 2).map((l) => l.index)).toEqual([0, 1]);
  });

  it('agrees with a full sort on random scores for every k from 1 to 20', () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const scores = Array.from({ length: 1000 }, rand);
    const names = scores.map((_, i) => `class ${i}`);
    const sorted = [...scores.keys()].sort((a, b) => (scores[b] as number) - (scores[a] as number));
    for (let k = 1; k <= 20; k++)
      expect(topK(scores, names, k).map((l) => l.index)).toEqual(sorted.slice(0, k));
  });

  it.each([0, 21, 2.5, Number.NaN, '3'])(
    'validateTopK (the edges: HTTP, CLI) rejects k = %s with a typed error',
    (k) => {
      expect(() => validateTopK(k)).toThrow(InvalidArgumentError);
      expect(() => validateTopK(k)).toThrow(/topK must be an integer from 1 to 20/);
    },
  );
});
