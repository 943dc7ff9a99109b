/**
 * A replica of the ONNX Model Zoo's `resnet18-v1-7.onnx` graph (the default source of
 * `npm run model:build`) with random weights, so the default build path can be tested end to end
 * without the 46.8 MB download. What it copies from the zoo file (docs/model-toolchain.md):
 *
 * - MXNet Gluon `resnet18_v1` exported by MXNet's ONNX exporter: IR version 3, opset 8, every
 *   initializer also listed as a graph input (IR < 4 style), input `data` [N,3,224,224], output
 *   `resnetv15_dense0_fwd` [N,1000] logits.
 * - Node and tensor names as in the zoo file (`resnetv15_conv0_fwd`, `resnetv15_batchnorm0_fwd`,
 *   `resnetv15_stage2_conv2_fwd` for the 1x1 downsample, `resnetv15_stage1__plus0`,
 *   `resnetv15_stage1_activation0`, `resnetv15_pool1_fwd`, `flatten_170`, ...), in the zoo's order
 *   (the downsample branch before the block body).
 * - Conv without bias, each followed by an unfolded BatchNormalization (epsilon 1e-5, momentum 0.9,
 *   no `spatial` attribute: the 2020 re-export relies on the default spatial=1), Relu, MaxPool 3x3/2
 *   pad 1, Add(shortcut, body), GlobalAveragePool, Flatten, Gemm (alpha 1, beta 1, transA 0,
 *   transB 1).
 *
 * Weights: He-initialised convolutions; BatchNorm gamma/beta random and running mean/variance
 * measured on seeded generated images (so every channel is normalised like a trained network's);
 * the FC scaled so logits spread like a trained classifier's. The labels mean nothing.
 */
import { attr, floatTensor, floatValueInfo, type Model, type Node, node, type Tensor } from './graph.ts';
import { encodeModel } from './onnx.ts';
import { normal, seededRandom } from './resnet18.ts';
import { channelStats, syntheticInputs } from './synthetic.ts';

const P = 'resnetv15';
export const ZOO_RESNET18 = {
  inputName: 'data',
  outputName: `${P}_dense0_fwd`,
  irVersion: 3,
  opset: 8,
} as const;

/** The part of `model` that computes `tensor` (fewer weights: a faster session to measure it). */
function upTo(model: Model, tensor: string): Model {
  const nodes = model.graph?.node ?? [];
  const needed = new Set([tensor]);
  const kept: Node[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i] as Node;
    if (!(n.output ?? []).some((o) => needed.has(o))) continue;
    kept.unshift(n);
    for (const x of n.input ?? []) needed.add(x);
  }
  return {
    ...model,
    graph: {
      ...model.graph,
      node: kept,
      initializer: (model.graph?.initializer ?? []).filter((t) => needed.has(t.name ?? '')),
      input: (model.graph?.input ?? []).filter((i) => needed.has(i.name ?? '')),
      output: [floatValueInfo(tensor)],
    },
  };
}

