/**
 * npm run bench:duplicates -- [--model <folder> ...] [--threshold T]
 *
 * Calibrates near-duplicates and the ranking of similar photos (issue 25) on ../shared's 50 photos,
 * computed afresh on every run (nothing here is a stored result):
 * - copies: seven edited copies of each photo made here with sharp (JPEG quality 30, half size, 90%
 *   centre crop, mirror, +20% brightness, a 5-degree rotation cropped to the rotated picture, a
 *   burned-in caption) and one byte-identical copy; the other photos and their copies are the
 *   distractors. Per transform: the lowest similarity of a copy to its original, the recall at the
 *   threshold (src/tagging/similarity.ts NEAR_DUPLICATE_SIMILARITY unless --threshold) and the
 *   precision (copies of this transform over everything at or above the threshold that involves
 *   them). Exact copies by SHA-256. The highest similarity of two different photos says how much
 *   room the threshold has;
 * - ranking: for each photo of a group of the vocabulary's categories with 4 or more members
 *   (dog, mammal, animal, vehicle, artefact), its 3 nearest other photos by embedding cosine alone,
 *   and blended with the class-probability similarity (1 - Hellinger) at weights 0.5, 1 and 2, from
 *   the full probabilities and from the top 3 classes each stored vector carries: precision@3 and
 *   how often the nearest is in the group.
 * Default models: ../shared's int8 MobileNetV2 (the storage `auto` picks) and fp32 MobileNetV2,
 * imported into .cache/duplicates; --model adds any model folder (e.g. a ResNet-18 build).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { importModel } from '../models/import.ts';
import { cacheDir, SHARED, SHARED_FILES, sharedModel } from '../paths.ts';
import { createClassifier } from '../src/classifier/classifier.ts';
import { dot } from '../src/classifier/math.ts';
import { loadModelFolder } from '../src/classifier/model-folder.ts';
import { sharp } from '../src/classifier/native.ts';
import type { Vocabulary } from '../src/classifier/vocabulary.ts';
import { NEAR_DUPLICATE_SIMILARITY } from '../src/tagging/similarity.ts';

/** Top classes of an image and their probabilities, index-aligned. */
interface ClassProfile {
  classes: readonly number[];
  scores: readonly number[];
}

/**
 * 1 - Hellinger distance of two class-probability distributions known by their listed classes: the
 * Bhattacharyya coefficient sums sqrt(p q) over the classes both list (mass neither lists is taken
 * as not shared). 1: the same distribution; 0: no class in common.
 */
export function classSimilarity(a: ClassProfile, b: ClassProfile): number {
  const q = new Map<number, number>();
  b.classes.forEach((c, i) => {
    q.set(c, b.scores[i] ?? 0);
  });
  let bc = 0;
  a.classes.forEach((c, i) => {
    const other = q.get(c);
    if (other !== undefined) bc += Math.sqrt(Math.max(0, a.scores[i] ?? 0) * Math.max(0, other));
  });
  return 1 - Math.sqrt(Math.max(0, 1 - Math.min(1, bc)));
}

const similarityScore = (cosine: number, classes: number, weight: number) => cosine + weight * classes;

