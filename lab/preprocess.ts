/**
 * npm run lab:preprocess -- [--runs N] [--processes K] [--baseline <git ref>]
 *
 * Preprocessing (decode, exact resize, crop, normalise: src/classifier/preprocess.ts) of 0.15 MP and
 * 0.3 MP JPEGs, the sizes where the classify path logged 18-36 ms of decodeMs on an AVX2 host
 * (issue 14). Two views, each medians of CPU time (process.cpuUsage: every thread of the process,
 * robust on a shared machine) and wall time:
 * - steady state: `--runs` calls per image in this process, after warm-up;
 * - first requests: `--processes` fresh node processes, each creating the classifier as a Lambda
 *   container's init does, then timing calls 1, 2, 3 and 10 on each image.
 * With --baseline, src/ of that commit (git archive into .cache/bench) is measured in the same run,
 * interleaved call by call and process by process, so before/after ratios compare like with like.
 * First, the exact resize's and the planes' loops alone, WebAssembly (src/classifier/resize.ts)
 * against the JavaScript they replaced (test/helpers/pil-resize-reference.ts), interleaved, at
 * 0.15, 0.3 and 1.2 MP (the 224x224 centre crop of the photo resized to each size).
 * Then where preprocess()'s CPU time goes, step by step (`steps`), for JPEG, PNG and WebP at both sizes.
 * Needs ../shared (its photo and MobileNetV2); says so and stops without it.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { median } from '../bench/cold-start.ts';
import { importModel } from '../models/import.ts';
import { cacheDir, ROOT, SHARED, SHARED_FILES } from '../paths.ts';
import { INT8_FLAGS, readCpuInfo } from '../src/classifier/cpu.ts';
import { roundHalfEven } from '../src/classifier/math.ts';
import { IMAGENET_DEFAULTS } from '../src/classifier/model-folder.ts';
import { sharp } from '../src/classifier/native.ts';
import {
  decodeDirectly,
  decodeWindow,
  openImage,
  preprocess,
  resizedSize,
} from '../src/classifier/preprocess.ts';
import { pilResize, pilResizePlan, toNormalisedPlanes } from '../src/classifier/resize.ts';
import { pilResizeReference, toNormalisedPlanesReference } from '../test/helpers/pil-resize-reference.ts';

const run = promisify(execFile);
const CACHE = cacheDir('bench');
const SIZES = [0.15, 0.3];
const CALLS_REPORTED = [1, 2, 3, 10];

type Preprocess = (bytes: Uint8Array, spec: typeof IMAGENET_DEFAULTS) => Promise<unknown>;
interface Tree {
  name: string;
  src: string;
}
interface Sample {
  cpuMs: number;
  wallMs: number;
}

const fmt = (ms: number) => ms.toFixed(ms < 10 ? 2 : 1);

/** A JPEG of about `megapixels` (4:3) from a real photo, at quality 95. */
async function jpegOf(megapixels: number): Promise<{ path: string; bytes: Buffer; label: string }> {
  const width = Math.round(Math.sqrt((megapixels * 1e6 * 4) / 3));
  const height = Math.round((width * 3) / 4);
  const bytes = await sharp(join(SHARED_FILES.photos, '207-Golden-Retriever.jpg'))
    .resize(width, height, { fit: 'fill' })
    .jpeg({ quality: 95 })
    .toBuffer();
  const path = join(CACHE, `preprocess-${megapixels}mp.jpg`);
  await writeFile(path, bytes);
  return {
    path,
    bytes,
    label: `${megapixels} MP (${width}x${height}, ${Math.round(bytes.length / 1024)} KB)`,
  };
}

