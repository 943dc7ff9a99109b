/**
 * npm run lab:taught-names [-- --model <dir>]
 *
 * What the taught-name rule (src/tagging/taught-names.ts) achieves on ../shared's 50 photos and
 * copies made of them here (never written to disk), with precision and recall on everything that
 * was not an example:
 * - a broad group: several dog breeds (the 6 dog photos), taught from 3 and 5 of them; the rest are
 *   the other dogs (positives) and the 44 other photos (negatives, a red panda among them);
 * - one subject: one photo standing in for several photos of one thing, as 12 different crops and
 *   edits of it; taught from 3, 5 and 10 of them; positives the other edits, negatives the other 49
 *   photos and the same edits of the other dog photos ("other photos of its class").
 * Each setting is repeated over several choices of examples (every dog photo as a subject; example
 * sets rotated) and the counts summed. Default model: ../shared's int8 MobileNetV2, imported with its
 * embedding to a temporary folder.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { importModel } from '../models/import.ts';
import { SHARED, SHARED_FILES } from '../paths.ts';
import { createClassifier } from '../src/classifier/classifier.ts';
import { sharp } from '../src/classifier/native.ts';
import { categoryMembers } from '../src/classifier/vocabulary.ts';
import { matchName, type NameExample, understandName } from '../src/tagging/taught-names.ts';

const { values } = parseArgs({ options: { model: { type: 'string' } } });
async function importSharedInt8(): Promise<string> {
  const out = join(await mkdtemp(join(tmpdir(), 'taught-names-')), 'mobilenetv2-int8');
  await importModel({ model: SHARED_FILES.int8, labels: SHARED_FILES.labels, name: 'mobilenetv2-int8', out });
  return out;
}
const modelDir = values.model ?? (await importSharedInt8());
const classifier = await createClassifier(modelDir, { threads: 2 });
const { vocabulary } = classifier.folder;
const sizes = vocabulary ? categoryMembers(vocabulary) : new Map<string, number[]>();
const groupSize = (name: string) =>
  sizes.get(vocabulary?.categories.find((c) => c.en === name)?.id ?? '')?.length ?? 1000;

interface Photo {
  file: string;
  classIndex: number;
}
const photos = (JSON.parse(await readFile(join(SHARED, 'photos/photos.json'), 'utf8')) as Photo[]).sort(
  (a, b) => a.file.localeCompare(b.file),
);
const isDog = (p: Photo) => p.classIndex >= 151 && p.classIndex <= 268;

async function example(bytes: Buffer): Promise<NameExample> {
  const c = await classifier.classify(bytes, { topK: 5, minConfidence: 0.1 });
  if (!c.embedding) throw new Error(`${modelDir} gives no embedding: import it with one`);
  return {
    embedding: c.embedding,
    categories: (c.categories ?? []).map((x) => ({ label: x.label, score: x.score })),
  };
}

/** 12 crops and edits of one photo: what several photos of one subject look like to the embedding. */
async function edits(path: string): Promise<Buffer[]> {
  const image = sharp(path);
  const { width = 0, height = 0 } = await image.metadata();
  const crop = (l: number, t: number, f: number) =>
    sharp(path)
      .extract({
        left: Math.round(width * l),
        top: Math.round(height * t),
        width: Math.round(width * f),
        height: Math.round(height * f),
      })
      .jpeg({ quality: 85 })
      .toBuffer();
  return Promise.all([
    crop(0, 0, 0.8),
    crop(0.2, 0, 0.8),
    crop(0, 0.2, 0.8),
    crop(0.2, 0.2, 0.8),
    crop(0.1, 0.1, 0.7),
    crop(0.15, 0.15, 0.6),
    sharp(path).flop().jpeg({ quality: 85 }).toBuffer(),
    sharp(path).modulate({ brightness: 1.2 }).jpeg({ quality: 85 }).toBuffer(),
    sharp(path).modulate({ saturation: 0.6 }).jpeg({ quality: 85 }).toBuffer(),
    sharp(path).rotate(8, { background: '#808080' }).jpeg({ quality: 85 }).toBuffer(),
    sharp(path).jpeg({ quality: 30 }).toBuffer(),
    sharp(path)
      .flop()
      .modulate({ brightness: 0.85 })
      .extract({ left: 0, top: 0, width: Math.round(width * 0.85), height: Math.round(height * 0.85) })
      .jpeg({ quality: 85 })
      .toBuffer(),
  ]);
}

