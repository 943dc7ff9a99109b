/**
 * ONNX Runtime's own profile of a model: the kernel time of each node of the optimized graph (the
 * ops ONNX Runtime runs after its graph optimizations), per run, over N runs of one input after 5
 * warm-up runs. Used by `npm run bench` (the embedding's added nodes) and `npm run lab:ops`.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sessionOptions } from '../src/classifier/classifier.ts';
import { ort } from '../src/classifier/native.ts';

export const WARM_UP = 5;

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

/** Milliseconds per run by op type, from one profiled session over `runs` runs of a size x size input. */
export async function profileOps(
  file: string | Uint8Array,
  size: number,
  runs: number,
  threads: number,
): Promise<Map<string, number>> {
  const byOp = new Map<string, number>();
  for (const k of await profileKernels(file, size, runs, threads))
    byOp.set(k.op, (byOp.get(k.op) ?? 0) + k.ms);
  return byOp;
}

/**
 * Milliseconds per run of each node of the optimized graph (name and op type), from one profiled
 * session over `runs` runs of a size x size input.
 */
export async function profileKernels(
  file: string | Uint8Array,
  size: number,
  runs: number,
  threads: number,
): Promise<{ node: string; op: string; ms: number }[]> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-ops-'));
  try {
    const session = await ort.InferenceSession.create(file as Uint8Array, {
      ...sessionOptions(threads, false),
      enableProfiling: true,
      profileFilePrefix: join(dir, 'profile'),
    });
    const [inputName] = session.inputNames as [string];
    // A fixed, image-like input: the kernels' time does not depend on the values.
    const x = new Float32Array(3 * size * size).map((_, i) => Math.sin(i * 0.37) * 1.5);
    const feed = { [inputName]: new ort.Tensor('float32', x, [1, 3, size, size]) };
    for (let i = 0; i < WARM_UP + runs; i++) await session.run(feed);
    session.endProfiling();
    await session.release();
    const [profile] = await readdir(dir);
    if (!profile)
      throw new Error(`ONNX Runtime wrote no profile for ${typeof file === 'string' ? file : 'a model'}`);
    const events = JSON.parse(await readFile(join(dir, profile), 'utf8')) as ProfileEvent[];
    // One kernel-time event per node and run, in run order: the first WARM_UP of each node are dropped.
    const seen = new Map<string, number>();
    const byNode = new Map<string, { node: string; op: string; ms: number }>();
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      const count = (seen.get(e.name) ?? 0) + 1;
      seen.set(e.name, count);
      if (count <= WARM_UP) continue;
      const node = e.name.slice(0, -'_kernel_time'.length);
      const entry = byNode.get(node) ?? { node, op: e.args?.op_name ?? 'unknown', ms: 0 };
      entry.ms += e.dur / 1000 / runs;
      byNode.set(node, entry);
    }
    return [...byNode.values()];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
