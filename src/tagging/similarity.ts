/**
 * When two images are copies of one photo, and how alike two photos are: the rules the tagger and
 * the HTTP API share. Both work on the classifier's L2-normalised embeddings (cosine similarity =
 * dot product) and its top classes with their probabilities (stored with each vector).
 *
 * Calibrated on ../shared's 50 photos and seven edited copies of each (JPEG quality 30, half size,
 * 90% centre crop, mirror, +20% brightness, 5-degree rotation, a burned-in caption), the other
 * photos as distractors: `npm run bench:duplicates` computes the figures of
 * docs/similar-and-duplicates.md, and test/integration/duplicates-calibration.test.ts holds the
 * threshold below to its targets on every run.
 */

/** How a copy relates to the image: the same bytes (SHA-256), or the same photo edited. */
export type DuplicateTier = 'exact' | 'near';

/**
 * Cosine similarity at or above which two images are the same photo (re-encoded, resized, cropped,
 * mirrored, brightened, straightened, captioned). Between the highest similarity of two different
 * photos and the lowest of a copy on the calibration set (docs/similar-and-duplicates.md).
 */
export const NEAR_DUPLICATE_SIMILARITY = 0.8;
