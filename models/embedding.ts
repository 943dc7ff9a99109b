/**
 * The image embedding from the classifier's own forward pass: the globally pooled features just
 * before the classifier layer (512 numbers for ResNet-18, 1280 for MobileNetV2), exposed as a second
 * graph output so one inference gives both the class scores and the embedding.
 *
 * `addEmbeddingOutput` walks back from the scores output through the classifier head (one
 * Gemm/MatMul with its bias, reshapes, (de)quantization, Clip/Softmax/Identity) to the global
 * pooling node, and adds a float output `embedding` [N, C] holding that node's value. In an int8
 * graph the pooled value is quantized: the new output is a DequantizeLinear of it (and a Flatten),
 * new nodes beside the existing ones, so ONNX Runtime's QDQ fusions (QLinearGlobalAveragePool,
 * QGemm) stay as they were. A graph with anything else between its pooling and its scores (a second
 * dense layer, a convolution as classifier as in SqueezeNet, no pooling at all) is refused with a
 * NoPoolingError; the tools then offer `--without-embedding`.
 */

import { ort } from '../src/classifier/native.ts';
import type { Model, Node } from './graph.ts';
import { floatValueInfo, node } from './graph.ts';

/** The name of the embedding output (a suffix is added if the graph already has the name). */
export const EMBEDDING_OUTPUT = 'embedding';

/** What model.json records under "embedding" (see src/classifier/model-folder.ts). */
export interface EmbeddingTap {
  /** The graph output holding the pooled features, float [N, dimension]. */
  output: string;
  /** The pooling node whose value it is. */
  pooling: string;
}

/** The graph has no global pooling right before its classifier layer. */
export class NoPoolingError extends Error {}

/** Ops the walk passes through unchanged (shape, (de)quantization, activations of the scores). */
const PASS_THROUGH = new Set([
  'Identity',
  'DequantizeLinear',
  'QuantizeLinear',
  'Flatten',
  'Reshape',
  'Squeeze',
  'Clip',
  'Softmax',
  'LogSoftmax',
  'Dropout',
  'Cast',
]);
/** The classifier layer: exactly one of these between the pooling and the scores. */
const DENSE = new Set(['Gemm', 'MatMul', 'QLinearMatMul', 'QGemm', 'MatMulInteger']);
/** A bias added to the dense layer's output (the other operand must be a constant). */
const BIAS = new Set(['Add', 'QLinearAdd']);
const GLOBAL_POOLS = new Set(['GlobalAveragePool', 'GlobalMaxPool', 'QLinearGlobalAveragePool']);

const describe = (n: Node) => `${n.opType} "${n.name || n.output?.[0]}"`;

/**
 * Adds the embedding output to `model` (in place) and returns where it comes from. `scores` is the
 * classifier's output name (default: the graph's first output). Throws NoPoolingError when the
 * classifier is not one dense layer on globally pooled features.
 */
