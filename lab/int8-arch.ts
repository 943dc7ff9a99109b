/**
 * npm run lab:int8-arch -- --int8 s8=<folder> --int8 u8=<folder> --fp32 <model.onnx> --photos <dir>
 *                      [--count 50] [--targets x64,arm64:max,arm64:neoverse-n1,arm64:cortex-a72] [--out <dir>]
 *
 * `--int8 <storage>=<folder>` runs the folder's file for that storage (model.json "weights"), else
 * its model.onnx. Targets: `x64` (this machine), `x64:<qemu CPU model>` (qemu-x86_64, e.g.
 * `x64:Haswell`: AVX2 without AVX-512 or VNNI, as on x86 Lambda; ONNX Runtime then takes its AVX2
 * kernels), `arm64:<qemu CPU model>`.
 *                      [--reuse <targets whose outputs in --out to keep>]
 *
 * Which int8 weight storage is exact where: runs fp32 and each int8 model folder over the same
 * tensors (the classifier's own preprocess(), computed once here) under x64 Node and under arm64
 * Node in qemu-user, each with its runtime layer, and compares every int8 model with fp32 on the
 * same machine (mean logit cosine, top-1 agreement, top-1 on the photos' labels) and with itself
 * across machines (max |logit difference|). The qemu CPU model picks ONNX Runtime's aarch64 kernels
 * through the hardware capabilities it reports: `max` has i8mm (ummla/smmla kernels), `neoverse-n1`
 * dot product only (udot/sdot, Graviton2), `cortex-a72` neither (plain NEON). Also saves the graph
 * ONNX Runtime optimized on each target and lists where those graphs differ. Needs what
 * `npm run check:runtimes` needs for arm64 (scripts/runtimes.ts).
 */

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { cosine } from '../models/evaluate.ts';
import { cacheDir, ROOT } from '../paths.ts';
import { buildRuntimeLayer } from '../scripts/build-runtime-layer.ts';
import {
  installNode,
  nodeCommand,
  QEMU_X64,
  RUNTIMES,
  type Runtime,
  unavailable,
} from '../scripts/runtimes.ts';
import type { ArchOutputs, ArchPlan } from './int8-arch-probe.ts';

const run = promisify(execFile);
const PROBE = join(ROOT, 'lab/int8-arch-probe.ts');

export interface Target {
  id: string;
  runtime: Runtime;
  cpu: string;
}

export function parseTarget(id: string): Target {
  const [arch, cpu = arch === 'x64' ? 'host' : 'max'] = id.split(':');
  const runtime = RUNTIMES.find((r) => r.arch === arch && r.major === 22);
  if (!runtime) throw new Error(`unknown target "${id}": x64[:<qemu cpu>] or arm64[:<qemu cpu>]`);
  return { id, runtime, cpu };
}

