/**
 * The dot products of one vector with many rows, in ONNX Runtime: the tagger scores each upload's
 * embedding against the centroids of its model's taught names this way once the list is long
 * (src/tagging/taught-labels.ts scoreNames, which keeps its JavaScript loop for short lists).
 *
 * The graph is one Gemm node with both operands as inputs, `vector` [1, D] times `rows` [N, D]
 * transposed (transB: the centroids stay packed row by row, no transposed copy), D and N symbolic:
 * one session serves every list and both embedding sizes. ONNX Runtime's MLAS runs it with its
 * AVX2 (x86-64) or NEON (arm64) kernels, about ten times the JavaScript loop's speed at 1,000 names
 * (`npm run bench:names`, docs/taught-names.md). The model is encoded in memory with onnx-proto,
 * loaded with the session on the first call (a cold start without many names never pays for it);
 * one intra-op thread: the product of a vector with a few MB of centroids is bound by memory, and
 * the tagger's classification owns the other threads.
 */

import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { sessionOptions } from './classifier.ts';
import { ort } from './native.ts';

/** The Gemm graph (see above), as ONNX protobuf bytes. */
export async function dotProductsModel(): Promise<Uint8Array> {
  const { onnx } = (await import('onnx-proto')).default;
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const input = (name: string, dims: string[]) => ({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((dimParam) => ({ dimParam })) } } },
  });
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'image-tagger dot-products',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'dot_products',
      node: [
        {
          opType: 'Gemm',
          name: 'scores',
          input: ['vector', 'rows'],
          output: ['scores'],
          attribute: [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
        },
      ],
      input: [input('vector', ['one', 'dimension']), input('rows', ['count', 'dimension'])],
      output: [input('scores', ['one', 'count'])],
    },
  }).finish();
}

/**
 * `vector` times each row of `rows` (row-major, rows.length / vector.length rows), in row order, in
 * ONNX Runtime (the tagger's DotProducts port). The session is created on the first call (again
 * after a failed creation).
 */
export function ortDotProducts(): (rows: Float32Array, vector: Float32Array) => Promise<Float32Array> {
  let session: Promise<InferenceSession> | undefined;
  const created = () => {
    if (!session) {
      session = dotProductsModel().then((model) =>
        ort.InferenceSession.create(model, sessionOptions(1, false)),
      );
      session.catch(() => {
        session = undefined;
      });
    }
    return session;
  };
  return async (rows, vector) => {
    const dimension = vector.length;
    const count = dimension ? rows.length / dimension : 0;
    if (!Number.isInteger(count)) throw new RangeError(`${rows.length} values are not rows of ${dimension}`);
    if (count === 0) return new Float32Array(0);
    const { scores } = await (await created()).run({
      vector: new ort.Tensor('float32', vector, [1, dimension]),
      rows: new ort.Tensor('float32', rows, [count, dimension]),
    });
    return (scores as Tensor).data as Float32Array;
  };
}
