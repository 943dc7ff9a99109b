/**
 * npm run lab:category-threshold [-- --model <dir>] [--fold all|even|odd]
 *
 * How DEFAULT_CATEGORY_MIN_SCORE (src/classifier/postprocess.ts) is chosen. A category's score is
 * the sum of many classes' probabilities, so it needs its own threshold (MIN_CONFIDENCE stays the
 * labels'). Photos: ../shared's 50 (one ImageNet class each) and 7 transformed copies of each, made
 * here in memory (mirror, 70% centre crop, 12 degree rotation, darker and desaturated, greyscale,
 * blur, 128-px JPEG at quality 35): 400 images. A category is right when the photo's class belongs to
 * it (vocabulary.json); micro precision = right kept / kept, micro recall = right kept / all the
 * photos' categories.
 *
 * The method (2-fold, by photo: a photo and its copies stay in one fold): on each fold, the
 * candidate threshold with the best micro F1 (ties: the higher); its figures on the other fold are
 * what unseen photos get. The default is the larger of the two folds' choices (precision first).
 * The goal (micro precision >= TARGET_PRECISION at recall >= TARGET_RECALL) is reported as met or
 * not, per fold. The per-category and per-copy tables are at the default, over all 400 images.
 * Deterministic (no randomness; the same model and photos give the same tables).
 *
 * Default model: ../shared's int8 MobileNetV2, imported to a temporary folder.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { importModel } from '../models/import.ts';
import { SHARED_FILES } from '../paths.ts';
import { createClassifier } from '../src/classifier/classifier.ts';
import { INT8_FLAGS, readCpuInfo } from '../src/classifier/cpu.ts';
import { formatModelRef } from '../src/tagging/tags.ts';

export const CANDIDATES = [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6];
export const TARGET_PRECISION = 0.95;
export const TARGET_RECALL = 0.94;

/** The transformed copies of a photo (name, bytes), the photo itself first. */
export async function variants(bytes: Buffer): Promise<[string, Buffer][]> {
  const img = () => sharp(bytes).rotate();
  const { width = 0, height = 0 } = await img().metadata();
  const crop = { left: Math.round(width * 0.15), top: Math.round(height * 0.15) };
  return [
    ['original', bytes],
    ['mirror', await img().flop().jpeg({ quality: 90 }).toBuffer()],
    [
      'crop70',
      await img()
        .extract({ ...crop, width: Math.round(width * 0.7), height: Math.round(height * 0.7) })
        .jpeg({ quality: 90 })
        .toBuffer(),
    ],
    ['rotate12', await img().rotate(12, { background: '#808080' }).jpeg({ quality: 90 }).toBuffer()],
    ['dark', await img().modulate({ brightness: 0.6, saturation: 0.5 }).jpeg({ quality: 90 }).toBuffer()],
    ['grey', await img().greyscale().jpeg({ quality: 90 }).toBuffer()],
    ['blur', await img().blur(3).jpeg({ quality: 90 }).toBuffer()],
    ['small', await img().resize(128, 128, { fit: 'inside' }).jpeg({ quality: 35 }).toBuffer()],
  ];
}

export interface Sample {
  photo: number;
  variant: string;
  truth: Set<string>;
  /** Every category's score (id -> score). */
  scores: Map<string, number>;
}

export function microAt(samples: readonly Sample[], t: number) {
  let kept = 0;
  let right = 0;
  let truths = 0;
  for (const s of samples) {
    truths += s.truth.size;
    for (const [id, score] of s.scores)
      if (score >= t) {
        kept++;
        if (s.truth.has(id)) right++;
      }
  }
  return { t, kept, right, truths, precision: kept ? right / kept : 1, recall: truths ? right / truths : 1 };
}

const f1 = (r: { precision: number; recall: number }) =>
  r.precision + r.recall === 0 ? 0 : (2 * r.precision * r.recall) / (r.precision + r.recall);

/** The threshold the method picks on these samples: the best micro F1, ties to the higher. */
export function choose(samples: readonly Sample[]): number {
  const rows = CANDIDATES.map((t) => microAt(samples, t));
  return rows.reduce((a, b) => (f1(b) >= f1(a) ? b : a)).t;
}

