/**
 * npm run lab:threshold [-- --model <dir>]
 *
 * The measurements behind DEFAULT_MIN_CONFIDENCE (src/classifier/postprocess.ts): on ../shared's 50
 * photos (one ImageNet class each), for each candidate threshold, how many of the top-3 labels and
 * of the categories it keeps, how many of those are right (the photo's class, or a category of it),
 * how many photos keep their class and their class's categories, and the label index items per image.
 * Default model: ../shared's int8 MobileNetV2, imported to a temporary folder.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { importModel } from '../models/import.ts';
import { SHARED_FILES } from '../paths.ts';
import { createClassifier } from '../src/classifier/classifier.ts';
import { INT8_FLAGS, readCpuInfo } from '../src/classifier/cpu.ts';
import { normalizeLabel } from '../src/tagging/label-index.ts';
import { formatModelRef } from '../src/tagging/tags.ts';

const THRESHOLDS = [0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5];

const { values } = parseArgs({ options: { model: { type: 'string' } } });
async function importSharedInt8(): Promise<string> {
  const out = join(await mkdtemp(join(tmpdir(), 'threshold-')), 'mobilenetv2-int8');
  await importModel({ model: SHARED_FILES.int8, labels: SHARED_FILES.labels, name: 'mobilenetv2-int8', out });
  return out;
}

const modelDir = values.model ?? (await importSharedInt8());
const classifier = await createClassifier(modelDir, { threads: 1 });
const vocabulary = classifier.folder.vocabulary;
if (!vocabulary) throw new Error(`${modelDir} has no vocabulary.json (not an ImageNet-1k model folder)`);

const results = [];
const photos = (
  JSON.parse(await readFile(join(SHARED_FILES.photos, 'photos.json'), 'utf8')) as {
    file: string;
    classIndex: number;
    label: string;
  }[]
).map((p) => ({ ...p, path: join(SHARED_FILES.photos, p.file) }));
for (const photo of photos) {
  const c = await classifier.classify(await readFile(photo.path), { topK: 3, minConfidence: 0 });
  results.push({ photo, labels: c.labels, categories: c.categories ?? [] });
}

const cpu = readCpuInfo();
const flags = `${cpu.model ?? ''}, flags: ${INT8_FLAGS.filter((f) => cpu.flags?.has(f)).join(' ')}`;
console.log(`# ${formatModelRef(classifier.folder.meta)}, ${results.length} photos, ${flags}`);
console.log(
  '| threshold | labels kept | right | photos keeping their class | categories kept | right | photos keeping all their categories | index items per image |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const t of THRESHOLDS) {
  let labels = 0;
  let labelsRight = 0;
  let classKept = 0;
  let cats = 0;
  let catsRight = 0;
  let allCats = 0;
  let items = 0;
  for (const { photo, labels: ls, categories } of results) {
    const truth = new Set(vocabulary.classes[photo.classIndex]?.categories ?? []);
    const keptLabels = ls.filter((l) => l.score >= t);
    const keptCats = categories.filter((c) => c.score >= t);
    labels += keptLabels.length;
    labelsRight += keptLabels.filter((l) => l.index === photo.classIndex).length;
    if (keptLabels.some((l) => l.index === photo.classIndex)) classKept++;
    cats += keptCats.length;
    catsRight += keptCats.filter((c) => truth.has(c.id)).length;
    if ([...truth].every((id) => keptCats.some((c) => c.id === id))) allCats++;
    items += new Set([...keptLabels, ...keptCats].map((l) => normalizeLabel(l.label))).size;
  }
  const n = results.length;
  const pct = (a: number, b: number) => (b === 0 ? '-' : `${((100 * a) / b).toFixed(0)}%`);
  console.log(
    `| ${t} | ${labels} | ${labelsRight} (${pct(labelsRight, labels)}) | ${classKept}/${n} | ${cats} | ${catsRight} (${pct(catsRight, cats)}) | ${allCats}/${n} | ${(items / n).toFixed(2)} |`,
  );
}
await classifier.release();
