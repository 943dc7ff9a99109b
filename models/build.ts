/**
 * npm run model:build -- (--synthetic resnet18 | --source <file|url>) [flags]
 *
 * Builds an int8 model folder (src/classifier/model-folder.ts contract) from an fp32 ONNX classifier:
 * ORT pre-processing, calibration on images preprocessed by the classifier's own preprocess(),
 * static QDQ quantization (models/quantize.ts), fusion check on the ORT-optimized graph, and
 * fp32-vs-int8 agreement. Default output: layers/model/models/<name>/ (the model layer mounts it at
 * /opt/models/<name>/). The fp32 source stays in .cache/models/ for `npm run bench`.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClassifier } from '../src/classifier/classifier.ts';
import { IMAGENET_DEFAULTS, type ModelMeta, writeModelFolder } from '../src/classifier/model-folder.ts';
import { type CalibrationMethod, listImages, preprocessFiles } from './calibrate.ts';
import { agreement, floatComputeOps, optimizedOps, runAll } from './evaluate.ts';
import { decodeModel } from './onnx.ts';
import { quantizeStatic } from './pipeline.ts';
import { WEIGHT_ENCODINGS, type WeightChoice } from './quantize.ts';
import { buildSyntheticResNet18, SYNTHETIC_SEEDS, syntheticInputs } from './synthetic.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Where fp32 sources stay for `npm run bench`; MODEL_CACHE_DIR points elsewhere (tests). */
const CACHE_DIR = process.env.MODEL_CACHE_DIR ?? join(ROOT, '.cache', 'models');
const LAYER_MODELS_DIR = join(ROOT, 'layers', 'model', 'models');
/** The lock file; MODEL_SOURCES_LOCK points elsewhere (tests). */
const LOCK_FILE = process.env.MODEL_SOURCES_LOCK ?? join(ROOT, 'models', 'sources.lock.json');
const DEFAULT_LABELS_URL =
  'https://raw.githubusercontent.com/anishathalye/imagenet-simple-labels/d752588080eb93bca0ca75257c54423835bcd28f/imagenet-simple-labels.json';

const usage = `usage: npm run model:build -- (--synthetic resnet18 | --source <fp32.onnx|url>) [flags]
  --labels <file|url>      class names (default: imagenet-simple-labels at a pinned commit, sha256-verified)
  --calibration <dir>      calibration images (required with --source; --synthetic uses seeded generated images)
  --calibration-count N    use the first N images of the folder, sorted by name (default 25)
  --eval <dir>             images for the fp32-vs-int8 agreement (default: the calibration images)
  --method minmax|percentile  activation ranges (default minmax)   --percentile P (default 99.999)
  --weights u8|s8|s8-7bit|mixed  int8 weight storage (default u8: exact on CPUs without VNNI; see README)
  --name N                 folder and model name (default: resnet18 for --synthetic, else the file name)
  --out <dir>              output folder (default layers/model/models/<name>/)`;

function hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const isUrl = (s: string) => /^https?:\/\//.test(s);

async function readLock(): Promise<{ comment?: string; files: Record<string, string> }> {
  return JSON.parse(await readFile(LOCK_FILE, 'utf8'));
}

/** Downloads with progress, pins the sha256 in models/sources.lock.json on first use, verifies it after. */
async function download(url: string, what: string, hint: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new Error(
      `cannot download ${what} from ${url} (${(err as Error).cause ?? (err as Error).message}); ${hint}`,
    );
  }
  if (!response.ok || !response.body)
    throw new Error(`cannot download ${what} from ${url} (HTTP ${response.status}); ${hint}`);
  const total = Number(response.headers.get('content-length') ?? 0);
  const chunks: Uint8Array[] = [];
  let received = 0;
  let lastReport = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(chunk);
    received += chunk.length;
    if (received - lastReport > 4 << 20 || received === total) {
      lastReport = received;
      const pct = total ? ` (${((100 * received) / total).toFixed(0)}%)` : '';
      process.stderr.write(`  downloading ${what}: ${(received / 1e6).toFixed(1)} MB${pct}\n`);
    }
  }
  const bytes = Buffer.concat(chunks);
  const sha = hex(bytes);
  const lock = await readLock();
  const pinned = lock.files[url];
  if (pinned && pinned !== sha)
    throw new Error(
      `sha256 mismatch for ${url}: got ${sha}, models/sources.lock.json pins ${pinned}. The file changed upstream or the download is corrupt; refusing to build.`,
    );
  if (!pinned) {
    lock.files[url] = sha;
    await writeFile(LOCK_FILE, `${JSON.stringify(lock, null, 2)}\n`);
    console.log(`  pinned sha256 ${sha} for ${url} in models/sources.lock.json`);
  }
  return bytes;
}

