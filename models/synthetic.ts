/**
 * Makes a random-weight network behave like a trained one, so int8-vs-fp32 comparisons on it mean
 * something. Why: the plain He-initialised ResNet-18 (BatchNorm folded as identity) gives almost the
 * same logits for every photo, and the same few top-1 classes for all of them: the residual stream
 * is dominated by accumulated biases and the logits by the FC bias, so any int8 error looks tiny in
 * cosine terms and tells nothing about a trained model. A trained network's BatchNorm normalises every
 * channel over the data; this does the same with batch statistics of seeded generated images
 * (data-driven init, like LSUV): each Conv is rescaled and shifted so its output channel has mean
 * beta and standard deviation gamma (random, trained-looking), then the FC is centred and scaled so
 * logits spread like a trained classifier's (a standard deviation of 3 across classes, by design).
 */
import { IMAGENET_DEFAULTS } from '../src/classifier/model-folder.ts';
import { ort } from '../src/classifier/native.ts';
import { preprocess } from '../src/classifier/preprocess.ts';
import { syntheticImages } from './calibrate.ts';
import { dimsOf, floatTensor, floatValueInfo, type Model, readFloats, type Tensor } from './graph.ts';
import { decodeModel, encodeModel } from './onnx.ts';
import { buildResNet18, normal, seededRandom } from './resnet18.ts';

export interface Stats {
  mean: Float64Array;
  std: Float64Array;
}

/** Per-channel mean and standard deviation of the named tensors ([1,C,...]) over `inputs`. */
export async function channelStats(
  model: Model,
  outputs: string[],
  inputs: Float32Array[],
  inputName = 'input',
): Promise<Map<string, Stats>> {
  const copy = decodeModel(encodeModel(model));
  for (const o of outputs) copy.graph?.output?.push(floatValueInfo(o));
  const session = await ort.InferenceSession.create(encodeModel(copy), {
    graphOptimizationLevel: 'basic',
    intraOpNumThreads: 2,
    logSeverityLevel: 3,
  });
  const sums = new Map<string, { s: Float64Array; s2: Float64Array; n: number }>();
  try {
    for (const planes of inputs) {
      const result = await session.run(
        { [inputName]: new ort.Tensor('float32', planes, [1, 3, 224, 224]) },
        outputs,
      );
      for (const o of outputs) {
        const t = result[o];
        if (!t) throw new Error(`no output ${o}`);
        const data = t.data as Float32Array;
        const channels = Number(t.dims[1]);
        const inner = data.length / channels;
        const acc = sums.get(o) ?? { s: new Float64Array(channels), s2: new Float64Array(channels), n: 0 };
        sums.set(o, acc);
        for (let c = 0; c < channels; c++) {
          let s = 0;
          let s2 = 0;
          for (let i = c * inner; i < (c + 1) * inner; i++) {
            const v = data[i] as number;
            s += v;
            s2 += v * v;
          }
          acc.s[c] = (acc.s[c] as number) + s;
          acc.s2[c] = (acc.s2[c] as number) + s2;
        }
        acc.n += inner;
      }
    }
  } finally {
    await session.release();
  }
  const stats = new Map<string, Stats>();
  for (const [o, { s, s2, n }] of sums) {
    const mean = s.map((v) => v / n);
    const std = s2.map((v, c) => Math.sqrt(Math.max(v / n - (mean[c] as number) ** 2, 1e-12)));
    stats.set(o, { mean, std });
  }
  return stats;
}

