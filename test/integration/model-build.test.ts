/**
 * npm run model:build end to end, in a child process: pinned downloads (a local HTTP server stands in
 * for GitHub), clear errors without network, and a full --synthetic resnet18 build whose folder the
 * classifier loads and runs.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticImages } from '../../models/calibrate.ts';
import { createClassifier } from '../../src/classifier/classifier.ts';
import { loadModelFolder, verifyModelHash } from '../../src/classifier/model-folder.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const LABELS = Array.from({ length: 1000 }, (_, i) => `class ${i}`);
const LABELS_BYTES = Buffer.from(JSON.stringify(LABELS));

let dir: string;
let server: Server;
let base: string;

function build(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'models/build.ts', ...args], {
      cwd: ROOT,
      env: {
        ...process.env,
        MODEL_CACHE_DIR: join(dir, 'cache'),
        MODEL_SOURCES_LOCK: join(dir, 'lock.json'),
        ...env,
      },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => done({ code: code ?? -1, out }));
  });
}

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
  it('pins the sha256 of a download on first use and refuses a changed file afterwards', async () => {
    await writeFile(join(dir, 'lock.json'), JSON.stringify({ files: {} }));
    const url = `${base}/labels.json`;
    // The labels come first; the missing source then stops the build (exit 1) before any heavy work.
    const first = await build(['--source', join(dir, 'missing.onnx'), '--calibration', dir, '--labels', url]);
    expect(first.code).toBe(1);
    expect(first.out).toContain('downloading labels');
    const sha = createHash('sha256').update(LABELS_BYTES).digest('hex');
    expect(JSON.parse(await readFile(join(dir, 'lock.json'), 'utf8')).files[url]).toBe(sha);

    await writeFile(join(dir, 'lock.json'), JSON.stringify({ files: { [url]: '0'.repeat(64) } }));
    const changed = await build([
      '--source',
      join(dir, 'missing.onnx'),
      '--calibration',
      dir,
      '--labels',
      url,
    ]);
    expect(changed.code).toBe(1);
    expect(changed.out).toContain(`sha256 mismatch for ${url}: got ${sha}`);
  });

  it('says what to pass instead when a download fails', async () => {
    const r = await build(['--synthetic', 'resnet18', '--labels', `${base}/nothing-here.json`]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('HTTP 404');
    expect(r.out).toContain('--labels ../shared/data/imagenet-simple-labels.json');
  });
});

describe('model:build --synthetic resnet18', () => {
  it('writes a model folder that the classifier loads and runs, with the build recorded', async () => {
    await writeFile(join(dir, 'labels.json'), LABELS_BYTES);
    const out = join(dir, 'resnet18');
    const r = await build(['--synthetic', 'resnet18', '--labels', join(dir, 'labels.json'), '--out', out]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('| float Conv/Gemm/MatMul left | 0 |');
    const folder = await loadModelFolder(out);
    await verifyModelHash(folder);
    const meta = folder.meta;
    expect(meta.labelsMeaningful).toBe(false);
    expect(meta.quantization).toMatchObject({ weightEncoding: 'u8', optimizedOps: { QLinearConv: 20 } });
    const agree = meta.agreement as { meanLogitCosine: number };
    expect(agree.meanLogitCosine).toBeGreaterThan(0.98);
    expect(meta.fp32Cache).toBeTruthy();
    const classifier = await createClassifier(out, { threads: 1 });
    try {
      const [image] = await syntheticImages(1, 99);
      const result = await classifier.classify(image as Uint8Array, { topK: 3 });
      expect(result.labels).toHaveLength(3);
      expect(result.labels[0]?.label).toMatch(/^class \d+$/);
    } finally {
      await classifier.release();
    }
  });
});
