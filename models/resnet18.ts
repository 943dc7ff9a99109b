/**
 * The exact torchvision ResNet-18 topology as an ONNX graph with seeded random weights:
 * conv1 7x7/2 (64) + ReLU, MaxPool 3x3/2, layer1..layer4 of two BasicBlocks each (64/128/256/512
 * channels, 1x1/2 downsample convolution on the first block of layers 2-4), GlobalAveragePool,
 * Flatten, Gemm 512 -> 1000. BatchNormalization is folded into the convolutions (what an optimized
 * export looks like), so every Conv carries a bias.
 *
 * Weights: He (kaiming normal, fan_out, ReLU) like torchvision's init; the folded BatchNorm gets a
 * seeded random affine (scale around 1, small shift) as a trained one would have; the FC layer is
 * uniform(+-1/sqrt(512)) like torch.nn.Linear. Same compute and size as the trained network
 * (1.82 GMAC, ~11.69 M parameters), so timings and file sizes carry over; the labels mean nothing.
 */
import { attr, floatTensor, floatValueInfo, type Model, type Node, node, type Tensor } from './graph.ts';

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box-Muller) from a uniform source. */
export function normal(rand: () => number): () => number {
  return () => {
    const u = 1 - rand();
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

export interface ResNet18Options {
  seed?: number;
  classes?: number;
}

export function buildResNet18({ seed = 18, classes = 1000 }: ResNet18Options = {}): Model {
  const rand = seededRandom(seed);
  const gauss = normal(rand);
  const nodes: Node[] = [];
  const inits: Tensor[] = [];
  let params = 0;

  const conv = (
    name: string,
    x: string,
    cin: number,
    cout: number,
    k: number,
    stride: number,
    pad: number,
  ) => {
    const fanOut = cout * k * k;
    const std = Math.sqrt(2 / fanOut);
    const w = new Float32Array(cout * cin * k * k);
    const b = new Float32Array(cout);
    const per = cin * k * k;
    for (let o = 0; o < cout; o++) {
      // Folded BatchNorm: y = gamma * conv / sqrt(var + eps) + beta, with a trained-looking affine.
      const gamma = 0.6 + 0.8 * rand();
      for (let i = 0; i < per; i++) w[o * per + i] = gauss() * std * gamma;
      b[o] = 0.1 * gauss();
    }
    params += w.length + b.length;
    inits.push(floatTensor(`${name}.weight`, [cout, cin, k, k], w), floatTensor(`${name}.bias`, [cout], b));
    nodes.push(
      node('Conv', [x, `${name}.weight`, `${name}.bias`], [`${name}.out`], {
        kernel_shape: [k, k],
        strides: [stride, stride],
        pads: [pad, pad, pad, pad],
        dilations: [1, 1],
        group: 1,
      }),
    );
    return `${name}.out`;
  };
  const relu = (x: string, name: string) => {
    nodes.push(node('Relu', [x], [name]));
    return name;
  };

  let x = relu(conv('conv1', 'input', 3, 64, 7, 2, 3), 'relu1');
  nodes.push(
    node('MaxPool', [x], ['maxpool'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }),
  );
  x = 'maxpool';
  let cin = 64;
  [64, 128, 256, 512].forEach((width, stage) => {
    for (let block = 0; block < 2; block++) {
      const name = `layer${stage + 1}.${block}`;
      const stride = stage > 0 && block === 0 ? 2 : 1;
      const h = relu(conv(`${name}.conv1`, x, cin, width, 3, stride, 1), `${name}.relu1`);
      const y = conv(`${name}.conv2`, h, width, width, 3, 1, 1);
      const shortcut =
        stride !== 1 || cin !== width ? conv(`${name}.downsample`, x, cin, width, 1, stride, 0) : x;
      nodes.push(node('Add', [y, shortcut], [`${name}.add`]));
      x = relu(`${name}.add`, `${name}.relu2`);
      cin = width;
    }
  });
  nodes.push(node('GlobalAveragePool', [x], ['avgpool']));
  nodes.push(node('Flatten', ['avgpool'], ['flatten'], { axis: 1 }));
  const bound = 1 / Math.sqrt(512);
  const fcW = Float32Array.from({ length: classes * 512 }, () => (2 * rand() - 1) * bound);
  const fcB = Float32Array.from({ length: classes }, () => (2 * rand() - 1) * bound);
  params += fcW.length + fcB.length;
  inits.push(floatTensor('fc.weight', [classes, 512], fcW), floatTensor('fc.bias', [classes], fcB));
  const gemm = node('Gemm', ['flatten', 'fc.weight', 'fc.bias'], ['output'], { transB: 1 });
  gemm.attribute?.push(attr('alpha', { float: 1 }), attr('beta', { float: 1 }));
  nodes.push(gemm);

  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'image-tagger models/resnet18.ts',
    docString: `synthetic torchvision ResNet-18 topology, seeded random weights (seed ${seed}), ${params} parameters`,
    graph: {
      name: 'resnet18',
      node: nodes,
      initializer: inits,
      input: [floatValueInfo('input', ['N', 3, 224, 224])],
      output: [floatValueInfo('output', ['N', classes])],
    },
  };
}

/** Parameter count of a graph's float initializers. */
export function countParams(model: Model): number {
  return (model.graph?.initializer ?? []).reduce(
    (sum, t) => sum + (t.dims ?? []).map(Number).reduce((a, b) => a * b, 1),
    0,
  );
}