async function main() {
  const { values } = parseArgs({ options: { model: { type: 'string' } } });
  let modelDir = values.model;
  if (!modelDir) {
    modelDir = join(await mkdtemp(join(tmpdir(), 'category-threshold-')), 'mobilenetv2-int8');
    await importModel({
      model: SHARED_FILES.int8,
      labels: SHARED_FILES.labels,
      name: 'mobilenetv2-int8',
      out: modelDir,
    });
  }
  const classifier = await createClassifier(modelDir, { threads: 1 });
  const vocabulary = classifier.folder.vocabulary;
  if (!vocabulary) throw new Error(`${modelDir} has no vocabulary.json (not an ImageNet-1k model folder)`);
  const photos = JSON.parse(await readFile(join(SHARED_FILES.photos, 'photos.json'), 'utf8')) as {
    file: string;
    classIndex: number;
  }[];
  const samples: Sample[] = [];
  for (const [i, p] of photos.entries()) {
    const truth = new Set(vocabulary.classes[p.classIndex]?.categories ?? []);
    for (const [variant, bytes] of await variants(await readFile(join(SHARED_FILES.photos, p.file)))) {
      const c = await classifier.classify(bytes, { topK: 1, minConfidence: 0, categoryMinScore: 0 });
      samples.push({
        photo: i,
        variant,
        truth,
        scores: new Map((c.categories ?? []).map((x) => [x.id, x.score])),
      });
    }
  }
  await classifier.release();

  const cpu = readCpuInfo();
  const flags = INT8_FLAGS.filter((f) => cpu.flags?.has(f)).join(' ');
  const fmt = (x: number) => x.toFixed(3);
  const table = (head: string[], rows: (string | number)[][]) =>
    [
      `| ${head.join(' | ')} |`,
      `| ${head.map(() => '---').join(' | ')} |`,
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n');
  console.log(
    `# ${formatModelRef(classifier.folder.meta)}, ${photos.length} photos x 8 = ${samples.length} images, flags: ${flags}\n`,
  );
  const originals = samples.filter((s) => s.variant === 'original');
  console.log(
    table(
      [
        'threshold',
        'kept',
        'right',
        'micro precision',
        'micro recall',
        'F1',
        'originals: precision',
        'originals: recall',
      ],
      CANDIDATES.map((t) => {
        const r = microAt(samples, t);
        const o = microAt(originals, t);
        return [
          t,
          r.kept,
          r.right,
          fmt(r.precision),
          fmt(r.recall),
          fmt(f1(r)),
          fmt(o.precision),
          fmt(o.recall),
        ];
      }),
    ),
  );
  const even = samples.filter((s) => s.photo % 2 === 0);
  const odd = samples.filter((s) => s.photo % 2 === 1);
  const folds = [
    ['even photos', choose(even), odd],
    ['odd photos', choose(odd), even],
  ] as const;
  console.log(
    `\n${table(
      [
        'chosen on',
        'threshold',
        'held-out precision',
        'held-out recall',
        `goal (>= ${TARGET_PRECISION}, >= ${TARGET_RECALL})`,
      ],
      folds.map(([name, t, other]) => {
        const r = microAt(other, t);
        const met = r.precision >= TARGET_PRECISION && r.recall >= TARGET_RECALL ? 'met' : 'not met';
        return [name, t, fmt(r.precision), fmt(r.recall), met];
      }),
    )}`,
  );
  const chosen = Math.max(folds[0][1], folds[1][1]);
  console.log(`\ndefault: ${chosen}\n`);
  const variantNames = [...new Set(samples.map((s) => s.variant))];
  console.log(
    table(
      ['copy', 'precision', 'recall'],
      variantNames.map((v) => {
        const r = microAt(
          samples.filter((s) => s.variant === v),
          chosen,
        );
        return [v, fmt(r.precision), fmt(r.recall)];
      }),
    ),
  );
  const perCategory: (string | number)[][] = [];
  for (const c of vocabulary.categories) {
    let inTruth = 0;
    let kept = 0;
    let right = 0;
    for (const s of samples) {
      const has = s.truth.has(c.id);
      if (has) inTruth++;
      if ((s.scores.get(c.id) ?? 0) >= chosen) {
        kept++;
        if (has) right++;
      }
    }
    if (inTruth === 0 && kept === 0) continue;
    perCategory.push([
      c.en,
      inTruth,
      kept,
      right,
      kept ? fmt(right / kept) : '-',
      inTruth ? fmt(right / inTruth) : '-',
    ]);
  }
  console.log(
    `\n${table(['category', 'images of it', 'kept', 'right', 'precision', 'recall'], perCategory)}`,
  );
}

if (process.argv[1] && import.meta.filename === process.argv[1]) await main();