/** Runs the probe on one target; returns its outputs. */
export async function runTarget(t: Target, plan: ArchPlan, out: string): Promise<ArchOutputs> {
  const why =
    unavailable(t.runtime) ||
    (t.runtime.arch === 'x64' &&
      t.cpu !== 'host' &&
      !existsSync(QEMU_X64) &&
      `${t.id} needs Debian qemu-user-static`);
  if (why) throw new Error(why);
  const [node, layer] = await Promise.all([
    installNode(t.runtime),
    buildRuntimeLayer(t.runtime.arch, () => {}),
  ]);
  const safe = t.id.replace(/[^a-z0-9-]/gi, '-');
  const planFile = join(out, `${safe}.plan.json`);
  const outFile = join(out, `${safe}.json`);
  await writeFile(planFile, JSON.stringify(plan));
  const [cmd, ...args] = nodeCommand(t.runtime, [node, PROBE, planFile, outFile], t.cpu);
  const { stderr } = await run(cmd as string, args, {
    cwd: out,
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', NODE_PATH: join(layer, 'nodejs/node_modules') },
    timeout: 3_600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  process.stderr.write(stderr);
  return JSON.parse(await readFile(outFile, 'utf8')) as ArchOutputs;
}

export function floatsOf(o: ArchOutputs, model: string, output?: string): Float32Array {
  const outputs = o.outputs[model] ?? {};
  const entry = output ? outputs[output] : Object.values(outputs)[0];
  if (!entry) throw new Error(`no output ${output ?? ''} for ${model}`);
  const b = Buffer.from(entry.base64, 'base64');
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

function rows(v: Float32Array, n: number): Float32Array[] {
  const per = v.length / n;
  return Array.from({ length: n }, (_, i) => v.subarray(i * per, (i + 1) * per));
}

function argmax(v: Float32Array): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if ((v[i] ?? 0) > (v[best] ?? 0)) best = i;
  return best;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return m;
}

/** Node-by-node differences of two optimized graphs (op type, domain, inputs' count, attributes). */
export async function graphDiff(a: string, b: string): Promise<string[]> {
  const { decodeModel, countOps } = await import('../models/onnx.ts');
  const ga = decodeModel(await readFile(a));
  const gb = decodeModel(await readFile(b));
  const out: string[] = [];
  const ca = countOps(ga);
  const cb = countOps(gb);
  for (const op of new Set([...Object.keys(ca), ...Object.keys(cb)]))
    if (ca[op] !== cb[op]) out.push(`${op}: ${ca[op] ?? 0} vs ${cb[op] ?? 0}`);
  type Node = NonNullable<NonNullable<typeof ga.graph>['node']>[number];
  const describe = (n: Node) =>
    `${n.domain || 'ai.onnx'}:${n.opType}(${n.input?.length}) ${(n.attribute ?? [])
      .map(
        (x) =>
          `${x.name}=${x.i ?? ''}${x.ints?.length ? x.ints.join(',') : ''}${x.s?.length ? Buffer.from(x.s).toString() : ''}`,
      )
      .sort()
      .join(' ')}`;
  const na = (ga.graph?.node ?? []).map(describe);
  const nb = (gb.graph?.node ?? []).map(describe);
  for (let i = 0; i < Math.max(na.length, nb.length); i++)
    if (na[i] !== nb[i]) out.push(`node ${i}: ${na[i] ?? '-'}  vs  ${nb[i] ?? '-'}`);
  return out;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      int8: { type: 'string', multiple: true },
      fp32: { type: 'string' },
      photos: { type: 'string' },
      count: { type: 'string', default: '50' },
      'fp32-count': { type: 'string', default: '5' },
      targets: { type: 'string', default: 'x64,arm64:max,arm64:neoverse-n1,arm64:cortex-a72' },
      out: { type: 'string', default: cacheDir('int8-arch') },
      reuse: { type: 'string', default: '' },
    },
  });
  if (!values.int8?.length || !values.fp32 || !values.photos)
    throw new Error(
      'usage: npm run lab:int8-arch -- --int8 s8=<folder> [--int8 u8=<folder>] --fp32 <onnx> --photos <dir>',
    );
  // name=<folder>: the folder's file for storage `name` when its model.json "weights" has one, else model.onnx.
  const int8 = await Promise.all(
    values.int8.map(async (spec) => {
      const [name, dir] = spec.split('=') as [string, string];
      const weights = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')).weights ?? {};
      return { name, dir: resolve(dir), file: (weights[name] as string | undefined) ?? 'model.onnx' };
    }),
  );
  const out = resolve(values.out);
  await mkdir(out, { recursive: true });
  const { preprocess } = await import('../src/classifier/preprocess.ts');
  const meta = JSON.parse(await readFile(join(int8[0]?.dir ?? '', 'model.json'), 'utf8'));
  const photoDir = resolve(values.photos);
  const files = (await readdir(photoDir))
    .filter((f) => /\.(jpe?g|png)$/i.test(f))
    .sort()
    .slice(0, Number(values.count));
  const labels = existsSync(join(photoDir, 'photos.json'))
    ? (JSON.parse(await readFile(join(photoDir, 'photos.json'), 'utf8')) as {
        file: string;
        classIndex: number;
      }[])
    : [];
  const size = meta.cropSize as number;
  const tensors = new Float32Array(files.length * 3 * size * size);
  for (const [i, f] of files.entries())
    tensors.set((await preprocess(await readFile(join(photoDir, f)), meta)).data, i * 3 * size * size);
  const tensorFile = join(out, 'tensors.f32');
  await writeFile(tensorFile, new Uint8Array(tensors.buffer));
  const targets = values.targets.split(',').map(parseTarget);
  const results: Record<string, ArchOutputs> = {};
  for (const t of targets) {
    const safe = t.id.replace(/[^a-z0-9-]/gi, '-');
    const plan: ArchPlan = {
      tensors: tensorFile,
      count: files.length,
      size,
      models: [
        // fp32 is slow under qemu (seconds an image): the first target's fp32 is the reference for
        // all; the others run it on a few photos to show it matches.
        {
          name: 'fp32',
          path: resolve(values.fp32),
          ...(t === targets[0] ? {} : { count: Number(values['fp32-count']) }),
        },
        ...int8.map((m) => ({
          name: m.name,
          path: join(m.dir, m.file),
          optimizedPath: join(out, `${safe}.${m.name}.optimized.onnx`),
        })),
      ],
    };
    const t0 = performance.now();
    const previous = join(out, `${safe}.json`);
    // --reuse x64,arm64:max: keep those targets' outputs from an earlier run over the same tensors.
    if (values.reuse.split(',').includes(t.id) && existsSync(previous)) {
      results[t.id] = JSON.parse(await readFile(previous, 'utf8')) as ArchOutputs;
      continue;
    }
    results[t.id] = await runTarget(t, plan, out);
    console.error(`${t.id}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  const n = files.length;
  const truth = files.map((f) => labels.find((l) => l.file === f)?.classIndex);
  const ref = targets[0]?.id as string;
  const lines = [
    `${n} photos from ${photoDir}; int8 against fp32 on ${ref} (fp32 on the other targets: first ${values['fp32-count']} photos); "vs ${ref}": the same model's logits on ${ref}`,
    '',
    `| target | model | mean cosine vs fp32 | min cosine | top-1 agreement with fp32 | top-1 (labels) | max abs logit diff vs ${ref} | identical to ${ref} | ms/image |`,
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
  ];
  for (const t of targets) {
    const r = results[t.id] as ArchOutputs;
    const fp32 = rows(floatsOf(results[ref] as ArchOutputs, 'fp32'), n);
    for (const name of ['fp32', ...int8.map((m) => m.name)]) {
      const v = floatsOf(r, name);
      const m = rows(v, v.length / (fp32[0]?.length ?? 1));
      const cos = m.map((x, i) => cosine(x, fp32[i] as Float32Array));
      const agree = m.filter((x, i) => argmax(x) === argmax(fp32[i] as Float32Array)).length;
      const correct = m.filter((x, i) => argmax(x) === truth[i]).length;
      const other = floatsOf(results[ref] as ArchOutputs, name).subarray(0, v.length);
      const diff = maxAbsDiff(v, other);
      const k = m.length;
      lines.push(
        `| ${t.id} | ${name} | ${(cos.reduce((a, b) => a + b, 0) / k).toFixed(5)} | ${Math.min(...cos).toFixed(4)} | ${agree}/${k} | ${correct}/${k} | ${diff.toFixed(4)} | ${diff === 0 ? 'yes' : 'no'} | ${r.ms[name]?.toFixed(0)} |`,
      );
    }
  }
  const golden = files.findIndex((f) => f.startsWith('207-'));
  if (golden >= 0) {
    lines.push('', `first two logits of ${files[golden]}:`, '');
    for (const t of targets)
      for (const name of ['fp32', ...int8.map((m) => m.name)]) {
        const v = floatsOf(results[t.id] as ArchOutputs, name);
        const width = floatsOf(results[ref] as ArchOutputs, 'fp32').length / n;
        const row = v.subarray(golden * width, golden * width + 2);
        if (row.length === 2) lines.push(`- ${t.id} ${name}: ${row[0]?.toFixed(3)} / ${row[1]?.toFixed(3)}`);
      }
  }
  lines.push('', 'optimized graphs against the first target:', '');
  for (const t of targets.slice(1))
    for (const m of int8) {
      const safe = (id: string) => id.replace(/[^a-z0-9-]/gi, '-');
      const a = join(out, `${safe(ref)}.${m.name}.optimized.onnx`);
      const b = join(out, `${safe(t.id)}.${m.name}.optimized.onnx`);
      const d = await graphDiff(a, b);
      lines.push(
        `- ${t.id} ${m.name}: ${d.length ? `${d.length} differences: ${d.slice(0, 6).join('; ')}` : 'identical'}`,
      );
    }
  const report = lines.join('\n');
  await writeFile(join(out, 'report.md'), `${report}\n`);
  console.log(report);
  console.log(`\n(${basename(out)}/report.md)`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err: Error) => {
    console.error(`lab:int8-arch: ${err.message}`);
    process.exit(1);
  });
}
