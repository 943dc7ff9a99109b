/**
 * Small helpers to build and edit ONNX graphs with onnx-proto (protobufjs): tensors, nodes,
 * attributes, value infos, and reading float initializers back.
 */
import type onnxProto from 'onnx-proto';
import { onnx } from './onnx.ts';

export type Model = onnxProto.onnx.IModelProto;
export type Graph = onnxProto.onnx.IGraphProto;
export type Node = onnxProto.onnx.INodeProto;
export type Tensor = onnxProto.onnx.ITensorProto;

export const DataType = onnx.TensorProto.DataType;
const AttributeType = onnx.AttributeProto.AttributeType;

export type AttrValue = number | number[] | string;

/** An attribute: integers become INT/INTS, non-integers FLOAT/FLOATS ({float: x} forces FLOAT). */
export function attr(name: string, value: AttrValue | { float: number }): onnxProto.onnx.IAttributeProto {
  if (typeof value === 'string')
    return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'object' && !Array.isArray(value))
    return { name, type: AttributeType.FLOAT, f: value.float };
  if (Array.isArray(value)) {
    return value.every(Number.isInteger)
      ? { name, type: AttributeType.INTS, ints: value }
      : { name, type: AttributeType.FLOATS, floats: value };
  }
  return Number.isInteger(value)
    ? { name, type: AttributeType.INT, i: value }
    : { name, type: AttributeType.FLOAT, f: value };
}

export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attrs: Record<string, AttrValue> = {},
  extra: { name?: string; domain?: string } = {},
): Node {
  return {
    opType,
    input: inputs,
    output: outputs,
    name: extra.name ?? `${opType}_${outputs[0]}`,
    domain: extra.domain ?? '',
    attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)),
  };
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  // A copy, so the tensor owns exactly its bytes (protobufjs encodes the whole view otherwise fine,
  // but Buffers from decode may share a larger pool).
  return new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
}

export function floatTensor(name: string, dims: number[], values: Float32Array | number[]): Tensor {
  const data = values instanceof Float32Array ? values : Float32Array.from(values);
  return { name, dims, dataType: DataType.FLOAT, rawData: bytesOf(data) };
}

export function int32Tensor(name: string, dims: number[], values: Int32Array): Tensor {
  return { name, dims, dataType: DataType.INT32, rawData: bytesOf(values) };
}

export function int64Tensor(name: string, dims: number[], values: number[]): Tensor {
  return { name, dims, dataType: DataType.INT64, rawData: bytesOf(BigInt64Array.from(values.map(BigInt))) };
}

export function int8Tensor(name: string, dims: number[], values: Int8Array): Tensor {
  return { name, dims, dataType: DataType.INT8, rawData: bytesOf(values) };
}

export function uint8Tensor(name: string, dims: number[], values: Uint8Array): Tensor {
  return { name, dims, dataType: DataType.UINT8, rawData: bytesOf(values) };
}

/** Float values of a FLOAT initializer (raw_data or float_data). */
export function readFloats(t: Tensor): Float32Array {
  if (t.dataType !== DataType.FLOAT)
    throw new Error(`initializer ${t.name} is not float32 (type ${t.dataType})`);
  if (t.rawData?.length) {
    // A copy into a fresh, aligned buffer (Buffer#slice would share the decoder's pool).
    const copy = Uint8Array.from(t.rawData);
    return new Float32Array(copy.buffer, 0, copy.length / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}

export function dimsOf(t: Tensor): number[] {
  return (t.dims ?? []).map(Number);
}

export function floatValueInfo(name: string, shape?: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DataType.FLOAT,
        ...(shape
          ? { shape: { dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } }
          : {}),
      },
    },
  };
}

export function getAttr(n: Node, name: string): onnxProto.onnx.IAttributeProto | undefined {
  return (n.attribute ?? []).find((a) => a.name === name);
}

export function getInt(n: Node, name: string, fallback: number): number {
  const a = getAttr(n, name);
  return a?.i === undefined || a.i === null ? fallback : Number(a.i);
}

/** Number of elements of an initializer. */
export function elements(t: Tensor): number {
  return dimsOf(t).reduce((a, b) => a * b, 1);
}
