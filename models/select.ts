/**
 * Which model folder the local stack serves (`npm start`, `npm run invoke`): an explicit name; with
 * `synthetic` the random-weight ResNet-18 (built when missing); else the best trained folder present
 * (resnet18* first); else a trained one is built: the zoo ResNet-18 (needs the network), offline the
 * MobileNetV2 of ../shared. A synthetic folder is never picked unasked.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { localLayerModels, ROOT, SHARED_FILES } from '../paths.ts';
import { buildModel } from './build.ts';
import { DownloadError } from './download.ts';
import { refreshVocabulary } from './vocabulary/attach.ts';

/** Folder name of the random-weight ResNet-18 (`npm start -- --synthetic`). */
export const SYNTHETIC_NAME = 'resnet18-synthetic';

export interface SelectOptions {
  /** A folder name to serve as is (it must hold a model.onnx). */
  model?: string;
  /** Serve the synthetic ResNet-18, building it when missing. */
  synthetic?: boolean;
  /** The folder of model folders (default: the model layer's, MODEL_LAYER_DIR honoured). */
  modelsDir?: string;
  log?: (line: string) => void;
}

export interface Selected {
  name: string;
  dir: string;
}

const sharedPresent = () =>
  [SHARED_FILES.fp32, SHARED_FILES.labels, SHARED_FILES.photos].every((p) => existsSync(p));

/** False only for folders whose model.json says their labels mean nothing (synthetic weights). */
export function labelsMeaningful(dir: string): boolean {
  try {
    return JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).labelsMeaningful !== false;
  } catch {
    return false;
  }
}

/** The folders of `modelsDir` that hold a model.onnx, sorted by name. */
export const modelFolders = (modelsDir: string) =>
  existsSync(modelsDir)
    ? readdirSync(modelsDir)
        .filter((n) => existsSync(join(modelsDir, n, 'model.onnx')))
        .sort()
    : [];

function noModelHelp(modelsDir: string, reason: string): string {
  const rel = relative(ROOT, modelsDir);
  return [
    `No trained model folder in ${rel}/, and none could be built: ${reason}`,
    'Run one of:',
    `  npm run model:build                 # the trained ResNet-18 (ONNX Model Zoo, pinned sha256; needs internet)`,
    `  npm run model:build -- --source <fp32.onnx> --calibration <dir of photos> --labels <labels.json> --name <name>`,
    `  npm run model:import -- <int8 or fp32 model.onnx> --labels <labels.json> --name <name> --out ${rel}/<name>`,
    'then `npm start` again (or `npm start -- --model <name>` to pick a folder).',
    `Or \`npm start -- --synthetic\` to serve the random-weight ResNet-18: its labels are MEANINGLESS.`,
  ].join('\n');
}

/**
 * The trained model to serve when none is present: the default build (the zoo ResNet-18, needs
 * the network); offline, the MobileNetV2 of ../shared quantized by the project's own toolchain
 * (both weight storages) and calibrated on ../shared/photos; else the exact commands to run.
 */
async function buildTrained(modelsDir: string, log: (line: string) => void): Promise<string> {
  // The first line the ResNet-18 build prints is headed by what is happening; offline it prints
  // nothing before its first download fails, and the one line below says what is built instead.
  let headed = false;
  const buildLog = (line: string) => {
    if (!headed) log('no trained model folder yet: building the int8 ResNet-18 (npm run model:build)');
    headed = true;
    console.log(`[model:build] ${line}`);
  };
  let why: string;
  try {
    return (await buildModel({ out: join(modelsDir, 'resnet18'), name: 'resnet18', log: buildLog })).meta
      .name;
  } catch (err) {
    why = (err as Error).message;
    if (!(err instanceof DownloadError)) log(`model:build of the ResNet-18 failed: ${why}`);
    else if (sharedPresent())
      log(
        `building the bundled trained MobileNetV2 (../shared, once, about a minute): the ResNet-18 download (${err.host}) is unreachable`,
      );
  }
  if (!sharedPresent()) throw new Error(noModelHelp(modelsDir, why));
  return (
    await buildModel({
      source: SHARED_FILES.fp32,
      calibration: SHARED_FILES.photos,
      labels: SHARED_FILES.labels,
      name: 'mobilenetv2',
      out: join(modelsDir, 'mobilenetv2'),
    })
  ).meta.name;
}

/**
 * The trained folder `npm start` would serve from `modelsDir` without building anything (resnet18*
 * first, then by name), or undefined when there is none.
 */
export function presentTrainedModel(modelsDir: string = localLayerModels()): string | undefined {
  const trained = modelFolders(modelsDir).filter((n) => labelsMeaningful(join(modelsDir, n)));
  const rank = (n: string) => (n.startsWith('resnet18') ? 0 : 1);
  return [...trained].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))[0];
}

/** The model folder to serve (see the top of this file). */
export async function selectModel(options: SelectOptions = {}): Promise<Selected> {
  const log = options.log ?? ((line: string) => console.log(`[model] ${line}`));
  const chosen = await chooseFolder(options, log);
  // A folder built before the committed vocabulary changed is served with the current one.
  const refreshed = await refreshVocabulary(chosen.dir);
  if (refreshed) log(`vocabulary of ${chosen.name} updated to the committed ${refreshed}`);
  return chosen;
}

async function chooseFolder(options: SelectOptions, log: (line: string) => void): Promise<Selected> {
  const modelsDir = options.modelsDir ?? localLayerModels();
  const selected = (name: string): Selected => ({ name, dir: join(modelsDir, name) });
  if (options.model) {
    if (!existsSync(join(modelsDir, options.model, 'model.onnx')))
      throw new Error(
        `no model folder ${relative(ROOT, modelsDir)}/${options.model}/ (present: ${modelFolders(modelsDir).join(', ') || 'none'})`,
      );
    return selected(options.model);
  }
  if (options.synthetic) {
    if (!existsSync(join(modelsDir, SYNTHETIC_NAME, 'model.onnx'))) {
      log(`building the synthetic ResNet-18 (npm run model:build -- --synthetic resnet18)`);
      await buildModel({
        synthetic: 'resnet18',
        out: join(modelsDir, SYNTHETIC_NAME),
        ...(sharedPresent() ? { labels: SHARED_FILES.labels } : {}),
      });
    }
    return selected(SYNTHETIC_NAME);
  }
  const all = modelFolders(modelsDir);
  const trained = all.filter((n) => labelsMeaningful(join(modelsDir, n)));
  const skipped = all.filter((n) => !trained.includes(n));
  if (skipped.length > 0)
    log(
      `not serving ${skipped.join(', ')}: synthetic weights, labels meaningless (npm start -- --synthetic serves it)`,
    );
  const present = presentTrainedModel(modelsDir);
  return selected(present ?? (await buildTrained(modelsDir, log)));
}
