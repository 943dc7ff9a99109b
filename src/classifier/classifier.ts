/**
 * The one classify path: image bytes -> sharp preprocessing -> ONNX Runtime -> top-k labels.
 * A Classifier owns one InferenceSession, created and warmed up once, reused by every call.
 */
import { type CpuInfo, readCpuInfo } from './cpu.ts';
import { ConfigError } from './errors.ts';
import { turboJpeg } from './jpeg-turbo.ts';
import { l2Normalised } from './math.ts';
import { loadModelFolder, type ModelFolder } from './model-folder.ts';
import { ort } from './native.ts';
import {
  DEFAULT_CATEGORY_MIN_SCORE,
  DEFAULT_MIN_CONFIDENCE,
  DEFAULT_TOP_K,
  type Label,
  softmax,
  topK,
  validateMinConfidence,
} from './postprocess.ts';
import { DEFAULT_LIMITS, type ImageLimits, openImage, preprocess } from './preprocess.ts';
import { type ImageProperties, imageProperties } from './properties.ts';
import { type CategoryScore, categoryMembers, categoryScores } from './vocabulary.ts';
import { WARM_UP_JPEG } from './warm-up-image.ts';
import { resolveWeights, type WeightRequest, type WeightsChoice } from './weights.ts';

export interface ClassifierOptions {
  /** Intra-op threads (see config.resolveThreads). */
  threads: number;
  /**
   * Let idle ONNX Runtime worker threads spin instead of sleeping. Off by default: the gain is small
   * on idle cores, a spinning thread takes CPU from whatever else shares the core, and at 1 thread
   * (one vCPU) there is nothing to spin for (`npm run bench` times both).
   */
  spinWait?: boolean;
  limits?: ImageLimits;
  /** Which int8 weight storage to load when the folder has both (default auto: from the CPU flags). */
  weights?: WeightRequest;
  /** The CPU to choose for (default: /proc/cpuinfo and process.arch). */
  cpu?: CpuInfo;
  /**
   * Also classify the warm-up image once during init. The first inference of a session takes
   * 1.1-1.8x the later ones (4-15 ms more on this project's machine), so a container whose init is
   * not on any request's path (provisioned concurrency) pays it there; an on-demand cold start would
   * pay a whole inference more before its first answer (settings.ts decides).
   */
  warmUpInference?: boolean;
  /**
   * Load a storage this CPU computes inexactly (weights.exact is then false): for benchmarks and
   * checks that compare storages, never for serving.
   */
  allowInexact?: boolean;
}

export interface Timings {
  decodeMs: number;
  inferMs: number;
  totalMs: number;
}

export interface Classification {
  labels: Label[];
  /**
   * With a vocabulary (ImageNet-1k models): the categories scoring at least minConfidence, best
   * first, each the sum of its member classes' probabilities over all outputs. Absent otherwise.
   */
  categories?: CategoryScore[];
  /**
   * The image embedding from the same inference (the pooled features before the classifier layer,
   * model.json "embedding"), L2-normalised: the cosine similarity of two images is the dot product.
   * Absent when the folder gives none.
   */
  embedding?: Float32Array;
  /** Dominant colours and quality, from the model's input pixels (src/classifier/properties.ts). */
  properties?: ImageProperties;
  timings: Timings;
}

export interface ClassifyOptions {
  topK?: number;
  /** Categories below this score are left out (default DEFAULT_MIN_CONFIDENCE); labels keep their top-k. */
  minConfidence?: number;
  /** Categories below this score are left out too (default DEFAULT_CATEGORY_MIN_SCORE). */
  categoryMinScore?: number;
}

