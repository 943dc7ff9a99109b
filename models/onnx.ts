/** Reading ONNX graphs (protobuf via onnx-proto). */
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;

export function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

/** How many nodes of each op type the graph has. */
export function countOps(model: onnxProto.onnx.IModelProto): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const node of model.graph?.node ?? []) {
    const op = node.opType ?? '?';
    counts[op] = (counts[op] ?? 0) + 1;
  }
  return counts;
}

/** Names the quantization scheme a graph uses: 'none', 'int8 QOperator' or 'int8 QDQ'. */
export function describeQuantization(bytes: Uint8Array): string {
  const ops = countOps(decodeModel(bytes));
  if (
    Object.keys(ops).some((op) => op.startsWith('QLinear') || op === 'ConvInteger' || op === 'MatMulInteger')
  )
    return 'int8 QOperator';
  if (ops.QuantizeLinear || ops.DequantizeLinear) return 'int8 QDQ';
  return 'none';
}

/**
 * Re-encodes the int8 (s8) weights of QLinearConv and QLinearMatMul as uint8 with zero point + 128:
 * the same quantized values, so the result is lossless. Why: on x86-64 CPUs without VNNI (AVX2 or
 * AVX-512 without VNNI), ONNX Runtime's u8 x s8 kernels sum pairs of products into saturating int16
 * (vpmaddubsw), which corrupts large activations; its u8 x u8 kernels widen first and are exact.
 * The u8 copy therefore agrees with fp32 where the s8 one drifts, for no extra latency on those
 * CPUs (`npm run lab:int8-arch` compares both with fp32, `npm run bench:toolchain` times them).
 * Returns how many weight tensors were re-encoded.
 */
export function reencodeS8WeightsAsU8(model: onnxProto.onnx.IModelProto): number {
  const graph = model.graph;
  if (!graph) return 0;
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const INT8 = onnx.TensorProto.DataType.INT8;
  const UINT8 = onnx.TensorProto.DataType.UINT8;
  // QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, ...) and QLinearMatMul(a, ..., b, b_scale, b_zp, ...)
  // both hold the weight at input 3 and its zero point at input 5.
  const pairs = (graph.node ?? [])
    .filter((n) => n.opType === 'QLinearConv' || n.opType === 'QLinearMatMul')
    .map((n) => [initializers.get(n.input?.[3] ?? ''), initializers.get(n.input?.[5] ?? '')] as const)
    .filter(([w, zp]) => w?.dataType === INT8 && zp?.dataType === INT8);
  const done = new Set<onnxProto.onnx.ITensorProto>();
  for (const tensor of pairs.flat()) {
    if (!tensor || done.has(tensor)) continue;
    const values = tensor.rawData?.length
      ? new Int8Array(tensor.rawData.buffer, tensor.rawData.byteOffset, tensor.rawData.length)
      : Int8Array.from(tensor.int32Data ?? []);
    tensor.rawData = Uint8Array.from(values, (v) => v + 128);
    tensor.int32Data = [];
    tensor.dataType = UINT8;
    done.add(tensor);
  }
  return pairs.length;
}

export function encodeModel(model: onnxProto.onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}
