/**
 * The repository's folders, defined once. Imported by scripts, the model toolchain (models/),
 * benchmarks and tests; never by src/ (the Lambda code finds its model through MODEL_DIR and the
 * layer mounts under /opt, not through the repository layout), so nothing here reaches a bundle.
 */
import { join, resolve } from 'node:path';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname);
/** ../shared next to the checkout: real trained models, labels and photos (may be absent). */
export const SHARED = resolve(ROOT, '../shared');
/** The files of ../shared that the toolchain, the tests and `npm start` use. */
export const SHARED_FILES = {
  int8: join(SHARED, 'models/mobilenetv2-int8.onnx'),
  fp32: join(SHARED, 'models/mobilenetv2-fp32.onnx'),
  labels: join(SHARED, 'data/imagenet-simple-labels.json'),
  photos: join(SHARED, 'photos'),
} as const;
/** A ../shared model by file name without .onnx, e.g. `mobilenetv2-int8`. */
export const sharedModel = (name: string) => join(SHARED, 'models', `${name}.onnx`);

/** Local caches (git-ignored): downloads, imported models, benchmark inputs. */
export const CACHE = join(ROOT, '.cache');
/** One tool's folder under .cache/, e.g. `cacheDir('bench')`. */
export const cacheDir = (name: string) => join(CACHE, name);
/** Where model downloads and fp32 sources stay; MODEL_CACHE_DIR points elsewhere (tests). */
export const modelCacheDir = () => process.env.MODEL_CACHE_DIR ?? cacheDir('models');
/** The pinned model sources; MODEL_SOURCES_LOCK points elsewhere (tests). */
export const modelSourcesLock = () =>
  process.env.MODEL_SOURCES_LOCK ?? join(ROOT, 'models', 'sources.lock.json');

/** The model layer's folders (mounted at /opt/models/<name>/ on Lambda). */
export const LAYER_MODELS = join(ROOT, 'layers/model/models');
/** One model folder of the model layer. */
export const layerModelDir = (name: string) => join(LAYER_MODELS, name);
/**
 * The model layer's folders as `npm start` and `npm run invoke` read them: MODEL_LAYER_DIR points
 * the layer elsewhere (as in serverless.yml), read at each call.
 */
export const localLayerModels = () =>
  process.env.MODEL_LAYER_DIR ? join(resolve(ROOT, process.env.MODEL_LAYER_DIR), 'models') : LAYER_MODELS;

/** The runtime layer builds, one folder per architecture (layers/runtime/build/<arch>). */
export const RUNTIME_LAYER_BUILD = join(ROOT, 'layers/runtime/build');
/** The Lambda bundles (dist/api, dist/tagger). */
export const DIST = join(ROOT, 'dist');