export interface Classifier {
  readonly folder: ModelFolder;
  readonly threads: number;
  readonly limits: ImageLimits;
  /** The model file loaded: its weight storage, why, and what MODEL_WEIGHTS asked for. */
  readonly weights: WeightsChoice;
  /** What decodes JPEGs up to EXACT_MAX_PIXELS: libjpeg-turbo directly where it loads (jpeg-turbo.ts), else libvips. */
  readonly jpegDecoder: 'libjpeg-turbo' | 'libvips';
  /** Milliseconds spent loading the folder, creating the session and warming up. */
  readonly initMs: number;
  /** The part of initMs spent in the warm-up (preprocessings and colour measures). */
  readonly warmUpMs: number;
  classify(image: Uint8Array, options?: ClassifyOptions): Promise<Classification>;
  /** Raw model output for an already preprocessed [3,H,W] input (logits or probabilities). */
  infer(planes: Float32Array): Promise<Float32Array>;
  release(): Promise<void>;
}

export function sessionOptions(threads: number, spinWait: boolean): OrtSessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: spinWait ? '1' : '0' } } },
  };
}
type OrtSessionOptions = NonNullable<Parameters<typeof ort.InferenceSession.create>[1]>;

export async function createClassifier(modelDir: string, options: ClassifierOptions): Promise<Classifier> {
  const started = performance.now();
  const folder = await loadModelFolder(modelDir);
  const { meta, labels } = folder;
  const { path, ...weights } = resolveWeights(
    folder,
    options.weights ?? 'auto',
    options.cpu ?? readCpuInfo(),
    { allowInexact: options.allowInexact },
  );
  const session = await ort.InferenceSession.create(
    path,
    sessionOptions(options.threads, options.spinWait ?? false),
  ).catch((err: Error) => {
    // ONNX Runtime's message repeats the path and may run over several lines: keep its first reason.
    const reason = err.message.replace(/^Load model from \S+ failed:\s*/, '').split('\n')[0];
    throw new ConfigError(`${path} is not a model ONNX Runtime can load: ${reason}`, { cause: err });
  });
  if (!session.inputNames.includes(meta.inputName))
    throw new ConfigError(
      `model folder ${modelDir}: model.json inputName "${meta.inputName}" is not an input of ${weights.file} (inputs: ${session.inputNames.join(', ')})`,
    );
  const outputName = meta.outputName ?? session.outputNames[0];
  if (outputName === undefined || !session.outputNames.includes(outputName))
    throw new ConfigError(
      `model folder ${modelDir}: model.json outputName "${outputName}" is not an output of ${weights.file} (outputs: ${session.outputNames.join(', ')})`,
    );

  const { embedding } = meta;
  if (embedding && !session.outputNames.includes(embedding.output))
    throw new ConfigError(
      `model folder ${modelDir}: model.json embedding output "${embedding.output}" is not an output of ${weights.file} (outputs: ${session.outputNames.join(', ')}); rebuild the folder`,
    );

  const side = meta.cropSize;
  // One run gives the scores and, when the folder has one, the embedding: no second inference.
  const fetches = embedding ? [outputName, embedding.output] : [outputName];
  const forward = async (planes: Float32Array): Promise<{ scores: Float32Array; pooled?: Float32Array }> => {
    const input = new ort.Tensor('float32', planes, [1, 3, side, side]);
    const result = await session.run({ [meta.inputName]: input }, fetches);
    const output = result[outputName];
    if (!output) throw new Error(`model produced no output "${outputName}"`);
    const pooled = embedding ? (result[embedding.output]?.data as Float32Array | undefined) : undefined;
    return { scores: output.data as Float32Array, ...(pooled ? { pooled } : {}) };
  };
  const infer = async (planes: Float32Array) => (await forward(planes)).scores;

  // The output sizes the model file declares, checked against labels.json and model.json without
  // running it; a model whose sizes are symbolic is run once on zeros to learn them.
  let scoreCount = outputSize(session, outputName);
  let embeddingSize = embedding ? outputSize(session, embedding.output) : 0;
  if (scoreCount === undefined || embeddingSize === undefined) {
    const out = await forward(new Float32Array(3 * side * side));
    scoreCount = out.scores.length;
    embeddingSize = out.pooled?.length ?? 0;
  }
  if (scoreCount !== labels.length)
    throw new ConfigError(
      `model folder ${modelDir}: ${weights.file} outputs ${scoreCount} scores but labels.json has ${labels.length} labels`,
    );
  if (embedding && embeddingSize !== embedding.dimension)
    throw new ConfigError(
      `model folder ${modelDir}: ${weights.file} gives an embedding of ${embeddingSize} numbers but model.json "embedding" says ${embedding.dimension}`,
    );

  const { vocabulary } = folder;
  const members = vocabulary ? categoryMembers(vocabulary) : new Map<string, number[]>();
  const limits = options.limits ?? DEFAULT_LIMITS;
  const classify: Classifier['classify'] = async (
    image,
    {
      topK: k = DEFAULT_TOP_K,
      minConfidence = DEFAULT_MIN_CONFIDENCE,
      categoryMinScore = DEFAULT_CATEGORY_MIN_SCORE,
    } = {},
  ) => {
    validateMinConfidence(minConfidence);
    validateMinConfidence(categoryMinScore, 'categoryMinScore');
    const categoryMin = Math.max(minConfidence, categoryMinScore);
    const t0 = performance.now();
    const { data, rgb } = await preprocess(image, meta, limits);
    const properties = imageProperties(rgb, meta.cropSize, meta.cropSize);
    const t1 = performance.now();
    const { scores: output, pooled } = await forward(data);
    const t2 = performance.now();
    const scores = meta.output === 'logits' ? softmax(output) : output;
    return {
      ...(pooled ? { embedding: l2Normalised(pooled) } : {}),
      labels: topK(scores, labels, k),
      ...(vocabulary
        ? {
            categories: categoryScores(vocabulary, members, scores).filter((c) => c.score >= categoryMin),
          }
        : {}),
      properties,
      timings: { decodeMs: t1 - t0, inferMs: t2 - t1, totalMs: performance.now() - t0 },
    };
  };

  // Warm-up of the JavaScript and decoding half of the path, during init, not on the first requests:
  // the first decodes initialise libjpeg-turbo and libvips' operations (PNG, WebP and large photos
  // go through libvips), and two photo-sized preprocessings and one imageProperties let V8 optimise
  // the exact resize and the colour and quality measures (without them the first request spent 2-4x
  // their CPU time, interpreted: `npm run lab:preprocess`). A whole classification of the warm-up
  // image (the inference, scores, categories and embedding) only when asked (options.warmUpInference:
  // provisioned concurrency), as it would cost an on-demand cold start a whole inference.
  const warmUpStarted = performance.now();
  await preprocess(WARM_UP_JPEG, meta, limits);
  const warmed = await preprocess(WARM_UP_JPEG, meta, limits);
  if (turboJpeg) await openImage(WARM_UP_JPEG, false).raw().toBuffer();
  imageProperties(warmed.rgb, meta.cropSize, meta.cropSize);
  if (options.warmUpInference) await classify(WARM_UP_JPEG);

  return {
    folder,
    threads: options.threads,
    limits,
    weights,
    jpegDecoder: turboJpeg ? 'libjpeg-turbo' : 'libvips',
    initMs: performance.now() - started,
    warmUpMs: performance.now() - warmUpStarted,
    infer,
    classify,
    release: () => session.release(),
  };
}

/**
 * The number of values an output holds per image, as the model file declares it: the product of its
 * dimensions after the batch dimension (a symbolic or absent batch dimension counts as 1); undefined
 * when any other dimension is symbolic.
 */
function outputSize(session: OrtSession, name: string): number | undefined {
  const meta = session.outputMetadata.find((m) => m.name === name);
  if (!meta?.isTensor) return undefined;
  const [, ...dims] = meta.shape;
  if (!dims.every((d): d is number => typeof d === 'number' && d >= 0)) return undefined;
  return dims.reduce((a, b) => a * b, 1);
}
type OrtSession = Awaited<ReturnType<typeof ort.InferenceSession.create>>;
