/**
 * The taught names' scoring in ONNX Runtime (src/classifier/dot-products.ts, the tagger's
 * DotProducts port) gives what scoreNames' JavaScript loop gives: the same products within float
 * tolerance, and on seeded random names and embeddings of both served sizes the same names with
 * the same scores.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../models/resnet18.ts';
import { ortDotProducts } from '../../src/classifier/dot-products.ts';
import { scoreNames, type TaughtLabel } from '../../src/tagging/taught-labels.ts';
import { l2Normalize } from '../../src/tagging/vector-index.ts';
import { taughtLabel } from '../helpers/taught-labels-contract.ts';

describe('ortDotProducts', () => {
  const dotProducts = ortDotProducts();

  it('multiplies a vector with each row, as the plain sum does; no rows, no products', async () => {
    const random = seededRandom(1);
    const rows = Float32Array.from({ length: 7 * 5 }, () => random() * 2 - 1);
    const vector = Float32Array.from({ length: 5 }, () => random() * 2 - 1);
    const got = await dotProducts(rows, vector);
    expect(got).toHaveLength(7);
    got.forEach((p, k) => {
      const sum = vector.reduce((s, x, i) => s + x * (rows[k * 5 + i] as number), 0);
      expect(p).toBeCloseTo(sum, 5);
    });
    expect(await dotProducts(new Float32Array(0), vector)).toHaveLength(0);
    await expect(dotProducts(new Float32Array(6), vector)).rejects.toThrow(/not rows of 5/);
  });

  for (const dimension of [512, 1280])
    it(`scores ${dimension}-dimensional names as the JavaScript loop does`, async () => {
      const random = seededRandom(dimension);
      const unit = () => l2Normalize(Float32Array.from({ length: dimension }, () => random() - 0.5));
      // Random directions are about 1/sqrt(dimension) apart: a threshold near that lets a few match.
      const threshold = 1.5 / Math.sqrt(dimension);
      const groups = [undefined, 'dog', 'bird'];
      const names: TaughtLabel[] = Array.from({ length: 1000 }, (_, i) =>
        taughtLabel(`name ${i}`, { centroid: unit(), threshold, group: groups[i % 3] }),
      );
      let compared = 0;
      for (let upload = 0; upload < 20; upload++) {
        const image = { embedding: unit(), categories: [{ label: 'dog', score: 0.9 }] };
        // Float sums in another order differ by about 1e-7: an upload where a product lies that
        // close to the threshold, or two of the best six to each other, could rank either way and
        // is left out (decided on exact sums, so the same uploads on every CPU; the seed has few).
        const exact = names
          .filter((n) => n.group !== 'bird')
          .map((n) => n.centroid.reduce((s, c, i) => s + c * (image.embedding[i] as number), 0))
          .sort((a, b) => b - a);
        const best = exact.filter((p) => p >= threshold).slice(0, 6);
        if (exact.some((p) => Math.abs(p - threshold) < 1e-5)) continue;
        if (best.some((p, i) => i > 0 && (best[i - 1] as number) - p < 1e-5)) continue;
        const byLoop = await scoreNames(names, 'fake@1', image);
        const inOrt = await scoreNames(names, 'fake@1', image, dotProducts, 0);
        expect(byLoop).toHaveLength(5);
        expect(inOrt.map((n) => n.label)).toEqual(byLoop.map((n) => n.label));
        inOrt.forEach((n, i) => {
          expect(Math.abs(n.score - (byLoop[i]?.score as number))).toBeLessThan(1e-5);
        });
        compared++;
      }
      expect(compared).toBeGreaterThanOrEqual(15);
    });
});