function line(text: string): void {
  console.log(`[model:build] ${text}`);
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      synthetic: { type: 'string' },
      source: { type: 'string' },
      labels: { type: 'string', default: DEFAULT_LABELS_URL },
      calibration: { type: 'string' },
      'calibration-count': { type: 'string', default: '25' },
      eval: { type: 'string' },
      method: { type: 'string', default: 'minmax' },
      percentile: { type: 'string', default: '99.999' },
      weights: { type: 'string', default: 'u8' },
      name: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(usage);
  if (!!values.synthetic === !!values.source)
    throw new Error(`give exactly one of --synthetic or --source\n${usage}`);
  if (values.synthetic && values.synthetic !== 'resnet18')
    throw new Error(`--synthetic knows only "resnet18", got "${values.synthetic}"`);
  const method = values.method as CalibrationMethod;
  if (method !== 'minmax' && method !== 'percentile') throw new Error('--method takes minmax or percentile');
  const percentile = Number(values.percentile);
  if (!(percentile > 50 && percentile <= 100)) throw new Error('--percentile takes a number in (50, 100]');
  const weightEncoding = values.weights as WeightChoice;
  if (!WEIGHT_ENCODINGS.includes(weightEncoding))
    throw new Error(`--weights takes ${WEIGHT_ENCODINGS.join('|')}`);
  const count = Number(values['calibration-count']);
  if (!Number.isInteger(count) || count < 1) throw new Error('--calibration-count takes a positive integer');
  if (values.source && !values.calibration)
    throw new Error('--source needs --calibration <dir of images> (for example ../shared/photos)');

  const started = performance.now();
  const name = values.name ?? (values.synthetic ? 'resnet18' : basename(values.source ?? '', '.onnx'));
  const outDir = resolve(values.out ?? join(LAYER_MODELS_DIR, name));
  await mkdir(CACHE_DIR, { recursive: true });

  // 1. Labels (first: fails fast without network).
  const labelsBytes = isUrl(values.labels)
    ? await download(
        values.labels,
        'labels',
        'no network? pass --labels <local copy>, e.g. --labels ../shared/data/imagenet-simple-labels.json',
      )
    : await readFile(values.labels);
  const labels: unknown = JSON.parse(Buffer.from(labelsBytes).toString('utf8'));
  if (!Array.isArray(labels)) throw new Error(`${values.labels}: labels must be a JSON array of strings`);
  line(`labels: ${labels.length} from ${values.labels} (sha256 ${hex(labelsBytes)})`);

  // 2. fp32 source.
  let fp32: Uint8Array;
  let source: string;
  let licence: string;
  const fp32Cache = join(CACHE_DIR, `${name}-fp32.onnx`);
  if (values.synthetic) {
    line('building synthetic ResNet-18 (torchvision topology, seeded random weights, data-normalised)');
    fp32 = await buildSyntheticResNet18();
    source = `synthetic resnet18 (models/resnet18.ts, seeds ${JSON.stringify(SYNTHETIC_SEEDS)})`;
    licence = 'generated weights, no licence restrictions';
    await writeFile(fp32Cache, fp32);
  } else {
    const src = values.source as string;
    if (isUrl(src)) {
      line(`downloading ${src}`);
      fp32 = await download(src, 'fp32 model', 'download it yourself and pass --source <file>');
      source = src;
      await writeFile(fp32Cache, fp32);
    } else {
      fp32 = await readFile(src);
      source = resolve(src);
      if (resolve(src) !== fp32Cache) await copyFile(src, fp32Cache);
    }
    licence = 'see source';
  }
  const sourceSha256 = hex(fp32);
  line(
    `fp32 source: ${(fp32.length / 1e6).toFixed(1)} MB, sha256 ${sourceSha256}, cached at ${relative(ROOT, fp32Cache)}`,
  );

  // 3. Calibration and evaluation images, through the classifier's preprocessing.
  const spec = IMAGENET_DEFAULTS;
  let calibrationInputs: Float32Array[];
  let calibrationSet: Record<string, unknown>;
  if (values.calibration) {
    const files = await listImages(values.calibration, count);
    if (files.length === 0)
      throw new Error(`${values.calibration}: no images (jpg, png, webp, gif, avif, tiff)`);
    calibrationInputs = await preprocessFiles(files, spec);
    calibrationSet = { dir: values.calibration, images: files.map((f) => basename(f)) };
  } else {
    calibrationInputs = await syntheticInputs(count, SYNTHETIC_SEEDS.calibration);
    calibrationSet = {
      generated: `${count} seeded generated images (seed ${SYNTHETIC_SEEDS.calibration}, models/calibrate.ts syntheticImages)`,
      why: 'the weights are random, so real photos carry no more meaning than generated images',
    };
  }
  line(
    `calibration: ${calibrationInputs.length} images, ${method}${method === 'percentile' ? ` ${percentile}` : ''}`,
  );
  const evalFiles = values.eval ? await listImages(values.eval) : [];
  const evalInputs = values.eval ? await preprocessFiles(evalFiles, spec) : calibrationInputs;

  // 4. Quantize.
  let lastPct = -1;
  const q = await quantizeStatic(fp32, calibrationInputs, {
    method,
    percentile,
    weightEncoding,
    onProgress: (done, total) => {
      const pct = Math.floor((10 * done) / total) * 10;
      if (pct !== lastPct) {
        lastPct = pct;
        process.stderr.write(`  calibrating: ${done}/${total}\n`);
      }
    },
  });
  line(
    `quantized: ${q.stats.activations} activations, ${q.stats.weights} weights, ${q.stats.biases} biases, folded ${q.stats.folded.Relu} Relu + ${q.stats.folded.Clip} Clip`,
  );

  // 5. Fusion check and agreement.
  const ops = await optimizedOps(q.int8, 1);
  const leftover = floatComputeOps(ops);
  line(`ORT-optimized int8 graph: ${JSON.stringify(ops)}`);
  if (Object.keys(leftover).length > 0)
    line(`WARNING: float compute ops left after optimization: ${JSON.stringify(leftover)}`);
  const [fp32Out, int8Out] = [await runAll(q.prepared, evalInputs), await runAll(q.int8, evalInputs)];
  const agree = agreement(fp32Out, int8Out);

  // 6. Folder. Input/output names come from the graph (Model Zoo ResNets use "data", exports "input").
  const graph = decodeModel(q.int8).graph;
  const initNames = new Set((graph?.initializer ?? []).map((t) => t.name));
  const inputName = graph?.input?.find((i) => !initNames.has(i.name))?.name ?? 'input';
  const outputName = graph?.output?.[0]?.name ?? 'output';
  const meta: Omit<ModelMeta, 'sha256'> = {
    name,
    version: '1',
    inputName,
    outputName,
    inputShape: [-1, 3, spec.cropSize, spec.cropSize],
    ...spec,
    quantization: {
      scheme: 'int8 static QDQ (models/quantize.ts), fused by ONNX Runtime into QLinear kernels',
      weights: `per-channel symmetric int8 (axis 0 for Conv, output axis for Gemm/MatMul), stored as ${
        weightEncoding === 'u8'
          ? 'uint8 with zero point 128 (exact u8 x u8 kernels on x86-64 without VNNI)'
          : weightEncoding === 's8'
            ? 'int8 with zero point 0 (u8 x s8 kernels saturate on AVX2 without VNNI)'
            : weightEncoding === 's8-7bit'
              ? 'int8 limited to [-64, 64] (7-bit; u8 x s8 pairs cannot saturate int16)'
              : 'mixed: uint8 zero point 128 for the first Conv, depthwise Convs and Gemm/MatMul, 7-bit int8 elsewhere'
      }`,
      weightEncoding,
      bias: 'int32, scale = input scale x weight scale',
      activations: 'per-tensor asymmetric uint8; Relu/Clip folded into the producer range',
      calibration: { method, ...(method === 'percentile' ? { percentile } : {}), ...calibrationSet },
      optimizedOps: ops,
    },
    source,
    sourceSha256,
    fp32Cache: relative(ROOT, fp32Cache),
    licence,
    labelsMeaningful: !values.synthetic,
    labelsSource: values.labels,
    agreement: {
      images: values.eval ? `${evalFiles.length} images of ${values.eval}` : 'the calibration images',
      top1Agreement: Number(agree.top1Agreement.toFixed(4)),
      meanLogitCosine: Number(agree.meanCosine.toFixed(5)),
      minLogitCosine: Number(agree.minCosine.toFixed(5)),
    },
    builtAt: new Date().toISOString(),
  };
  const folder = await writeModelFolder(outDir, q.int8, labels as string[], meta);
  const classifier = await createClassifier(outDir, { threads: 1 });
  await classifier.release();
  const fileSize = (await stat(folder.modelPath)).size;

  const rows: [string, string][] = [
    ['model', name],
    ['source', source],
    ['output folder', outDir],
    ['fp32 size', `${(fp32.length / 1e6).toFixed(2)} MB`],
    ['int8 size', `${(fileSize / 1e6).toFixed(2)} MB`],
    ['weights', weightEncoding],
    ['calibration', `${calibrationInputs.length} images, ${method}`],
    [
      'fused ops',
      `QLinearConv ${ops.QLinearConv ?? 0}, QLinearAdd ${ops.QLinearAdd ?? 0}, QGemm ${ops.QGemm ?? 0}, QLinearMatMul ${ops.QLinearMatMul ?? 0}`,
    ],
    ['float Conv/Gemm/MatMul left', String(Object.values(leftover).reduce((a, b) => a + b, 0))],
    ['top-1 agreement', `${(100 * agree.top1Agreement).toFixed(1)}% of ${agree.images} images`],
    ['mean logit cosine', agree.meanCosine.toFixed(4)],
    ['time', `${((performance.now() - started) / 1000).toFixed(1)} s`],
  ];
  console.log('\n| | |\n| --- | --- |');
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
}

main(process.argv.slice(2)).catch((err: Error) => {
  console.error(`model:build: ${err.message}`);
  process.exit(1);
});
