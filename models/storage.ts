/**
 * The two weight storages of one int8 model: `s8` (int8 weights, zero point 0) and `u8` (uint8
 * weights, zero point 128). Both hold the same quantized values q: s8 stores q, u8 stores q + 128.
 * `compareStorages` checks that two graphs are exactly that pair and nothing else differs.
 */
import type { Model, Tensor } from './graph.ts';
import { DataType } from './graph.ts';
import { decodeModel } from './onnx.ts';

export interface StorageComparison {
  /** Weight and zero-point tensors that are int8 in one graph and q + 128 in the other. */
  reencoded: number;
  /** Tensors that are byte-identical (scales, biases, activation parameters). */
  identical: number;
  /** Everything else: empty when the two graphs carry the same quantized values. */
  differences: string[];
}

function int8Values(t: Tensor): Int8Array {
  if (t.rawData?.length) return new Int8Array(Uint8Array.from(t.rawData).buffer);
  return Int8Array.from(t.int32Data ?? []);
}

function uint8Values(t: Tensor): Uint8Array {
  if (t.rawData?.length) return Uint8Array.from(t.rawData);
  return Uint8Array.from(t.int32Data ?? []);
}

function sameBytes(a: Tensor, b: Tensor): boolean {
  const x = a.rawData ?? new Uint8Array();
  const y = b.rawData ?? new Uint8Array();
  if (x.length !== y.length || a.dataType !== b.dataType) return false;
  if (x.length === 0) return JSON.stringify(a) === JSON.stringify(b);
  return Buffer.from(x).equals(Buffer.from(y));
}

/** Compares an s8-storage graph with a u8-storage graph (bytes or decoded). */
export function compareStorages(s8Model: Model | Uint8Array, u8Model: Model | Uint8Array): StorageComparison {
  const s8 = s8Model instanceof Uint8Array ? decodeModel(s8Model) : s8Model;
  const u8 = u8Model instanceof Uint8Array ? decodeModel(u8Model) : u8Model;
  const differences: string[] = [];
  const nodesOf = (m: Model) =>
    (m.graph?.node ?? []).map(
      (n) => `${n.opType}(${(n.input ?? []).join(',')})->${(n.output ?? []).join(',')}`,
    );
  const [a, b] = [nodesOf(s8), nodesOf(u8)];
  if (a.length !== b.length || a.some((n, i) => n !== b[i])) differences.push('the node lists differ');
  const inits = new Map((u8.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  let reencoded = 0;
  let identical = 0;
  for (const t of s8.graph?.initializer ?? []) {
    const other = inits.get(t.name ?? '');
    inits.delete(t.name ?? '');
    if (!other) {
      differences.push(`${t.name}: only in the s8 graph`);
      continue;
    }
    if (t.dataType === DataType.INT8 && other.dataType === DataType.UINT8) {
      const q = int8Values(t);
      const stored = uint8Values(other);
      const dims = JSON.stringify((t.dims ?? []).map(Number));
      if (dims !== JSON.stringify((other.dims ?? []).map(Number)))
        differences.push(`${t.name}: shapes differ`);
      else if (q.length !== stored.length || q.some((v, i) => v + 128 !== stored[i]))
        differences.push(`${t.name}: u8 values are not the s8 values + 128`);
      else reencoded++;
    } else if (sameBytes(t, other)) identical++;
    else differences.push(`${t.name}: differs (types ${t.dataType} / ${other.dataType})`);
  }
  for (const name of inits.keys()) differences.push(`${name}: only in the u8 graph`);
  if (reencoded === 0) differences.push('no int8 weight of the s8 graph is stored as uint8 in the u8 graph');
  return { reencoded, identical, differences };
}
