/**
 * npm run int8:trace -- --model <int8 folder> --photo <image> [--targets x64,arm64:max] [--out <dir>]
 *
 * Where two machines' int8 results part (issue 7: arm64 vs x64). On each target (scripts/int8-arch.ts):
 * 1. the graph ONNX Runtime optimized on the first target, every node output made a graph output, run
 *    with optimization disabled on the photo: the first node whose output differs, and how it spreads;
 * 2. every node of that graph alone, fed the first target's inputs: which ops compute differently from
 *    identical inputs;
 * 3. every QLinearAdd node over all 65,536 (a, b) uint8 pairs, against the exact ONNX formula (float64,
 *    round half to even): how often each target's QLinearAdd rounds differently.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { decodeModel, encodeModel, onnx } from '../models/onnx.ts';
import { cacheDir } from '../paths.ts';
import { parseTarget, runTarget } from './int8-arch.ts';
import type { ArchOutputs, ArchPlan, EncodedTensor } from './int8-arch-probe.ts';

type Model = ReturnType<typeof decodeModel>;
type ValueInfo = ReturnType<typeof onnx.ValueInfoProto.create>;
const ELEM_TYPE: Record<string, number> = { float32: 1, uint8: 2, int8: 3, int32: 6 };

function values(t: EncodedTensor): Float64Array {
  const b = Buffer.from(t.base64, 'base64');
  const view =
    t.type === 'float32'
      ? new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4)
      : t.type === 'int32'
        ? new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4)
        : t.type === 'int8'
          ? new Int8Array(b.buffer, b.byteOffset, b.byteLength)
          : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return Float64Array.from(view);
}

function compare(a: EncodedTensor, b: EncodedTensor): { differ: number; max: number; size: number } {
  const x = values(a);
  const y = values(b);
  let differ = 0;
  let max = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs((x[i] ?? 0) - (y[i] ?? 0));
    if (d > 0) differ++;
    max = Math.max(max, d);
  }
  return { differ, max, size: x.length };
}

/** The scalar value of an initializer (scale or zero point). */
function scalar(model: Model, name: string): number {
  const t = model.graph?.initializer?.find((i) => i.name === name);
  if (!t) throw new Error(`no initializer ${name}`);
  if (t.floatData?.length) return t.floatData[0] as number;
  if (t.int32Data?.length) return t.int32Data[0] as number;
  const raw = Buffer.from(t.rawData ?? []);
  if (t.dataType === 1) return raw.readFloatLE(0);
  if (t.dataType === 2) return raw.readUInt8(0);
  if (t.dataType === 3) return raw.readInt8(0);
  throw new Error(`initializer ${name}: data type ${t.dataType}`);
}

const nodeOutputs = (m: Model) => (m.graph?.node ?? []).flatMap((n) => (n.output ?? []).filter((o) => o));
const describe = (m: Model, output: string) => {
  const n = m.graph?.node?.find((x) => x.output?.includes(output));
  return `${n?.opType ?? '?'} ${n?.name ?? output}`;
};