export function addEmbeddingOutput(model: Model, scores?: string): EmbeddingTap {
  const graph = model.graph;
  if (!graph) throw new NoPoolingError('the model has no graph');
  const nodes = graph.node ?? [];
  const outputName = scores ?? graph.output?.[0]?.name ?? '';
  const producer = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  for (const n of nodes) {
    for (const o of n.output ?? []) producer.set(o, n);
    for (const i of n.input ?? []) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const constant = (name: string | undefined) =>
    name !== undefined && (initializers.has(name) || producer.get(name)?.opType === 'Constant');
  /** The one activation input of a node the walk follows; undefined if there are two (a join). */
  const dataInput = (n: Node): string | undefined => {
    const inputs = n.input ?? [];
    const candidates =
      n.opType === 'QLinearMatMul' || n.opType === 'QLinearAdd'
        ? [inputs[0], inputs[3]]
        : n.opType === 'MatMul' || n.opType === 'Add' || n.opType === 'MatMulInteger'
          ? [inputs[0], inputs[1]]
          : [inputs[0]];
    const live = candidates.filter((i) => i && !constant(i));
    return live.length === 1 ? live[0] : undefined;
  };

  const path: string[] = [];
  let dense = 0;
  let tensor = outputName;
  const fail = (why: string): never => {
    throw new NoPoolingError(
      `no global pooling right before the classifier layer: walking back from output "${outputName}"${
        path.length ? ` through ${path.join(' <- ')}` : ''
      }, ${why}. Only globally pooled features (GlobalAveragePool, ReduceMean over H and W) followed by one dense layer give an embedding`,
    );
  };
  for (let step = 0; step < 64; step++) {
    const n = producer.get(tensor);
    if (!n) fail(`"${tensor}" is a graph input, not a node's output`);
    const op = n?.opType ?? '';
    const current = n as Node;
    if (GLOBAL_POOLS.has(op) || (op === 'ReduceMean' && reducesHW(current, graph.initializer ?? []))) {
      if (dense !== 1) fail(`the pooling ${describe(current)} is followed by ${dense} dense layers, not 1`);
      return tapPooling(model, current, consumers, initializers);
    }
    path.push(describe(current));
    if (DENSE.has(op)) dense++;
    else if (!PASS_THROUGH.has(op) && !BIAS.has(op))
      fail(`${describe(current)} is neither a pooling nor part of a classifier head`);
    if (dense > 1) fail(`${describe(current)} is a second dense layer`);
    const next = dataInput(current);
    if (!next) fail(`${describe(current)} joins two activations`);
    tensor = next as string;
  }
  return fail('the head is longer than 64 nodes');
}

/** ReduceMean over the spatial axes (2 and 3, or -2 and -1) of an NCHW tensor. */
function reducesHW(n: Node, initializers: NonNullable<Model['graph']>['initializer']): boolean {
  const attr = (n.attribute ?? []).find((a) => a.name === 'axes');
  let axes = (attr?.ints ?? []).map(Number);
  if (!attr && n.input?.[1]) {
    // opset 18: the axes are an input; only a constant one can be judged.
    const t = (initializers ?? []).find((i) => i.name === n.input?.[1]);
    if (t?.rawData?.length) {
      const raw = Uint8Array.from(t.rawData);
      axes = [...new BigInt64Array(raw.buffer, 0, raw.length / 8)].map(Number);
    } else axes = (t?.int64Data ?? []).map(Number);
  }
  const set = new Set(axes.map((a) => (a < 0 ? a + 4 : a)));
  return set.size === 2 && set.has(2) && set.has(3);
}

function uniqueName(model: Model, base: string): string {
  const taken = new Set<string>();
  for (const n of model.graph?.node ?? []) for (const o of n.output ?? []) taken.add(o);
  for (const v of [...(model.graph?.input ?? []), ...(model.graph?.output ?? [])]) taken.add(v.name ?? '');
  for (const t of model.graph?.initializer ?? []) taken.add(t.name ?? '');
  let name = base;
  for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
  return name;
}

/**
 * Adds DequantizeLinear (for a quantized pooled value) and Flatten nodes after the pooling node and
 * declares the float output. The existing nodes are left untouched.
 */
function tapPooling(
  model: Model,
  pool: Node,
  consumers: Map<string, Node[]>,
  initializers: Set<string>,
): EmbeddingTap {
  const graph = model.graph as NonNullable<Model['graph']>;
  const pooled = pool.output?.[0] as string;
  const output = uniqueName(model, EMBEDDING_OUTPUT);
  const added: Node[] = [];
  let source = pooled;
  // The pooled value as the classifier layer sees it: a QOperator pool's own quantized output, or in
  // a QDQ graph the QuantizeLinear after a float pool (ORT fuses that pair into one int8 pool; tapping
  // the float tensor would stop the fusion).
  const quantized: [string, string, string] | undefined =
    pool.opType === 'QLinearGlobalAveragePool'
      ? [pooled, pool.input?.[3] as string, pool.input?.[4] as string]
      : (() => {
          const next = consumers.get(pooled) ?? [];
          const q = next.length === 1 && next[0]?.opType === 'QuantizeLinear' ? next[0] : undefined;
          return q && initializers.has(q.input?.[1] ?? '')
            ? [q.output?.[0] as string, q.input?.[1] as string, q.input?.[2] as string]
            : undefined;
        })();
  if (quantized) {
    source = uniqueName(model, `${output}_dequantized`);
    added.push(
      node(
        'DequantizeLinear',
        quantized.filter(Boolean),
        [source],
        {},
        { name: `${output}_DequantizeLinear` },
      ),
    );
  }
  added.push(node('Flatten', [source], [output], { axis: 1 }, { name: `${output}_Flatten` }));
  graph.node = [...(graph.node ?? []), ...added];
  graph.output = [...(graph.output ?? []), floatValueInfo(output)];
  return { output, pooling: pool.name || pooled };
}

/**
 * `addEmbeddingOutput` as the tools use it: nothing when the user asked for no embedding
 * (`--without-embedding`), else the tap, or an error that names the model and the flag.
 */
export function withEmbedding(
  model: Model,
  without: boolean,
  what: string,
  scores?: string,
): EmbeddingTap | undefined {
  if (without) return undefined;
  try {
    return addEmbeddingOutput(model, scores);
  } catch (err) {
    if (!(err instanceof NoPoolingError)) throw err;
    throw new NoPoolingError(
      `${what}: ${err.message}. Pass --without-embedding to serve it without embeddings (then no similar images and no near-duplicates)`,
    );
  }
}

/**
 * Runs the graph once on a zero image and returns the length of the embedding output: its
 * dimension, for model.json (the classifier checks it again at init).
 */
export async function embeddingDimension(model: Uint8Array, output: string, crop: number): Promise<number> {
  const session = await ort.InferenceSession.create(model, { logSeverityLevel: 3 });
  try {
    const input = session.inputNames[0] as string;
    const zeros = new ort.Tensor('float32', new Float32Array(3 * crop * crop), [1, 3, crop, crop]);
    const result = await session.run({ [input]: zeros }, [output]);
    return (result[output]?.data as Float32Array | undefined)?.length ?? 0;
  } finally {
    await session.release();
  }
}

/**
 * The graph without the output `output` and the nodes only it needed: the same model as it was
 * before `addEmbeddingOutput` (what `npm run bench` times the embedding's cost against).
 */
export function removeOutput(model: Model, output: string): Model {
  const graph = model.graph;
  if (!graph) return model;
  graph.output = (graph.output ?? []).filter((o) => o.name !== output);
  const wanted = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  // Keep every node something still needs, walking back from the remaining outputs.
  const producer = new Map<string, Node>();
  for (const n of graph.node ?? []) for (const o of n.output ?? []) producer.set(o, n);
  const keep = new Set<Node>();
  const stack = [...wanted];
  while (stack.length > 0) {
    const n = producer.get(stack.pop() as string);
    if (!n || keep.has(n)) continue;
    keep.add(n);
    stack.push(...(n.input ?? []).filter(Boolean));
  }
  graph.node = (graph.node ?? []).filter((n) => keep.has(n));
  return model;
}