export async function buildZooResNet18Replica(seed = 7): Promise<Uint8Array> {
  const rand = seededRandom(seed);
  const gauss = normal(rand);
  const nodes: Node[] = [];
  const inits: Tensor[] = [];
  /** BatchNorm nodes: [conv output (BN input), mean tensor, var tensor]. */
  const bns: [string, Tensor, Tensor][] = [];

  const convBn = (
    prefix: string,
    index: number,
    x: string,
    cin: number,
    cout: number,
    k: number,
    s: number,
  ) => {
    const conv = `${prefix}_conv${index}`;
    const bn = `${prefix}_batchnorm${index}`;
    const std = Math.sqrt(2 / (cout * k * k));
    const w = Float32Array.from({ length: cout * cin * k * k }, () => gauss() * std);
    inits.push(floatTensor(`${conv}_weight`, [cout, cin, k, k], w));
    const pad = (k - 1) / 2;
    nodes.push(
      node(
        'Conv',
        [x, `${conv}_weight`],
        [`${conv}_fwd`],
        { dilations: [1, 1], group: 1, kernel_shape: [k, k], pads: [pad, pad, pad, pad], strides: [s, s] },
        { name: `${conv}_fwd` },
      ),
    );
    const gamma = Float32Array.from({ length: cout }, () => 0.5 + rand());
    const beta = Float32Array.from({ length: cout }, () => -0.1 + 0.2 * gauss());
    const mean = floatTensor(`${bn}_running_mean`, [cout], new Float32Array(cout));
    const variance = floatTensor(`${bn}_running_var`, [cout], new Float32Array(cout).fill(1));
    inits.push(
      floatTensor(`${bn}_gamma`, [cout], gamma),
      floatTensor(`${bn}_beta`, [cout], beta),
      mean,
      variance,
    );
    const bnNode = node(
      'BatchNormalization',
      [`${conv}_fwd`, `${bn}_gamma`, `${bn}_beta`, `${bn}_running_mean`, `${bn}_running_var`],
      [`${bn}_fwd`],
      {},
      { name: `${bn}_fwd` },
    );
    bnNode.attribute?.push(attr('epsilon', { float: 1e-5 }), attr('momentum', { float: 0.9 }));
    nodes.push(bnNode);
    bns.push([`${conv}_fwd`, mean, variance]);
    return `${bn}_fwd`;
  };
  const relu = (x: string, name: string) => {
    nodes.push(node('Relu', [x], [name], {}, { name }));
    return name;
  };

  let x = relu(convBn(P, 0, 'data', 3, 64, 7, 2), `${P}_relu0_fwd`);
  nodes.push(
    node(
      'MaxPool',
      [x],
      [`${P}_pool0_fwd`],
      { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] },
      { name: `${P}_pool0_fwd` },
    ),
  );
  x = `${P}_pool0_fwd`;
  let cin = 64;
  [64, 128, 256, 512].forEach((width, s) => {
    const stage = `${P}_stage${s + 1}`;
    let conv = 0;
    for (let block = 0; block < 2; block++) {
      const stride = s > 0 && block === 0 ? 2 : 1;
      // The zoo file numbers the downsample conv after the two body convs, but emits it first.
      const shortcut = stride !== 1 || cin !== width ? convBn(stage, conv + 2, x, cin, width, 1, stride) : x;
      const h = relu(convBn(stage, conv, x, cin, width, 3, stride), `${stage}_relu${block}_fwd`);
      const y = convBn(stage, conv + 1, h, width, width, 3, 1);
      conv += shortcut === x ? 2 : 3;
      nodes.push(
        node('Add', [shortcut, y], [`${stage}__plus${block}`], {}, { name: `${stage}__plus${block}` }),
      );
      x = relu(`${stage}__plus${block}`, `${stage}_activation${block}`);
      cin = width;
    }
  });
  nodes.push(node('GlobalAveragePool', [x], [`${P}_pool1_fwd`], {}, { name: `${P}_pool1_fwd` }));
  nodes.push(node('Flatten', [`${P}_pool1_fwd`], ['flatten_170'], { axis: 1 }, { name: 'flatten_170' }));
  const bound = 1 / Math.sqrt(512);
  const fcW = Float32Array.from({ length: 1000 * 512 }, () => (2 * rand() - 1) * bound);
  const fcB = Float32Array.from({ length: 1000 }, () => (2 * rand() - 1) * bound);
  const fcWT = floatTensor(`${P}_dense0_weight`, [1000, 512], fcW);
  inits.push(fcWT, floatTensor(`${P}_dense0_bias`, [1000], fcB));
  const gemm = node(
    'Gemm',
    ['flatten_170', `${P}_dense0_weight`, `${P}_dense0_bias`],
    [ZOO_RESNET18.outputName],
    { transA: 0, transB: 1 },
    { name: ZOO_RESNET18.outputName },
  );
  gemm.attribute?.push(attr('alpha', { float: 1 }), attr('beta', { float: 1 }));
  nodes.push(gemm);

  const model: Model = {
    irVersion: ZOO_RESNET18.irVersion,
    opsetImport: [{ domain: '', version: ZOO_RESNET18.opset }],
    producerName: 'image-tagger models/zoo-resnet18.ts (replica of the MXNet-exported resnet18-v1-7)',
    graph: {
      name: 'mxnet_converted_model',
      node: nodes,
      initializer: inits,
      // IR 3: initializers are graph inputs too, as in the MXNet export.
      input: [
        floatValueInfo('data', ['N', 3, 224, 224]),
        ...inits.map((t) => floatValueInfo(t.name ?? '', (t.dims ?? []).map(Number))),
      ],
      output: [floatValueInfo(ZOO_RESNET18.outputName, ['N', 1000])],
    },
  };

  // Data-driven BatchNorm statistics (a trained network's running stats normalise every channel),
  // one BatchNorm at a time in graph order, so each is measured behind already-normalised layers.
  const inputs = await syntheticInputs(4, seed + 100);
  for (const [t, meanT, varT] of bns) {
    const s = (await channelStats(upTo(model, t), [t], inputs, 'data')).get(t);
    if (!s) throw new Error(`no statistics for ${t}`);
    const m = Float32Array.from(s.mean);
    const v = Float32Array.from(s.std, (d) => Math.max(d * d - 1e-5, 1e-6));
    meanT.rawData = floatTensor('', [m.length], m).rawData;
    varT.rawData = floatTensor('', [v.length], v).rawData;
  }
  // FC: logits with a trained-looking spread (standard deviation about 3 across classes).
  const features = (await channelStats(model, ['flatten_170'], inputs, 'data')).get('flatten_170');
  if (!features) throw new Error('no statistics for flatten_170');
  let spread = 0;
  for (let o = 0; o < 1000; o++)
    for (let j = 0; j < 512; j++)
      spread += ((fcW[o * 512 + j] as number) * (features.std[j] as number)) ** 2 / 1000;
  const k = 3 / Math.sqrt(spread);
  fcWT.rawData = floatTensor(
    '',
    [fcW.length],
    fcW.map((v) => v * k),
  ).rawData;
  return encodeModel(model);
}