/** src/ of a commit, extracted under .cache/bench (node_modules resolve from the repository root). */
function baselineTree(ref: string): Tree {
  const sha = execFileSync('git', ['rev-parse', '--short', ref], { cwd: ROOT, encoding: 'utf8' }).trim();
  const dir = join(CACHE, `baseline-${sha}`);
  if (!existsSync(join(dir, 'src')))
    execFileSync('sh', ['-c', `mkdir -p "${dir}" && git archive ${sha} src | tar -x -C "${dir}"`], {
      cwd: ROOT,
    });
  return { name: `baseline ${ref} (${sha})`, src: join(dir, 'src') };
}

/** CPU ms of one synchronous call. */
function cpuMs(fn: () => unknown): number {
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** The exact path's plan for a width x height image (ImageNet transform). */
function planFor(width: number, height: number) {
  const crop = IMAGENET_DEFAULTS.cropSize;
  const size = resizedSize(width, height, IMAGENET_DEFAULTS.resizeShorter);
  return pilResizePlan(width, height, size.width, size.height, {
    left: roundHalfEven((size.width - crop) / 2),
    top: roundHalfEven((size.height - crop) / 2),
    width: crop,
    height: crop,
  });
}

/**
 * Where preprocess()'s time goes: the whole call, then each of its steps alone on the same file
 * (the decode as preprocess() does it: libjpeg-turbo or png.ts where they take the file, else
 * sharp's decode of the window; the plan, the exact resize, the planes), `runs` interleaved rounds, JPEG, PNG and WebP (made from the photo as the peers
 * benchmark makes them) at 0.15 and 0.3 MP. CPU ms, medians.
 */
async function steps(runs: number): Promise<void> {
  console.log(`## Where preprocess() goes: each step alone, ${runs} interleaved rounds, CPU ms\n`);
  console.log('| image | preprocess() | decoder | decode | plan | exact resize | planes | the rest |');
  console.log('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |');
  const pixels = IMAGENET_DEFAULTS.cropSize ** 2;
  for (const megapixels of SIZES)
    for (const format of ['jpeg', 'png', 'webp'] as const) {
      const width = Math.round(Math.sqrt((megapixels * 1e6 * 4) / 3));
      const height = Math.round((width * 3) / 4);
      const scaled = sharp(join(SHARED_FILES.photos, '207-Golden-Retriever.jpg')).resize(width, height, {
        fit: 'fill',
      });
      const bytes = await (format === 'jpeg'
        ? scaled.jpeg({ quality: 90 })
        : format === 'png'
          ? scaled.png({ compressionLevel: 6 })
          : scaled.webp({ quality: 90 })
      ).toBuffer();
      const plan = planFor(width, height);
      const direct = decodeDirectly(bytes, format, width * height);
      const decoder = direct ? (format === 'jpeg' ? 'libjpeg-turbo' : 'png.ts') : 'sharp';
      const decode = direct
        ? async () => decodeDirectly(bytes, format, width * height)
        : () => decodeWindow(openImage(bytes, width * height).timeout({ seconds: 10 }), plan.window);
      const window = await decodeWindow(openImage(bytes, false), plan.window);
      const rgb = pilResize(window, plan);
      const stepsOf: (() => unknown)[] = [
        () => preprocess(bytes, IMAGENET_DEFAULTS),
        decode,
        () => planFor(width, height),
        () => pilResize(window, plan),
        () => toNormalisedPlanes(rgb, pixels, IMAGENET_DEFAULTS),
      ];
      const t = stepsOf.map((): number[] => []);
      for (let r = -5; r < runs; r++)
        for (const [k, step] of stepsOf.entries()) {
          const start = process.cpuUsage();
          await step();
          const used = process.cpuUsage(start);
          if (r >= 0) t[k]?.push((used.user + used.system) / 1000);
        }
      const [whole, dec, plans, resize, planes] = t.map((x) => median(x)) as number[] as [
        number,
        number,
        number,
        number,
        number,
      ];
      console.log(
        `| ${megapixels} MP ${format.toUpperCase()} (${width}x${height}) | ${fmt(whole)} | ${decoder} | ${fmt(dec)} (${Math.round((100 * dec) / whole)}%) | ${fmt(plans)} | ${fmt(resize)} | ${fmt(planes)} | ${fmt(whole - dec - plans - resize - planes)} |`,
      );
    }
  console.log('');
}

/** The resize and planes loops alone, JavaScript against WebAssembly, `runs` interleaved rounds per size. */
async function loops(runs: number): Promise<void> {
  console.log(`## The loops alone: ${runs} interleaved rounds, CPU ms\n`);
  console.log('| input | resize JS | resize WASM | ratio | planes JS | planes WASM | ratio |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  const crop = IMAGENET_DEFAULTS.cropSize;
  for (const megapixels of [...SIZES, 1.2]) {
    const width = Math.round(Math.sqrt((megapixels * 1e6 * 4) / 3));
    const height = Math.round((width * 3) / 4);
    const rgb = await sharp(join(SHARED_FILES.photos, '207-Golden-Retriever.jpg'))
      .resize(width, height, { fit: 'fill' })
      .raw()
      .toBuffer();
    const plan = planFor(width, height);
    const source = { left: 0, top: 0, width };
    const out = pilResize(rgb, plan, source);
    if (!Buffer.from(out).equals(Buffer.from(pilResizeReference(rgb, plan, source))))
      throw new Error(`the WebAssembly resize differs from the JavaScript one at ${width}x${height}`);
    const t = [[], [], [], []] as number[][];
    for (let r = 0; r < runs; r++) {
      t[0]?.push(cpuMs(() => pilResizeReference(rgb, plan, source)));
      t[1]?.push(cpuMs(() => pilResize(rgb, plan, source)));
      t[2]?.push(cpuMs(() => toNormalisedPlanesReference(out, crop * crop, IMAGENET_DEFAULTS)));
      t[3]?.push(cpuMs(() => toNormalisedPlanes(out, crop * crop, IMAGENET_DEFAULTS)));
    }
    const [js, wasm, planesJs, planesWasm] = t.map((x) => median(x)) as [number, number, number, number];
    console.log(
      `| ${megapixels} MP (${width}x${height}) | ${fmt(js)} | ${fmt(wasm)} | ${(wasm / js).toFixed(2)} | ${fmt(planesJs)} | ${fmt(planesWasm)} | ${(planesWasm / planesJs).toFixed(2)} |`,
    );
  }
  console.log('');
}

async function steadyState(trees: Tree[], images: Buffer[], runs: number): Promise<Sample[][][]> {
  const fns: Preprocess[] = [];
  for (const tree of trees)
    fns.push((await import(join(tree.src, 'classifier/preprocess.ts'))).preprocess as Preprocess);
  const samples = trees.map(() => images.map((): Sample[] => []));
  for (const fn of fns)
    for (const image of images) for (let i = 0; i < 5; i++) await fn(image, IMAGENET_DEFAULTS);
  for (let r = 0; r < runs; r++)
    for (const [t, fn] of fns.entries())
      for (const [i, image] of images.entries()) {
        const cpu = process.cpuUsage();
        const start = performance.now();
        await fn(image, IMAGENET_DEFAULTS);
        const used = process.cpuUsage(cpu);
        samples[t]?.[i]?.push({ cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - start });
      }
  return samples;
}

async function firstRequests(
  trees: Tree[],
  modelDir: string,
  imagePaths: string[],
  processes: number,
): Promise<{ initMs: number[]; samples: Sample[][][] }[]> {
  const calls = Math.max(...CALLS_REPORTED);
  const results = trees.map(() => ({ initMs: [] as number[], samples: [] as Sample[][][] }));
  for (let p = 0; p < processes; p++)
    for (const [t, tree] of trees.entries()) {
      const { stdout } = await run(
        process.execPath,
        [
          '--import',
          'tsx',
          join(ROOT, 'lab/preprocess-child.ts'),
          tree.src,
          modelDir,
          String(calls),
          ...imagePaths,
        ],
        { cwd: ROOT, env: { ...process.env, MODEL_THREADS: '1' } },
      );
      const out = JSON.parse(stdout) as { initMs: number; samples: Sample[][] };
      results[t]?.initMs.push(out.initMs);
      results[t]?.samples.push(out.samples);
    }
  return results;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '60' },
      processes: { type: 'string', default: '7' },
      baseline: { type: 'string' },
    },
  });
  if (!existsSync(SHARED_FILES.fp32)) {
    console.log(`${SHARED} is absent: lab:preprocess needs its photo and MobileNetV2; nothing measured`);
    return;
  }
  await mkdir(CACHE, { recursive: true });
  const runs = Number(values.runs);
  const processes = Number(values.processes);
  const trees: Tree[] = [{ name: 'this tree', src: join(ROOT, 'src') }];
  if (values.baseline) trees.unshift(baselineTree(values.baseline));
  const images = await Promise.all(SIZES.map(jpegOf));
  const modelDir = join(CACHE, 'mobilenetv2-fp32');
  if (!existsSync(join(modelDir, 'model.json')))
    await importModel({
      model: SHARED_FILES.fp32,
      labels: SHARED_FILES.labels,
      name: 'mobilenetv2-fp32',
      out: modelDir,
    });

  const cpu = readCpuInfo();
  const flags = INT8_FLAGS.filter((f) => cpu.flags?.has(f));
  console.log(`# Preprocessing benchmark (${new Date().toISOString()})\n`);
  console.log(
    `CPU: ${cpu.model ?? 'unknown'} (${cpu.arch}; flags: ${flags.join(', ') || 'none listed'}; ${availableParallelism()} cores; load average ${(await readFile('/proc/loadavg', 'utf8').catch(() => '?')).split(' ').slice(0, 3).join(' ')}).`,
  );
  console.log(
    `Images: ${images.map((i) => i.label).join(', ')}. Medians; CPU = user + system time of the whole process.\n`,
  );

  await loops(Math.max(runs, 100));
  await steps(runs);
  const steady = await steadyState(
    trees,
    images.map((i) => i.bytes),
    runs,
  );
  console.log(`## Steady state: ${runs} calls per image, interleaved\n`);
  console.log('| tree | image | CPU ms | wall ms |\n| --- | --- | ---: | ---: |');
  for (const [t, tree] of trees.entries())
    for (const [i, image] of images.entries()) {
      const s = steady[t]?.[i] ?? [];
      console.log(
        `| ${tree.name} | ${image.label} | ${fmt(median(s.map((x) => x.cpuMs)))} | ${fmt(median(s.map((x) => x.wallMs)))} |`,
      );
    }

  const first = await firstRequests(
    trees,
    modelDir,
    images.map((i) => i.path),
    processes,
  );
  console.log(
    `\n## First requests: ${processes} fresh processes per tree (classifier init, then call 1, 2, 3, ..., 10), interleaved\n`,
  );
  console.log(
    `| tree | image | init ms | ${CALLS_REPORTED.map((c) => `call ${c} CPU ms | call ${c} wall ms`).join(' | ')} |`,
  );
  console.log(`| --- | --- | ---: | ${CALLS_REPORTED.map(() => '---: | ---:').join(' | ')} |`);
  for (const [t, tree] of trees.entries())
    for (const [i, image] of images.entries()) {
      const r = first[t];
      const cells = CALLS_REPORTED.map((c) => {
        const s = (r?.samples ?? []).map((p) => p[i]?.[c - 1] as Sample);
        return `${fmt(median(s.map((x) => x.cpuMs)))} | ${fmt(median(s.map((x) => x.wallMs)))}`;
      });
      console.log(
        `| ${tree.name} | ${image.label} | ${fmt(median(r?.initMs ?? []))} | ${cells.join(' | ')} |`,
      );
    }
}

main().catch((err: Error) => {
  console.error(`lab:preprocess: ${err.stack ?? err.message}`);
  process.exit(1);
});
