/** The method behind DEFAULT_CATEGORY_MIN_SCORE (lab/category-threshold.ts) on samples made here. */
import { describe, expect, it } from 'vitest';
import { choose, microAt, type Sample } from '../../lab/category-threshold.ts';

const sample = (truth: string[], scores: [string, number][]): Sample => ({
  photo: 0,
  variant: 'original',
  truth: new Set(truth),
  scores: new Map(scores),
});

describe('category threshold method', () => {
  const samples = [
    sample(
      ['dog'],
      [
        ['dog', 0.9],
        ['furniture', 0.3],
      ],
    ),
    sample(
      ['dog'],
      [
        ['dog', 0.45],
        ['clothing', 0.2],
      ],
    ),
    sample(
      ['chair'],
      [
        ['chair', 0.7],
        ['dog', 0.12],
      ],
    ),
  ];

  it('counts micro precision and recall over all images', () => {
    expect(microAt(samples, 0.1)).toMatchObject({ kept: 6, right: 3, precision: 0.5, recall: 1 });
    expect(microAt(samples, 0.4)).toMatchObject({ kept: 3, right: 3, precision: 1, recall: 1 });
    expect(microAt(samples, 0.5)).toMatchObject({ kept: 2, right: 2, recall: 2 / 3 });
  });

  it('chooses the best micro F1, ties to the higher threshold', () => {
    // F1 is 1 from 0.35 to 0.45 (the 0.45 dog is still kept at 0.45).
    expect(choose(samples)).toBe(0.45);
  });
});
