/**
 * model:build in process (buildModel): pinned downloads (a local HTTP server stands in for GitHub),
 * clear errors without network, a full --synthetic resnet18 build whose folder the classifier loads
 * and runs, with both weight storages carrying the same quantized values; and the CLI's flags.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuildOptions, buildModel, parseBuildArgs } from '../../models/build.ts';
import { syntheticImages } from '../../models/calibrate.ts';
import { compareStorages } from '../../models/storage.ts';
import { createClassifier } from '../../src/classifier/classifier.ts';
import { loadModelFolder, verifyModelHash } from '../../src/classifier/model-folder.ts';

const CLASSIFY = join(import.meta.dirname, '../../tools/classify/cli.ts');
const LABELS = Array.from({ length: 1000 }, (_, i) => `class ${i}`);
const LABELS_BYTES = Buffer.from(JSON.stringify(LABELS));

let dir: string;
let server: Server;
let base: string;

const build = (options: BuildOptions) =>
  buildModel({ lockFile: join(dir, 'lock.json'), cacheDir: join(dir, 'cache'), log: () => {}, ...options });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'model-build-'));
  server = createServer((req, res) => {
    if (req.url === '/labels.json') res.end(LABELS_BYTES);
    else res.writeHead(404).end();
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('model:build sources', () => {
  it('pins size and sha256 of an unpinned download on first use and refuses a changed file afterwards', async () => {
    await writeFile(join(dir, 'lock.json'), JSON.stringify({ files: {} }));
    const url = `${base}/labels.json`;
    // The labels come first; the missing source then stops the build before any heavy work.
    await expect(build({ source: join(dir, 'missing.onnx'), calibration: dir, labels: url })).rejects.toThrow(
      /missing\.onnx/,
    );
    const sha = createHash('sha256').update(LABELS_BYTES).digest('hex');
    const lock = JSON.parse(await readFile(join(dir, 'lock.json'), 'utf8'));
    expect(lock.files[url]).toEqual({ bytes: LABELS_BYTES.length, sha256: sha });

    await writeFile(join(dir, 'lock.json'), JSON.stringify({ files: { [url]: '0'.repeat(64) } }));
    await rm(join(dir, 'cache'), { recursive: true, force: true });
    await expect(build({ source: join(dir, 'missing.onnx'), calibration: dir, labels: url })).rejects.toThrow(
      `sha256 mismatch for ${url}: got ${sha}`,
    );
  });

  it('says what to pass instead when a download fails', async () => {
    await writeFile(join(dir, 'lock.json'), JSON.stringify({ files: {} }));
    const r = build({ synthetic: 'resnet18', labels: `${base}/nothing-here.json` });
    await expect(r).rejects.toThrow('HTTP 404');
    await expect(r).rejects.toThrow('--labels ../shared/data/imagenet-simple-labels.json');
  });

  it('parses the CLI flags: no source flag means the default trained model, both storages', () => {
    expect(parseBuildArgs([])).toEqual({
      calibrationCount: 25,
      method: 'percentile',
      percentile: 99.99,
      weights: 'both',
    });
    expect(parseBuildArgs(['--synthetic', 'resnet18', '--weights', 'mixed'])).toMatchObject({
      synthetic: 'resnet18',
      weights: 'mixed',
    });
    expect(parseBuildArgs(['--without-embedding'])).toMatchObject({ withoutEmbedding: true });
    expect(parseBuildArgs(['--help'])).toBeUndefined();
  });

  it('rejects bad flags before any work', async () => {
    await expect(build({ synthetic: 'resnet18', source: 'x.onnx' })).rejects.toThrow('not both');
    await expect(build({ weights: 'u8,u4' })).rejects.toThrow(
      '--weights takes both or a comma-separated list of s8, u8, s8-7bit, mixed, fp32; got "u4"',
    );
    await expect(build({ weights: 'fp32' })).rejects.toThrow('--weights needs an int8 storage');
  });
});

describe('model:build --synthetic resnet18', () => {
  it('writes a folder with both weight storages (same quantized values) that the classifier loads and runs', async () => {
    await writeFile(join(dir, 'labels.json'), LABELS_BYTES);
    await writeFile(join(dir, 'lock.json'), JSON.stringify({ files: {} }));
    const out = join(dir, 'resnet18-synthetic');
    const result = await build({ synthetic: 'resnet18', labels: join(dir, 'labels.json'), out });
    expect(result.rows).toContainEqual(['float Conv/Gemm/MatMul left', '0']);
    expect(result.rows).toContainEqual(['labels', 'MEANINGLESS (synthetic random weights)']);
    const folder = await loadModelFolder(out);
    await verifyModelHash(folder);
    const meta = folder.meta;
    expect(meta.name).toBe('resnet18-synthetic');
    expect(meta.labelsMeaningful).toBe(false);
    expect(meta.weights).toEqual({ s8: 'model.onnx', u8: 'model.u8.onnx' });
    // The embedding output (the pooled features) leaves ORT's int8 pooling and QGemm fused.
    expect(meta.quantization).toMatchObject({
      weightEncoding: 's8',
      optimizedOps: { QLinearConv: 20, QLinearGlobalAveragePool: 1, QGemm: 1 },
    });
    expect(meta.embedding).toEqual({
      output: 'embedding',
      dimension: 512,
      pooling: 'GlobalAveragePool_avgpool',
    });
    expect(result.rows).toContainEqual([
      'embedding',
      '512 numbers in output "embedding" (GlobalAveragePool_avgpool)',
    ]);
    const agree = meta.agreement as {
      meanLogitCosine: number;
      byStorage: Record<string, { meanLogitCosine: number }>;
    };
    expect(agree.meanLogitCosine).toBeGreaterThan(0.98);
    expect(Object.keys(agree.byStorage)).toEqual(['s8', 'u8']);
    expect(meta.fp32Cache).toBeTruthy();

    const [s8, u8] = await Promise.all([
      readFile(join(out, 'model.onnx')),
      readFile(join(out, 'model.u8.onnx')),
    ]);
    const same = compareStorages(new Uint8Array(s8), new Uint8Array(u8));
    expect(same.differences).toEqual([]);
    expect(same.reencoded).toBe(42);
    expect(meta.sha256).toBe(createHash('sha256').update(s8).digest('hex'));
    expect(meta.weightsSha256).toEqual({ u8: createHash('sha256').update(u8).digest('hex') });

    const classifier = await createClassifier(out, { threads: 1 });
    try {
      const [image] = await syntheticImages(1, 99);
      const r = await classifier.classify(image as Uint8Array, { topK: 3 });
      expect(r.labels).toHaveLength(3);
      expect(r.labels[0]?.label).toMatch(/^class \d+$/);
      expect(r.embedding).toHaveLength(512);
      expect(Math.hypot(...(r.embedding ?? []))).toBeCloseTo(1, 5);
    } finally {
      await classifier.release();
    }
  }, 180_000); // a whole ResNet-18 build (two storages, calibration, checks): about 30 s, more on a loaded machine

  it('a list (--weights mixed,u8,fp32): model.onnx is the first int8 storage, each is named, MODEL_WEIGHTS=fp32 serves fp32', async () => {
    // The fp32 graph the build above cached, calibrated on two generated photos: no regeneration.
    await writeFile(join(dir, 'lock.json'), JSON.stringify({ files: {} }));
    await mkdir(join(dir, 'photos'), { recursive: true });
    for (const [i, image] of (await syntheticImages(2, 5)).entries())
      await writeFile(join(dir, 'photos', `${i}.png`), image);
    const out = join(dir, 'resnet18-u8');
    await build({
      source: join(dir, 'cache', 'resnet18-synthetic-fp32.onnx'),
      labels: join(dir, 'labels.json'),
      calibration: join(dir, 'photos'),
      out,
      weights: 'mixed,u8,fp32',
    });
    const folder = await loadModelFolder(out);
    await verifyModelHash(folder);
    const meta = folder.meta;
    expect(meta.weights).toEqual({ mixed: 'model.onnx', u8: 'model.u8.onnx', fp32: 'model.fp32.onnx' });
    expect(meta.quantization).toMatchObject({ weightEncoding: 'mixed' });
    expect(Object.keys((meta.agreement as { byStorage: object }).byStorage)).toEqual(['mixed', 'u8']);
    // The calibration set by its name and photos, no path of this machine anywhere in model.json.
    expect(meta.quantization).toMatchObject({ calibration: { set: 'photos', images: ['0.png', '1.png'] } });
    expect(await readFile(join(out, 'model.json'), 'utf8')).not.toContain(dir);

    const photo = join(dir, 'photos', '0.png');
    const classify = (weights: string) =>
      JSON.parse(
        execFileSync(process.execPath, ['--import', 'tsx', CLASSIFY, '--json', '--model', out, photo], {
          env: { ...process.env, MODEL_WEIGHTS: weights },
          encoding: 'utf8',
        }),
      );
    const fp32 = classify('fp32');
    expect(fp32).toMatchObject({ weights: 'fp32', file: photo });
    expect(fp32.labels[0].label).toMatch(/^class \d+$/);
  }, 120_000);
});
