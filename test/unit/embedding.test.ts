/** models/embedding.ts: where the embedding output is tapped, and which classifiers are refused. */
import { describe, expect, it } from 'vitest';
import { addEmbeddingOutput, NoPoolingError, removeOutput, withEmbedding } from '../../models/embedding.ts';
import { floatTensor, floatValueInfo, type Model, type Node, node } from '../../models/graph.ts';

const weight = (name: string, dims: number[]) =>
  floatTensor(name, dims, new Float32Array(dims.reduce((a, b) => a * b, 1)));

/** input -> Conv -> Relu -> `tail` -> output; the initializers named in `tail` are made here. */
function model(tail: Node[], initializers: [string, number[]][] = []): Model {
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'test',
      input: [floatValueInfo('input', ['N', 3, 8, 8])],
      output: [floatValueInfo('output', ['N', 10])],
      initializer: [weight('conv.w', [4, 3, 3, 3]), ...initializers.map(([n, d]) => weight(n, d))],
      node: [node('Conv', ['input', 'conv.w'], ['conv']), node('Relu', ['conv'], ['features']), ...tail],
    },
  };
}

const added = (m: Model) => (m.graph?.node ?? []).filter((n) => n.name?.startsWith('embedding_'));

describe('addEmbeddingOutput', () => {
  it('taps GlobalAveragePool -> Flatten -> Gemm (torchvision ResNet) with a Flatten of the pooled value', () => {
    const m = model(
      [
        node('GlobalAveragePool', ['features'], ['pooled'], {}, { name: 'avgpool' }),
        node('Flatten', ['pooled'], ['flat'], { axis: 1 }),
        node('Gemm', ['flat', 'fc.w', 'fc.b'], ['output'], { transB: 1 }),
      ],
      [
        ['fc.w', [10, 4]],
        ['fc.b', [10]],
      ],
    );
    expect(addEmbeddingOutput(m)).toEqual({ output: 'embedding', pooling: 'avgpool' });
    expect(m.graph?.output?.map((o) => o.name)).toEqual(['output', 'embedding']);
    expect(added(m).map((n) => [n.opType, n.input, n.output])).toEqual([
      ['Flatten', ['pooled'], ['embedding']],
    ]);
  });

  it('passes MatMul + Add (bias), Reshape, Softmax and ReduceMean over H and W', () => {
    const m = model(
      [
        node('ReduceMean', ['features'], ['pooled'], { axes: [2, 3], keepdims: 0 }, { name: 'mean' }),
        node('MatMul', ['pooled', 'fc.w'], ['mm']),
        node('Add', ['fc.b', 'mm'], ['logits']),
        node('Softmax', ['logits'], ['output'], { axis: 1 }),
      ],
      [
        ['fc.w', [4, 10]],
        ['fc.b', [10]],
      ],
    );
    expect(addEmbeddingOutput(m).pooling).toBe('mean');
  });

  it('in a QDQ graph, dequantizes the QuantizeLinear after the pool (a new node: the fusion stays)', () => {
    const m = model(
      [
        node('GlobalAveragePool', ['features'], ['pooled'], {}, { name: 'avgpool' }),
        node('QuantizeLinear', ['pooled', 's', 'zp'], ['pooled_q']),
        node('DequantizeLinear', ['pooled_q', 's', 'zp'], ['pooled_dq']),
        node('Flatten', ['pooled_dq'], ['flat'], { axis: 1 }),
        node('Gemm', ['flat', 'fc.w'], ['output'], { transB: 1 }),
      ],
      [
        ['s', []],
        ['zp', []],
        ['fc.w', [10, 4]],
      ],
    );
    const before = (m.graph?.node ?? []).length;
    addEmbeddingOutput(m);
    expect((m.graph?.node ?? []).slice(0, before).map((n) => n.output)).toEqual(
      (model([]).graph?.node ?? [])
        .map((n) => n.output)
        .concat([['pooled'], ['pooled_q'], ['pooled_dq'], ['flat'], ['output']]),
    );
    expect(added(m).map((n) => [n.opType, n.input])).toEqual([
      ['DequantizeLinear', ['pooled_q', 's', 'zp']],
      ['Flatten', ['embedding_dequantized']],
    ]);
    // removeOutput gives back the graph as it was (what the bench times the embedding against).
    const without = removeOutput(structuredClone(m), 'embedding');
    expect(without.graph?.node).toHaveLength(before);
    expect(without.graph?.output?.map((o) => o.name)).toEqual(['output']);
  });

  it('in a QOperator graph, dequantizes QLinearGlobalAveragePool with its output scale and zero point', () => {
    const m = model(
      [
        node(
          'QLinearGlobalAveragePool',
          ['features', 'xs', 'xz', 'ys', 'yz'],
          ['pooled_q'],
          {},
          { name: 'qpool' },
        ),
        node('Reshape', ['pooled_q', 'shape'], ['flat_q']),
        node('QLinearMatMul', ['flat_q', 'ys', 'yz', 'w', 'ws', 'wz', 'os', 'oz'], ['mm_q']),
        node('QLinearAdd', ['mm_q', 'os', 'oz', 'b', 'bs', 'bz', 'out_s', 'out_z'], ['out_q']),
        node('DequantizeLinear', ['out_q', 'out_s', 'out_z'], ['output']),
      ],
      ['xs', 'xz', 'ys', 'yz', 'w', 'ws', 'wz', 'os', 'oz', 'b', 'bs', 'bz', 'out_s', 'out_z', 'shape'].map(
        (n): [string, number[]] => [n, []],
      ),
    );
    expect(addEmbeddingOutput(m).pooling).toBe('qpool');
    expect(added(m)[0]?.input).toEqual(['pooled_q', 'ys', 'yz']);
  });

  it('picks a free name when the graph already has an "embedding"', () => {
    const m = model(
      [
        node('GlobalAveragePool', ['features'], ['embedding']),
        node('Flatten', ['embedding'], ['flat'], { axis: 1 }),
        node('Gemm', ['flat', 'fc.w'], ['output'], { transB: 1 }),
      ],
      [['fc.w', [10, 4]]],
    );
    expect(addEmbeddingOutput(m).output).toBe('embedding_1');
  });

  it.each([
    [
      'no pooling (Conv -> Flatten -> Gemm)',
      [node('Flatten', ['features'], ['flat'], { axis: 1 }), node('Gemm', ['flat', 'fc.w'], ['output'])],
      /reached|neither a pooling/,
    ],
    [
      'two dense layers (VGG)',
      [
        node('GlobalAveragePool', ['features'], ['pooled']),
        node('Flatten', ['pooled'], ['flat'], { axis: 1 }),
        node('Gemm', ['flat', 'fc.w'], ['hidden']),
        node('Relu', ['hidden'], ['hidden.relu']),
        node('Gemm', ['hidden.relu', 'fc.w'], ['output']),
      ],
      /Relu .* is neither a pooling nor part of a classifier head/,
    ],
    [
      'a convolution as classifier, pooled after it (SqueezeNet)',
      [
        node('Conv', ['features', 'fc.w'], ['classes']),
        node('GlobalAveragePool', ['classes'], ['pooled']),
        node('Flatten', ['pooled'], ['output'], { axis: 1 }),
      ],
      /followed by 0 dense layers, not 1/,
    ],
    [
      'a pooling over one axis only',
      [
        node('ReduceMean', ['features'], ['pooled'], { axes: [3], keepdims: 0 }),
        node('Flatten', ['pooled'], ['flat'], { axis: 1 }),
        node('Gemm', ['flat', 'fc.w'], ['output']),
      ],
      /ReduceMean .* is neither a pooling/,
    ],
  ])('refuses %s, saying why', (_, tail, why) => {
    const m = model(tail as Node[], [['fc.w', [10, 4]]]);
    expect(() => addEmbeddingOutput(m)).toThrow(NoPoolingError);
    expect(() => addEmbeddingOutput(m)).toThrow(why);
    expect(() => withEmbedding(m, false, 'net.onnx')).toThrow(
      /^net\.onnx: no global pooling.*--without-embedding/,
    );
    expect(withEmbedding(m, true, 'net.onnx')).toBeUndefined();
    expect(m.graph?.output?.map((o) => o.name)).toEqual(['output']);
  });
});