/** Normalises Conv outputs and the final Gemm of `model` in place over `inputs` ([3,224,224] planes). */
export async function normalizeLikeTrained(
  model: Model,
  inputs: Float32Array[],
  seed = 1,
  passes = 3,
): Promise<void> {
  const graph = model.graph;
  if (!graph?.node) throw new Error('model has no graph');
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const replace = (t: Tensor, values: Float32Array) => {
    const fresh = floatTensor(t.name ?? '', dimsOf(t), values);
    t.rawData = fresh.rawData;
    t.floatData = [];
  };
  const convs = graph.node.filter((n) => n.opType === 'Conv');
  const rand = seededRandom(seed);
  const gauss = normal(rand);
  // Target BatchNorm affine per conv output channel: gamma in [0.5, 1.5), beta ~ N(-0.1, 0.2).
  const targets = new Map(
    convs.map((n) => {
      const c = dimsOf(inits.get(n.input?.[1] ?? '') ?? {})[0] ?? 0;
      return [
        n.output?.[0] ?? '',
        {
          gamma: Float64Array.from({ length: c }, () => 0.5 + rand()),
          beta: Float64Array.from({ length: c }, () => -0.1 + 0.2 * gauss()),
        },
      ];
    }),
  );
  for (let pass = 0; pass < passes; pass++) {
    const stats = await channelStats(
      model,
      convs.map((n) => n.output?.[0] ?? ''),
      inputs,
    );
    for (const n of convs) {
      const out = n.output?.[0] ?? '';
      const s = stats.get(out) as Stats;
      const target = targets.get(out) as { gamma: Float64Array; beta: Float64Array };
      const wT = inits.get(n.input?.[1] ?? '') as Tensor;
      const bT = inits.get(n.input?.[2] ?? '') as Tensor;
      const w = readFloats(wT);
      const b = readFloats(bT);
      const per = w.length / b.length;
      for (let c = 0; c < b.length; c++) {
        const k = (target.gamma[c] as number) / (s.std[c] as number);
        for (let i = c * per; i < (c + 1) * per; i++) w[i] = (w[i] as number) * k;
        b[c] = ((b[c] as number) - (s.mean[c] as number)) * k + (target.beta[c] as number);
      }
      replace(wT, w);
      replace(bT, b);
    }
  }
  // FC: centre the logits over the data and give them a trained-looking spread.
  const gemm = graph.node.find((n) => n.opType === 'Gemm');
  if (!gemm) return;
  const features = gemm.input?.[0] ?? '';
  const f = await channelStats(model, [features], inputs).then((m) => m.get(features) as Stats);
  const wT = inits.get(gemm.input?.[1] ?? '') as Tensor;
  const bT = inits.get(gemm.input?.[2] ?? '') as Tensor;
  const w = readFloats(wT); // [classes, features] (transB = 1)
  const b = readFloats(bT);
  const nf = f.mean.length;
  // Spread of W * (f - mean f) over the data, per class: sum_j w_j^2 var_j (features ~ independent).
  let spread = 0;
  for (let o = 0; o < b.length; o++) {
    let v = 0;
    for (let j = 0; j < nf; j++) v += (w[o * nf + j] as number) ** 2 * (f.std[j] as number) ** 2;
    spread += v / b.length;
  }
  const k = 3 / Math.sqrt(spread);
  for (let o = 0; o < b.length; o++) {
    let centre = 0;
    for (let j = 0; j < nf; j++) centre += (w[o * nf + j] as number) * (f.mean[j] as number);
    for (let j = 0; j < nf; j++) w[o * nf + j] = (w[o * nf + j] as number) * k;
    b[o] = k * (0.1 * (b[o] as number) - centre);
  }
  replace(wT, w);
  replace(bT, b);
}

/** Seeded generated images through the classifier's preprocessing (ImageNet recipe). */
export async function syntheticInputs(count: number, seed: number): Promise<Float32Array[]> {
  const inputs: Float32Array[] = [];
  for (const image of await syntheticImages(count, seed))
    inputs.push((await preprocess(image, IMAGENET_DEFAULTS)).data);
  return inputs;
}

/** Seeds of the synthetic model: weights, normalisation images, default calibration images. */
export const SYNTHETIC_SEEDS = { weights: 18, normalisation: 101, calibration: 7 } as const;

/** The synthetic ResNet-18 as the build makes it: random weights, normalised like a trained network. */
export async function buildSyntheticResNet18(seed: number = SYNTHETIC_SEEDS.weights): Promise<Uint8Array> {
  const model = buildResNet18({ seed });
  await normalizeLikeTrained(model, await syntheticInputs(8, SYNTHETIC_SEEDS.normalisation), seed);
  return encodeModel(model);
}
