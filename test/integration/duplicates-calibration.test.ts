/**
 * The near-duplicate threshold (src/tagging/similarity.ts) against its targets, computed afresh on
 * ../shared's 50 photos and seven edited copies of each made by bench/duplicates.ts (the same code
 * as `npm run bench:duplicates`): near copies precision >= 0.99 and recall >= 0.95 for every edit,
 * exact copies 1.00 by SHA-256, and no two different photos (two dog breeds included) called copies.
 */
import { describe, expect, it } from 'vitest';
import { calibrateDuplicates, calibrationMarkdown, TRANSFORMS } from '../../bench/duplicates.ts';
import { NEAR_DUPLICATE_SIMILARITY } from '../../src/tagging/similarity.ts';
import { sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

describe.skipIf(skipUnlessShared('near-duplicate calibration'))('near-duplicate calibration', () => {
  it('the int8 MobileNetV2 finds every edited copy and no different photo at NEAR_DUPLICATE_SIMILARITY', async () => {
    const c = await calibrateDuplicates(sharedModelFolder());
    console.log(calibrationMarkdown(c).join('\n'));
    expect(c.threshold).toBe(NEAR_DUPLICATE_SIMILARITY);
    expect(c.transforms.map((t) => t.transform)).toEqual(Object.keys(TRANSFORMS));
    for (const t of c.transforms) {
      expect(t.recall, t.transform).toBeGreaterThanOrEqual(0.95);
      expect(t.precision, t.transform).toBeGreaterThanOrEqual(0.99);
    }
    expect(c.near.recall).toBeGreaterThanOrEqual(0.95);
    expect(c.near.precision).toBeGreaterThanOrEqual(0.99);
    expect(c.exact).toEqual({ precision: 1, recall: 1 });
    expect(c.distractorMax.similarity).toBeLessThan(NEAR_DUPLICATE_SIMILARITY);
    expect(c.sameCategoryMax.similarity).toBeLessThan(NEAR_DUPLICATE_SIMILARITY);
    // The dogs: the ranking table is computed for them (docs/similar-and-duplicates.md quotes it).
    expect(c.groups.map((g) => g.group)).toContain('dog');
  }, 600_000); // 400 classifications: about a minute on 2 idle cores
});
