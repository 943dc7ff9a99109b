/**
 * npm run threshold [-- --model <dir>]
 *
 * The measurements behind DEFAULT_MIN_CONFIDENCE (src/classifier/postprocess.ts): on ../shared's 50
 * photos (one ImageNet class each), for each candidate threshold, how many of the top-3 labels and
 * of the categories it keeps, how many of those are right (the photo's class, or a category of it),
 * how many photos keep their class and their class's categories, and the label index items per image.
 * Default model: ../shared's int8 MobileNetV2, imported to a temporary folder.
 */
import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { createClassifier } from '../src/classifier/classifier.ts';
import { normalizeLabel } from '../src/tagging/label-index.ts';
import { importSharedModel, sharedPhotos } from '../test/helpers/shared.ts';

const THRESHOLDS = [0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5];

const { values } = parseArgs({ options: { model: { type: 'string' } } });
const modelDir = values.model ?? (await importSharedModel('mobilenetv2-int8'));
const classifier = await createClassifier(modelDir, { threads: 1 });
const vocabulary = classifier.folder.vocabulary;
if (!vocabulary) throw new Error(`${modelDir} has no vocabulary.json (not an ImageNet-1k model folder)`);

const results = [];
for (const photo of sharedPhotos()) {
  const c = await classifier.classify(await readFile(photo.path), { topK: 3, minConfidence: 0 });
  results.push({ photo, labels: c.labels, categories: c.categories ?? [] });
}

const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
const flags = `${cpus()[0]?.model ?? ''}, flags: ${['avx2', 'avx512_vnni'].filter((f) => new RegExp(`\\b${f}\\b`).test(cpuinfo)).join(' ')}`;
console.log(
  `# ${classifier.folder.meta.name}@${classifier.folder.meta.version}, ${results.length} photos, ${flags}`,
);
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
