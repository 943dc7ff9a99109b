/**
 * npm run classify -- [--model <name or dir>] [--top K] [--threads N] [--json] <files...>
 *
 * Without --model (and without MODEL_DIR) it uses the model `npm start` serves: the same choice of
 * folder in layers/model/models/ (models/select.ts), built the same way when there is none yet. A
 * --model that is no folder is taken as a folder name there.
 *
 * Prints the top-k labels of each file as a table (headed by the model and its weight storage), or
 * with --json one JSON object per line: {"file", "weights", "labels": [{label, index, score}],
 * "categories": [{label, id, score}] (ImageNet-1k models: their vocabulary's categories scoring at
 * least DEFAULT_CATEGORY_MIN_SCORE and DEFAULT_MIN_CONFIDENCE, each the sum of its classes' probabilities),
 * "timings"} or {"file", "weights", "error": {code, message}}; "weights" is the storage loaded
 * ("s8", "u8", "s8-7bit", "mixed", "fp32"; null for a folder without a "weights" map).
 * MODEL_WEIGHTS=auto or any storage the folder has overrides it.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { selectModel } from '../../models/select.ts';
import { type Classifier, createClassifier } from '../../src/classifier/classifier.ts';
import { DEFAULT_TOP_K, validateTopK } from '../../src/classifier/postprocess.ts';
import { weightRequest } from '../../src/settings.ts';
import { formatModelRef } from '../../src/tagging/tags.ts';
import { classifyFile, type FileOutcome } from './classify-file.ts';

const usage =
  'usage: npm run classify -- [--model <name or dir>] [--top K] [--threads N] [--json] <files...>\n' +
  '  (without --model: the model npm start serves, built as npm start builds it when there is none)';

/** The model folder: --model as a path or a folder name of the model layer, else what npm start serves. */
async function modelDir(model: string | undefined): Promise<string> {
  if (model && existsSync(model)) return model;
  const log = (line: string) => console.error(`[model] ${line}`);
  return (await selectModel({ ...(model ? { model } : {}), log })).dir;
}

function printTable(outcomes: FileOutcome[], { folder, weights }: Classifier): void {
  console.log(
    `# ${formatModelRef(folder.meta)}, weights ${weights.storage ?? weights.file} — ${weights.reason}`,
  );
  for (const o of outcomes) {
    console.log(o.file);
    if ('error' in o) {
      console.log(`  error ${o.error.code}: ${o.error.message}`);
      continue;
    }
    for (const [rank, l] of o.result.labels.entries())
      console.log(
        `  ${rank + 1}. ${l.label.padEnd(32)} ${(l.score * 100).toFixed(1).padStart(5)}%  (class ${l.index})`,
      );
    if (o.result.categories?.length)
      console.log(
        `  categories: ${o.result.categories.map((c) => `${c.label} ${(c.score * 100).toFixed(1)}%`).join(', ')}`,
      );
    const p = o.result.properties;
    if (p)
      console.log(
        `  colours: ${p.colours.map((c) => `${c.name} ${c.percent}% ${c.hex}`).join(', ')}; brightness ${p.quality.brightness}, contrast ${p.quality.contrast}, sharpness ${p.quality.sharpness}`,
      );
    const t = o.result.timings;
    console.log(
      `  decode ${t.decodeMs.toFixed(1)} ms, inference ${t.inferMs.toFixed(1)} ms, total ${t.totalMs.toFixed(1)} ms`,
    );
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string', default: process.env.MODEL_DIR || undefined },
      top: { type: 'string', default: String(DEFAULT_TOP_K) },
      threads: { type: 'string', default: String(availableParallelism()) },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (positionals.length === 0) throw new Error(usage);
  const k = validateTopK(Number(values.top));
  const classifier = await createClassifier(await modelDir(values.model), {
    threads: Number(values.threads),
    weights: weightRequest(process.env),
  });
  if (classifier.folder.meta.labelsMeaningful === false)
    console.error(
      `note: ${classifier.folder.meta.name} has random weights (model.json): its labels mean nothing`,
    );

  const outcomes: FileOutcome[] = [];
  for (const file of positionals) {
    const o = await classifyFile(classifier, file, k);
    outcomes.push(o);
    const weights = classifier.weights.storage;
    if (values.json)
      console.log(
        JSON.stringify(
          'error' in o
            ? { file, weights, error: o.error }
            : {
                file,
                weights,
                labels: o.result.labels,
                ...(o.result.categories ? { categories: o.result.categories } : {}),
                ...(o.result.properties ? { properties: o.result.properties } : {}),
                timings: o.result.timings,
              },
        ),
      );
  }
  if (!values.json) printTable(outcomes, classifier);
  await classifier.release();
  return outcomes.some((o) => 'error' in o) ? 2 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`classify: ${err.message}`);
    process.exit(1);
  },
);
