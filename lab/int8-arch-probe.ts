/**
 * Runs inside a foreign Node binary (x64, or arm64 under qemu), spawned by lab/int8-arch.ts:
 * loads onnxruntime-node from NODE_PATH (the runtime layer), runs each planned model over the same
 * preprocessed tensors with the classifier's session options, and writes the fetched outputs.
 *
 *   node lab/int8-arch-probe.ts <plan.json> <out.json>
 *
 * Erasable TypeScript and node: built-ins only (see scripts/runtime-probe.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export interface ArchPlan {
  /** Float32 [count, 3, size, size], preprocessed by the classifier's own preprocess(). */
  tensors: string;
  count: number;
  size: number;
  models: {
    name: string;
    path: string;
    /** Graph optimization level (default 'all', as the classifier). */
    level?: 'disabled' | 'basic' | 'extended' | 'all';
    /** Where to save the graph ONNX Runtime optimized for this machine. */
    optimizedPath?: string;
    /** Output names to fetch (default: the model's outputs). */
    fetch?: string[];
    /** Run only the first `count` tensors (default all). */
    count?: number;
    /** A JSON file of named inputs ({type, dims, base64}) to run once instead of the tensors. */
    feeds?: string;
  }[];
}

export interface ArchOutputs {
  arch: string;
  node: string;
  ort: string;
  /** model -> output name -> base64 of the outputs of every image, concatenated; dims of one. */
  outputs: Record<string, Record<string, EncodedTensor>>;
  ms: Record<string, number>;
}

export interface EncodedTensor {
  type: string;
  dims: number[];
  base64: string;
}

type Ort = typeof import('onnxruntime-node');
type TypedArray = Float32Array | Uint8Array | Int8Array | Int32Array;
const ARRAYS: Record<string, (b: Buffer) => TypedArray> = {
  float32: (b) => new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4),
  uint8: (b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
  int8: (b) => new Int8Array(b.buffer, b.byteOffset, b.byteLength),
  int32: (b) => new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4),
};

const [planFile, outFile] = process.argv.slice(2);
if (!planFile || !outFile) {
  console.error('usage: node lab/int8-arch-probe.ts <plan.json> <out.json>');
  process.exit(2);
}
const plan = JSON.parse(readFileSync(planFile, 'utf8')) as ArchPlan;
const require = createRequire(join(process.cwd(), 'probe.cjs'));
const ort = require('onnxruntime-node') as Ort;
const all = readFileSync(plan.tensors);
const floats = new Float32Array(all.buffer, all.byteOffset, all.byteLength / 4);
const per = 3 * plan.size * plan.size;
const result: ArchOutputs = {
  arch: process.arch,
  node: process.version,
  ort: require.resolve('onnxruntime-node'),
  outputs: {},
  ms: {},
};
for (const m of plan.models) {
  const session = await ort.InferenceSession.create(m.path, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: m.level ?? 'all',
    logSeverityLevel: 3,
    ...(m.optimizedPath ? { optimizedModelFilePath: m.optimizedPath } : {}),
  });
  const fetch = m.fetch ?? [...session.outputNames];
  const chunks: Record<string, Buffer[]> = Object.fromEntries(fetch.map((f) => [f, []]));
  const types: Record<string, string> = {};
  const dims: Record<string, number[]> = {};
  const fixed = m.feeds
    ? (JSON.parse(readFileSync(m.feeds, 'utf8')) as Record<string, EncodedTensor>)
    : undefined;
  const runs = fixed ? 1 : Math.min(plan.count, m.count ?? plan.count);
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    const feeds: Record<string, InstanceType<Ort['Tensor']>> = {};
    if (fixed) {
      for (const [name, t] of Object.entries(fixed)) {
        const make = ARRAYS[t.type];
        if (!make) throw new Error(`feed ${name}: unsupported type ${t.type}`);
        feeds[name] = new ort.Tensor(
          t.type as 'float32',
          make(Buffer.from(t.base64, 'base64')) as Float32Array,
          t.dims,
        );
      }
    } else {
      const input = floats.slice(i * per, (i + 1) * per);
      feeds[session.inputNames[0] as string] = new ort.Tensor('float32', input, [1, 3, plan.size, plan.size]);
    }
    const out = await session.run(feeds, fetch);
    for (const f of fetch) {
      const t = out[f] as { type: string; dims: readonly number[]; data: ArrayBufferView };
      types[f] = t.type;
      dims[f] = [...t.dims];
      chunks[f]?.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
  }
  result.ms[m.name] = (performance.now() - t0) / runs;
  result.outputs[m.name] = Object.fromEntries(
    fetch.map((f) => [
      f,
      {
        type: types[f] ?? '?',
        dims: dims[f] ?? [],
        base64: Buffer.concat(chunks[f] ?? []).toString('base64'),
      },
    ]),
  );
  await session.release();
  console.error(`${process.arch} ${m.name}: ${result.ms[m.name]?.toFixed(1)} ms/image`);
}
writeFileSync(outFile, JSON.stringify(result));