async function main(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      photo: { type: 'string' },
      targets: { type: 'string', default: 'x64,arm64:max' },
      out: { type: 'string', default: cacheDir('int8-trace') },
    },
  });
  if (!v.model || !v.photo)
    throw new Error('usage: npm run int8:trace -- --model <int8 folder> --photo <image>');
  const out = resolve(v.out);
  await mkdir(out, { recursive: true });
  const targets = v.targets.split(',').map(parseTarget);
  const [first, ...others] = targets;
  if (!first || others.length === 0) throw new Error('--targets needs two or more targets');
  const { preprocess } = await import('../src/classifier/preprocess.ts');
  const meta = JSON.parse(await readFile(join(v.model, 'model.json'), 'utf8'));
  const tensor = (await preprocess(await readFile(v.photo), meta)).data;
  const tensors = join(out, 'photo.f32');
  await writeFile(tensors, new Uint8Array(tensor.buffer, tensor.byteOffset, tensor.byteLength));
  const plan = (models: ArchPlan['models']): ArchPlan => ({ tensors, count: 1, size: meta.cropSize, models });
  const lines: string[] = [];

  // 0. The graph the first target runs.
  const optimized = join(out, 'optimized.onnx');
  await runTarget(
    first,
    plan([{ name: 'model', path: join(v.model, 'model.onnx'), optimizedPath: optimized }]),
    out,
  );
  const graph = decodeModel(await readFile(optimized));

  // 1. Every node output of the whole graph.
  const all = decodeModel(encodeModel(graph));
  const outs = new Set((all.graph?.output ?? []).map((o) => o.name));
  for (const name of nodeOutputs(all))
    if (!outs.has(name)) all.graph?.output?.push(onnx.ValueInfoProto.create({ name }));
  await writeFile(join(out, 'all-outputs.onnx'), encodeModel(all));
  const fetch = nodeOutputs(all);
  const wholePlan = plan([{ name: 'all', path: join(out, 'all-outputs.onnx'), level: 'disabled', fetch }]);
  const whole: Record<string, ArchOutputs> = {};
  for (const t of targets) whole[t.id] = await runTarget(t, wholePlan, out);
  for (const t of others) {
    lines.push(`## ${t.id} vs ${first.id}: every node output, whole graph`, '');
    const a = whole[first.id]?.outputs.all ?? {};
    const b = whole[t.id]?.outputs.all ?? {};
    const rows = fetch
      .map((name) => ({ name, ...compare(a[name] as EncodedTensor, b[name] as EncodedTensor) }))
      .filter((r) => r.differ > 0);
    lines.push(
      rows.length === 0
        ? 'all identical'
        : rows
            .map((r) => `- ${describe(all, r.name)}: ${r.differ}/${r.size} differ, max ${r.max}`)
            .join('\n'),
      '',
    );
  }

  // 2. Every node alone, fed the first target's inputs.
  const captured: Record<string, EncodedTensor> = {
    ...(whole[first.id]?.outputs.all ?? {}),
    [graph.graph?.input?.[0]?.name ?? 'input']: {
      type: 'float32',
      dims: [1, 3, meta.cropSize, meta.cropSize],
      base64: Buffer.from(tensor.buffer, tensor.byteOffset, tensor.byteLength).toString('base64'),
    },
  };
  const iso = decodeModel(encodeModel(graph));
  const initializers = new Set((iso.graph?.initializer ?? []).map((i) => i.name));
  const feeds: Record<string, EncodedTensor> = {};
  const inputs: ValueInfo[] = [];
  const outputs: ValueInfo[] = [];
  const isoNames: Record<string, string> = {};
  iso.graph = onnx.GraphProto.create({
    ...iso.graph,
    node: (graph.graph?.node ?? []).map((n, k) => {
      const input = (n.input ?? []).map((name, j) => {
        if (!name || initializers.has(name)) return name;
        const t = captured[name];
        if (!t) throw new Error(`no captured value for ${name}`);
        const fresh = `iso${k}_in${j}`;
        const shape = { dim: t.dims.map((d) => ({ dimValue: d })) };
        inputs.push(
          onnx.ValueInfoProto.create({
            name: fresh,
            type: { tensorType: { elemType: ELEM_TYPE[t.type], shape } },
          }),
        );
        feeds[fresh] = t;
        return fresh;
      });
      const output = (n.output ?? []).map((name, j) => {
        const fresh = `iso${k}_out${j}`;
        isoNames[fresh] = name;
        outputs.push(onnx.ValueInfoProto.create({ name: fresh }));
        return fresh;
      });
      return onnx.NodeProto.create({ ...n, name: `iso${k}_${n.name}`, input, output });
    }),
    input: inputs,
    output: outputs,
    valueInfo: [],
  });
  await writeFile(join(out, 'isolated.onnx'), encodeModel(iso));
  await writeFile(join(out, 'isolated-feeds.json'), JSON.stringify(feeds));
  const isoPlan = plan([
    {
      name: 'iso',
      path: join(out, 'isolated.onnx'),
      level: 'disabled',
      feeds: join(out, 'isolated-feeds.json'),
      fetch: Object.keys(isoNames),
    },
  ]);
  const isolated: Record<string, ArchOutputs> = {};
  for (const t of targets) isolated[t.id] = await runTarget(t, isoPlan, out);
  for (const t of others) {
    lines.push(`## ${t.id} vs ${first.id}: each node alone, same inputs`, '');
    const a = isolated[first.id]?.outputs.iso ?? {};
    const b = isolated[t.id]?.outputs.iso ?? {};
    const rows = Object.entries(isoNames)
      .map(([fresh, name]) => ({ name, ...compare(a[fresh] as EncodedTensor, b[fresh] as EncodedTensor) }))
      .filter((r) => r.differ > 0);
    lines.push(
      `${Object.keys(isoNames).length} node outputs compared, ${rows.length} differ`,
      ...rows.map((r) => `- ${describe(graph, r.name)}: ${r.differ}/${r.size} differ, max ${r.max}`),
      '',
    );
  }

  // 3. QLinearAdd over its whole input domain.
  const adds = (graph.graph?.node ?? []).filter((n) => n.opType === 'QLinearAdd');
  if (adds.length > 0) {
    const addModel = decodeModel(encodeModel(graph));
    const used = new Set(adds.flatMap((n) => n.input ?? []));
    const shape = { dim: [{ dimValue: 1 }, { dimValue: 65536 }] };
    addModel.graph = onnx.GraphProto.create({
      ...addModel.graph,
      initializer: (graph.graph?.initializer ?? []).filter((t) => used.has(t.name ?? '')),
      node: adds.map((n) =>
        onnx.NodeProto.create({
          ...n,
          input: (n.input ?? []).map((x, j) => (j === 0 ? 'A' : j === 3 ? 'B' : x)),
        }),
      ),
      input: ['A', 'B'].map((name) =>
        onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: 2, shape } } }),
      ),
      output: adds.map((n) => onnx.ValueInfoProto.create({ name: n.output?.[0] ?? '' })),
      valueInfo: [],
    });
    await writeFile(join(out, 'qlinearadd.onnx'), encodeModel(addModel));
    const a = Buffer.alloc(65536);
    const b = Buffer.alloc(65536);
    for (let i = 0; i < 65536; i++) {
      a[i] = i & 255;
      b[i] = i >> 8;
    }
    const enc = (buf: Buffer): EncodedTensor => ({
      type: 'uint8',
      dims: [1, 65536],
      base64: buf.toString('base64'),
    });
    await writeFile(join(out, 'qlinearadd-feeds.json'), JSON.stringify({ A: enc(a), B: enc(b) }));
    const addPlan = plan([
      {
        name: 'add',
        path: join(out, 'qlinearadd.onnx'),
        level: 'disabled',
        feeds: join(out, 'qlinearadd-feeds.json'),
      },
    ]);
    const results: Record<string, ArchOutputs> = {};
    for (const t of targets) results[t.id] = await runTarget(t, addPlan, out);
    lines.push(
      `## QLinearAdd over all 65,536 uint8 input pairs: results that differ from the exact formula`,
      '',
      `| node | ${targets.map((t) => t.id).join(' | ')} |`,
      `| --- | ${targets.map(() => '---:').join(' | ')} |`,
    );
    const totals = targets.map(() => 0);
    for (const n of adds) {
      const i = n.input ?? [];
      const [sa, za, sb, zb, sc, zc] = [1, 2, 4, 5, 6, 7].map((k) => scalar(graph, i[k] ?? ''));
      const cells = targets.map((t, ti) => {
        const got = values(results[t.id]?.outputs.add?.[n.output?.[0] ?? ''] as EncodedTensor);
        let wrong = 0;
        for (let p = 0; p < 65536; p++) {
          const x = (((p & 255) - (za ?? 0)) * (sa ?? 0) + ((p >> 8) - (zb ?? 0)) * (sb ?? 0)) / (sc ?? 1);
          const r = Math.round(x);
          const even = Math.abs(x - Math.trunc(x)) === 0.5 ? 2 * Math.round(x / 2) : r;
          const exact = Math.min(255, Math.max(0, even + (zc ?? 0)));
          if (got[p] !== exact) wrong++;
        }
        totals[ti] = (totals[ti] ?? 0) + wrong;
        return String(wrong);
      });
      lines.push(`| ${n.name} | ${cells.join(' | ')} |`);
    }
    lines.push(`| all ${adds.length} (of ${adds.length * 65536}) | ${totals.join(' | ')} |`, '');
  }
  const report = lines.join('\n');
  await writeFile(join(out, 'trace.md'), `${report}\n`);
  console.log(report);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err: Error) => {
    console.error(`int8:trace: ${err.message}`);
    process.exit(1);
  });
}