/** The edits a user makes to a photo, as sharp pipelines on its bytes (all but `jpeg q30` saved at quality 90). */
export const TRANSFORMS: Record<string, (bytes: Uint8Array) => Promise<Buffer>> = {
  'JPEG q30': (b) => sharp(b).jpeg({ quality: 30 }).toBuffer(),
  'half size': async (b) => {
    const { width } = await sharp(b).metadata();
    return sharp(b)
      .resize(Math.round((width ?? 2) / 2))
      .jpeg({ quality: 90 })
      .toBuffer();
  },
  '90% centre crop': async (b) => {
    const { width = 1, height = 1 } = await sharp(b).metadata();
    const w = Math.round(width * 0.9);
    const h = Math.round(height * 0.9);
    return sharp(b)
      .extract({ left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h })
      .jpeg({ quality: 90 })
      .toBuffer();
  },
  mirror: (b) => sharp(b).flop().jpeg({ quality: 90 }).toBuffer(),
  '+20% brightness': (b) => sharp(b).modulate({ brightness: 1.2 }).jpeg({ quality: 90 }).toBuffer(),
  '5-degree rotation': async (b) => {
    // As a photo editor straightens: rotate, then keep the largest centred upright rectangle (no corners).
    const { width = 1, height = 1 } = await sharp(b).metadata();
    const a = (5 * Math.PI) / 180;
    const w = Math.floor(width * Math.cos(a) - height * Math.sin(a));
    const h = Math.floor(height * Math.cos(a) - width * Math.sin(a));
    const rotated = await sharp(b).rotate(5).toBuffer({ resolveWithObject: true });
    const { width: rw, height: rh } = rotated.info;
    return sharp(rotated.data)
      .extract({ left: Math.floor((rw - w) / 2), top: Math.floor((rh - h) / 2), width: w, height: h })
      .jpeg({ quality: 90 })
      .toBuffer();
  },
  caption: async (b) => {
    const { width = 1, height = 1 } = await sharp(b).metadata();
    const size = Math.round(height / 12);
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><text x="${width / 2}" y="${height - size}" font-size="${size}" font-family="sans-serif" font-weight="bold" fill="white" stroke="black" stroke-width="${Math.max(1, size / 16)}" text-anchor="middle">Summer holiday 2026</text></svg>`;
    return sharp(b)
      .composite([{ input: Buffer.from(svg) }])
      .jpeg({ quality: 90 })
      .toBuffer();
  },
};

interface Photo {
  file: string;
  classIndex: number;
}

/** One image of the set: a photo or a copy of one. */
interface Image {
  source: number;
  /** 'original', 'exact copy' or a TRANSFORMS name. */
  version: string;
  sha256: string;
  embedding: Float32Array;
  /** The full class probabilities. */
  probabilities: Float64Array;
}

export interface TransformFigures {
  transform: string;
  lowest: number;
  median: number;
  recall: number;
  precision: number;
}

export interface GroupRanking {
  group: string;
  members: number;
  /** Precision@3 (over members x 3) and nearest-in-group count, per ranking. */
  byRanking: Record<string, { precisionAt3: number; firstInGroup: number }>;
}

export interface DuplicateCalibration {
  model: string;
  storage: string;
  photos: number;
  threshold: number;
  transforms: TransformFigures[];
  /** All near copies together. */
  near: { precision: number; recall: number };
  exact: { precision: number; recall: number };
  /** The highest similarity of two images of different photos (originals and copies). */
  distractorMax: { similarity: number; a: string; b: string };
  /** The highest similarity of two different photos of one category (e.g. two dog breeds). */
  sameCategoryMax: { similarity: number; a: string; b: string };
  groups: GroupRanking[];
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

/** The top `k` classes of a probability vector, as each stored vector carries them. */
function topClasses(p: Float64Array, k: number): ClassProfile {
  const order = [...p.keys()].sort((a, b) => (p[b] as number) - (p[a] as number)).slice(0, k);
  return { classes: order, scores: order.map((i) => p[i] as number) };
}

const fullProfile = (p: Float64Array): ClassProfile => ({ classes: [...p.keys()], scores: [...p] });

/** The rankings compared: name -> score of neighbour b for photo a. */
const RANKINGS: Record<string, (a: Image, b: Image) => number> = {
  cosine: (a, b) => dot(a.embedding, b.embedding),
  ...Object.fromEntries(
    [0.5, 1, 2].flatMap((w) => [
      [
        `cosine + ${w} x class similarity (all classes)`,
        (a: Image, b: Image) =>
          similarityScore(
            dot(a.embedding, b.embedding),
            classSimilarity(fullProfile(a.probabilities), fullProfile(b.probabilities)),
            w,
          ),
      ],
      [
        `cosine + ${w} x class similarity (top 3, as stored)`,
        (a: Image, b: Image) =>
          similarityScore(
            dot(a.embedding, b.embedding),
            classSimilarity(topClasses(a.probabilities, 3), topClasses(b.probabilities, 3)),
            w,
          ),
      ],
    ]),
  ),
};

/** Calibrates one model folder on ../shared's photos (see the top of this file). */
export async function calibrateDuplicates(
  modelDir: string,
  options: { threshold?: number; threads?: number } = {},
): Promise<DuplicateCalibration> {
  const threshold = options.threshold ?? NEAR_DUPLICATE_SIMILARITY;
  const photos = JSON.parse(await readFile(join(SHARED_FILES.photos, 'photos.json'), 'utf8')) as Photo[];
  const classifier = await createClassifier(modelDir, { threads: options.threads ?? 2 });
  const images: Image[] = [];
  try {
    if (!classifier.folder.meta.embedding)
      throw new Error(`${modelDir}: the model folder gives no embedding`);
    const embed = async (source: number, version: string, bytes: Uint8Array) => {
      const c = await classifier.classify(bytes, { topK: classifier.folder.labels.length, minConfidence: 0 });
      const probabilities = new Float64Array(classifier.folder.labels.length);
      for (const l of c.labels) probabilities[l.index] = l.score;
      images.push({
        source,
        version,
        sha256: sha256(bytes),
        embedding: c.embedding as Float32Array,
        probabilities,
      });
    };
    for (const [i, photo] of photos.entries()) {
      const bytes = await readFile(join(SHARED_FILES.photos, photo.file));
      await embed(i, 'original', bytes);
      await embed(i, 'exact copy', Uint8Array.from(bytes));
      for (const [name, transform] of Object.entries(TRANSFORMS))
        await embed(i, name, await transform(bytes));
    }
  } finally {
    await classifier.release();
  }
  const name = (im: Image) => `${photos[im.source]?.file} (${im.version})`;
  const originals = images.filter((im) => im.version === 'original');
  const near = images.filter((im) => im.version !== 'exact copy');

  // Near copies: per transform, each copy against its original (recall) and against every image of other photos (precision).
  const transforms = Object.keys(TRANSFORMS).map((transform): TransformFigures => {
    const copies = near.filter((im) => im.version === transform);
    const own = copies.map((c) => dot(c.embedding, (originals[c.source] as Image).embedding));
    const tp = own.filter((s) => s >= threshold).length;
    let fp = 0;
    for (const c of copies)
      for (const other of near)
        if (other.source !== c.source && dot(c.embedding, other.embedding) >= threshold) fp++;
    return {
      transform,
      lowest: Math.min(...own),
      median: median(own),
      recall: tp / copies.length,
      precision: tp + fp === 0 ? 1 : tp / (tp + fp),
    };
  });
  let tp = 0;
  let fp = 0;
  let positives = 0;
  let distractorMax = { similarity: -1, a: '', b: '' };
  for (const [i, a] of near.entries())
    for (const b of near.slice(i + 1)) {
      const s = dot(a.embedding, b.embedding);
      if (a.source === b.source) {
        positives++;
        if (s >= threshold) tp++;
      } else {
        if (s >= threshold) fp++;
        if (s > distractorMax.similarity) distractorMax = { similarity: s, a: name(a), b: name(b) };
      }
    }
  // Exact copies: equal SHA-256, among every image of the set.
  let exactTp = 0;
  let exactFound = 0;
  for (const [i, a] of images.entries())
    for (const b of images.slice(i + 1))
      if (a.sha256 === b.sha256) {
        exactFound++;
        if (a.source === b.source && [a.version, b.version].sort().join() === 'exact copy,original')
          exactTp++;
      }

  // Ranking similar photos among the originals, by group of the vocabulary's categories.
  const vocabulary = classifier.folder.vocabulary as Vocabulary | undefined;
  const categoriesOf = (im: Image) =>
    vocabulary?.classes[photos[im.source]?.classIndex ?? -1]?.categories ?? [];
  const counts = new Map<string, number>();
  for (const im of originals) for (const c of categoriesOf(im)) counts.set(c, (counts.get(c) ?? 0) + 1);
  const groups = [...counts]
    .filter(([, n]) => n >= 4)
    .sort((a, b) => a[1] - b[1])
    .map(([group, members]): GroupRanking => {
      const inGroup = originals.filter((im) => categoriesOf(im).includes(group));
      const byRanking = Object.fromEntries(
        Object.entries(RANKINGS).map(([ranking, score]) => {
          let hits = 0;
          let first = 0;
          for (const a of inGroup) {
            const nearest = originals
              .filter((b) => b !== a)
              .map((b) => ({ b, s: score(a, b) }))
              .sort((x, y) => y.s - x.s)
              .slice(0, 3);
            hits += nearest.filter((n) => categoriesOf(n.b).includes(group)).length;
            if (nearest[0] && categoriesOf(nearest[0].b).includes(group)) first++;
          }
          return [ranking, { precisionAt3: hits / (3 * inGroup.length), firstInGroup: first }];
        }),
      );
      return { group, members, byRanking };
    });
  let sameCategoryMax = { similarity: -1, a: '', b: '' };
  for (const [i, a] of originals.entries())
    for (const b of originals.slice(i + 1)) {
      const shared = categoriesOf(a).filter(
        (c) => c !== 'animal' && c !== 'artefact' && categoriesOf(b).includes(c),
      );
      const s = dot(a.embedding, b.embedding);
      if (shared.length > 0 && s > sameCategoryMax.similarity)
        sameCategoryMax = { similarity: s, a: name(a), b: name(b) };
    }

  const folder = await loadModelFolder(modelDir);
  return {
    model: `${folder.meta.name}@${folder.meta.version}`,
    storage: classifier.weights.storage ?? classifier.weights.file,
    photos: photos.length,
    threshold,
    transforms,
    near: { precision: tp + fp === 0 ? 1 : tp / (tp + fp), recall: tp / positives },
    exact: { precision: exactFound === 0 ? 1 : exactTp / exactFound, recall: exactTp / photos.length },
    distractorMax,
    sameCategoryMax,
    groups,
  };
}

/** The calibration as markdown (what the CLI prints and docs/similar-and-duplicates.md quotes). */
export function calibrationMarkdown(c: DuplicateCalibration): string[] {
  const f = (x: number) => x.toFixed(3);
  const lines = [
    `### ${c.model} (${c.storage}), ${c.photos} photos, threshold ${c.threshold}\n`,
    '| copy | lowest similarity to its original | median | recall | precision |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...c.transforms.map(
      (t) => `| ${t.transform} | ${f(t.lowest)} | ${f(t.median)} | ${f(t.recall)} | ${f(t.precision)} |`,
    ),
    `| **all near copies** (every pair of versions of one photo) | | | **${f(c.near.recall)}** | **${f(c.near.precision)}** |`,
    `| **exact copies** (SHA-256) | | | **${f(c.exact.recall)}** | **${f(c.exact.precision)}** |`,
    '',
    `Highest similarity of two different photos (originals and copies): ${f(c.distractorMax.similarity)} (${c.distractorMax.a} and ${c.distractorMax.b}); of two photos of one category: ${f(c.sameCategoryMax.similarity)} (${c.sameCategoryMax.a} and ${c.sameCategoryMax.b}).`,
    '',
    `| ranking of the 3 nearest other photos | ${c.groups.map((g) => `${g.group} (${g.members}): P@3, nearest in group`).join(' | ')} |`,
    `| --- | ${c.groups.map(() => '---:').join(' | ')} |`,
    ...Object.keys(c.groups[0]?.byRanking ?? {}).map(
      (r) =>
        `| ${r} | ${c.groups
          .map((g) => {
            const x = g.byRanking[r] as { precisionAt3: number; firstInGroup: number };
            return `${Math.round(x.precisionAt3 * 3 * g.members)}/${3 * g.members}, ${x.firstInGroup}/${g.members}`;
          })
          .join(' | ')} |`,
    ),
    '',
  ];
  return lines;
}

/** ../shared's MobileNetV2 imported into .cache/duplicates (again when it lacks the embedding). */
async function sharedFolder(model: 'mobilenetv2-int8' | 'mobilenetv2-fp32'): Promise<string> {
  const out = join(cacheDir('duplicates'), model);
  const fresh =
    existsSync(join(out, 'model.json')) &&
    JSON.parse(await readFile(join(out, 'model.json'), 'utf8')).embedding !== undefined;
  if (!fresh) await importModel({ model: sharedModel(model), labels: SHARED_FILES.labels, name: model, out });
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { model: { type: 'string', multiple: true }, threshold: { type: 'string' } },
  });
  if (!existsSync(SHARED_FILES.photos))
    throw new Error(`${SHARED} is absent: the calibration needs its photos`);
  const dirs = [
    await sharedFolder('mobilenetv2-int8'),
    await sharedFolder('mobilenetv2-fp32'),
    ...(values.model ?? []).map((m) => resolve(m)),
  ];
  const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
  for (const dir of dirs)
    for (const line of calibrationMarkdown(await calibrateDuplicates(dir, { threshold }))) console.log(line);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  main().catch((err: Error) => {
    console.error(`bench:duplicates: ${err.stack ?? err.message}`);
    process.exit(1);
  });
