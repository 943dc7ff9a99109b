/**
 * The embedding output (issue 25, models/embedding.ts), part of `npm run bench`:
 * - its cost: inference of the served storage with the embedding output against the same graph
 *   without it (removeOutput), two ONNX Runtime sessions at 1 thread timed round-robin on one
 *   input, medians (target: under 3% of inference);
 * - how close int8 is to fp32: the cosine of the int8 and fp32 embeddings of each of ../shared's 50
 *   photos (target: 0.98 mean).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { removeOutput } from '../models/embedding.ts';
import { decodeModel, encodeModel } from '../models/onnx.ts';
import { SHARED_FILES } from '../paths.ts';
import { createClassifier, sessionOptions } from '../src/classifier/classifier.ts';
import { dot } from '../src/classifier/math.ts';
import { ort } from '../src/classifier/native.ts';
import { preprocess } from '../src/classifier/preprocess.ts';
import type { WeightRequest } from '../src/classifier/weights.ts';
import { median } from './cold-start.ts';
import { profileKernels } from './profile.ts';

export interface EmbeddingSet {
  model: string;
  /** The int8 folder; its storage is the one `auto` serves on this CPU. */
  dir: string;
  /** The fp32 folder and storage to compare the embedding with. */
  fp32: { dir: string; weights: WeightRequest };
}

export interface EmbeddingRow {
  model: string;
  storage: string;
  dimension: number;
  withoutMs: number;
  withMs: number;
  /** (with - without) / without */
  extra: number;
  /** ONNX Runtime's kernel time of the nodes the embedding added, ms per run, and its share of all kernels. */
  kernelMs: number;
  kernelShare: number;
  cosine: { mean: number; min: number; images: number } | null;
}

const photoFiles = async (): Promise<string[]> =>
  existsSync(SHARED_FILES.photos)
    ? (
        JSON.parse(await readFile(join(SHARED_FILES.photos, 'photos.json'), 'utf8')) as { file: string }[]
      ).map((p) => join(SHARED_FILES.photos, p.file))
    : [];

/** Median ms of each session, run round-robin (`rounds` x 3 runs each) on the same input. */
async function roundRobin(
  sessions: { session: InferenceSession; fetches: string[] }[],
  feeds: Record<string, Tensor>,
  rounds: number,
): Promise<number[]> {
  const times = sessions.map((): number[] => []);
  for (const s of sessions) for (let i = 0; i < 3; i++) await s.session.run(feeds, s.fetches);
  for (let r = 0; r < rounds; r++)
    for (const [i, s] of sessions.entries())
      for (let k = 0; k < 3; k++) {
        const t = performance.now();
        await s.session.run(feeds, s.fetches);
        times[i]?.push(performance.now() - t);
      }
  return times.map(median);
}

export async function embeddingBench(
  sets: EmbeddingSet[],
  runs: number,
  log: (line: string) => void,
): Promise<EmbeddingRow[]> {
  const photos = await photoFiles();
  log('## The embedding output (issue 25)\n');
  log(
    'Every classification also returns the image embedding (the pooled features before the classifier layer) from the same inference. ' +
      '"without" / "with": inference medians of the served storage (MODEL_WEIGHTS=auto) without and with the embedding output, ' +
      `two sessions at 1 thread timed round-robin on one photo (${Math.max(10, runs)} rounds of 3 runs); on a busy machine this ` +
      'difference is mostly noise, so "added nodes" gives ONNX Runtime\'s own profile: the kernel time of the nodes the embedding ' +
      'adds (DequantizeLinear, Flatten) per run and its share of all kernels. ' +
      `"vs fp32": the cosine of the int8 and fp32 embeddings of ${photos.length || 'no'} photos of ../shared (mean, lowest).\n`,
  );
  log(
    "| model | weights | dimension | without ms | with ms | extra | added nodes' kernel time (share) | vs fp32: mean cosine | lowest |",
  );
  log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const rows: EmbeddingRow[] = [];
  for (const set of sets) {
    const int8 = await createClassifier(set.dir, { threads: 1 });
    const embedding = int8.folder.meta.embedding;
    if (!embedding) {
      log(`| ${set.model} | ${int8.weights.storage ?? int8.weights.file} | none | | | | | | |`);
      await int8.release();
      continue;
    }
    const file = join(set.dir, int8.weights.file);
    let cosine: EmbeddingRow['cosine'] = null;
    if (photos.length > 0) {
      const fp32 = await createClassifier(set.fp32.dir, { threads: 1, weights: set.fp32.weights });
      const cosines: number[] = [];
      for (const photo of photos) {
        const bytes = await readFile(photo);
        const [a, b] = [(await int8.classify(bytes)).embedding, (await fp32.classify(bytes)).embedding];
        if (a && b) cosines.push(dot(a, b));
      }
      await fp32.release();
      cosine = {
        mean: cosines.reduce((x, y) => x + y, 0) / cosines.length,
        min: Math.min(...cosines),
        images: cosines.length,
      };
    }
    const { meta } = int8.folder;
    await int8.release();

    const withBytes = await readFile(file);
    const withoutBytes = encodeModel(removeOutput(decodeModel(withBytes), embedding.output));
    const scores = meta.outputName ?? decodeModel(withBytes).graph?.output?.[0]?.name ?? 'output';
    const options = sessionOptions(1, false);
    const [withSession, withoutSession] = await Promise.all([
      ort.InferenceSession.create(withBytes, options),
      ort.InferenceSession.create(withoutBytes, options),
    ]);
    const image = photos[0] ? await readFile(photos[0]) : undefined;
    const planes = image
      ? (await preprocess(image, meta)).data
      : new Float32Array(3 * meta.cropSize * meta.cropSize);
    const feeds = {
      [meta.inputName]: new ort.Tensor('float32', planes, [1, 3, meta.cropSize, meta.cropSize]),
    };
    const [withoutMs, withMs] = await roundRobin(
      [
        { session: withoutSession, fetches: [scores] },
        { session: withSession, fetches: [scores, embedding.output] },
      ],
      feeds,
      Math.max(10, runs),
    );
    await withSession.release();
    await withoutSession.release();
    // The wall-clock difference drowns in noise on a busy machine: ONNX Runtime's profile says what
    // the added nodes (named "<output>_...", models/embedding.ts) cost, per run.
    const kernels = await profileKernels(withBytes, meta.cropSize, Math.max(10, runs), 1);
    const kernelMs = kernels
      .filter((k) => k.node.startsWith(`${embedding.output}_`))
      .reduce((sum, k) => sum + k.ms, 0);
    const allMs = kernels.reduce((sum, k) => sum + k.ms, 0);
    const row: EmbeddingRow = {
      model: set.model,
      storage: int8.weights.storage ?? int8.weights.file,
      dimension: embedding.dimension,
      withoutMs: withoutMs as number,
      withMs: withMs as number,
      extra: (withMs as number) / (withoutMs as number) - 1,
      kernelMs,
      kernelShare: kernelMs / allMs,
      cosine,
    };
    rows.push(row);
    const pct = `${row.extra >= 0 ? '+' : ''}${(100 * row.extra).toFixed(1)}%`;
    log(
      `| ${row.model} | ${row.storage} | ${row.dimension} | ${row.withoutMs.toFixed(2)} | ${row.withMs.toFixed(2)} | ${pct} | ${(1000 * row.kernelMs).toFixed(1)} µs (${(100 * row.kernelShare).toFixed(2)}%) | ${
        cosine ? `${cosine.mean.toFixed(4)} | ${cosine.min.toFixed(4)}` : 'n/a | n/a'
      } |`,
    );
  }
  log('');
  return rows;
}