const all = new Map<string, NameExample>();
for (const p of photos) all.set(p.file, await example(await readFile(join(SHARED_FILES.photos, p.file))));
const dogs = photos.filter(isDog);
const editsOf = new Map<string, NameExample[]>();
for (const d of dogs) {
  const list: NameExample[] = [];
  for (const b of await edits(join(SHARED_FILES.photos, d.file))) list.push(await example(b));
  editsOf.set(d.file, list);
}

interface Tally {
  tp: number;
  fp: number;
  fn: number;
  groups: Map<string, number>;
}
const tally = (): Tally => ({ tp: 0, fp: 0, fn: 0, groups: new Map() });
/** The rule, and (`alone`) the same centroid and threshold without the vocabulary group. */
function judge(
  t: Tally,
  alone: Tally,
  taught: NameExample[],
  positives: NameExample[],
  negatives: NameExample[],
) {
  const meaning = understandName(taught, [], groupSize);
  const { group: _, ...withoutGroup } = meaning;
  const g = meaning.group ?? '(embedding alone)';
  t.groups.set(g, (t.groups.get(g) ?? 0) + 1);
  alone.groups.set('(embedding alone)', (alone.groups.get('(embedding alone)') ?? 0) + 1);
  for (const [m, into] of [
    [meaning, t],
    [withoutGroup, alone],
  ] as const) {
    for (const p of positives)
      if (matchName(m, p) !== undefined) into.tp++;
      else into.fn++;
    for (const n of negatives) if (matchName(m, n) !== undefined) into.fp++;
  }
}
const row = (what: string, n: number, t: Tally) => {
  const precision = t.tp + t.fp === 0 ? 1 : t.tp / (t.tp + t.fp);
  const recall = t.tp + t.fn === 0 ? 1 : t.tp / (t.tp + t.fn);
  const groups = [...t.groups].map(([g, k]) => `${g} ${k}`).join(', ');
  console.log(
    `| ${what} | ${n} | ${t.tp}/${t.tp + t.fn} | ${t.fp} | ${precision.toFixed(2)} | ${recall.toFixed(2)} | ${groups} |`,
  );
};

console.log(`model ${modelDir}`);
console.log(
  '| name | examples | positives found | false matches | precision | recall | understood as (runs) |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
// A broad group: dog breeds.
for (const n of [3, 5]) {
  const t = tally();
  const alone = tally();
  for (let start = 0; start < dogs.length; start++) {
    const taughtDogs = Array.from({ length: n }, (_, i) => dogs[(start + i) % dogs.length] as Photo);
    const rest = dogs.filter((d) => !taughtDogs.includes(d));
    judge(
      t,
      alone,
      taughtDogs.map((d) => all.get(d.file) as NameExample),
      rest.map((d) => all.get(d.file) as NameExample),
      photos.filter((p) => !isDog(p)).map((p) => all.get(p.file) as NameExample),
    );
  }
  row('my dogs (several breeds)', n, t);
  row('my dogs, embedding alone', n, alone);
}
// One subject: edits of one dog photo, against the other photos and the other dogs' edits.
for (const n of [3, 5, 10]) {
  const t = tally();
  const alone = tally();
  for (const d of dogs) {
    const mine = editsOf.get(d.file) as NameExample[];
    for (let start = 0; start < mine.length; start += 4) {
      const taught = Array.from({ length: n }, (_, i) => mine[(start + i) % mine.length] as NameExample);
      const positives = [...mine.filter((e) => !taught.includes(e)), all.get(d.file) as NameExample];
      const negatives = [
        ...photos.filter((p) => p.file !== d.file).map((p) => all.get(p.file) as NameExample),
        ...dogs.filter((o) => o !== d).flatMap((o) => editsOf.get(o.file) as NameExample[]),
      ];
      judge(t, alone, taught, positives, negatives);
    }
  }
  row('one dog (edits of one photo)', n, t);
  row('one dog, embedding alone', n, alone);
}
await classifier.release();
