/**
 * `npm start -- --check <photo>` end to end: esbuild bundles, a real local S3, serverless-offline
 * running the bundled handlers; the photo is put under uploads/ and the S3 event must make the
 * tagger (invoked through serverless-offline's Lambda API) tag it. Uses loopback ports 3000, 3002
 * and 4569.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { photo, ROOT, sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

/** Runs scripts/start.ts as `npm start` does; resolves with its exit code and output. */
async function start(args: string[], env: NodeJS.ProcessEnv = {}, limitMs = 150_000) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/start.ts'), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGTERM'), limitMs);
  const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
  clearTimeout(timer);
  if (code !== 0) console.log(output);
  return { code, output };
}

describe.skipIf(skipUnlessShared('the local stack test'))('npm start (local stack)', () => {
  it('tags an object put into the local bucket and serves /health', async () => {
    const modelDir = sharedModelFolder();
    const { code, output } = await start([
      '--model-dir',
      modelDir,
      '--check',
      photo('207-Golden-Retriever.jpg'),
    ]);
    expect(code).toBe(0);
    expect(output).toContain('tagger:status = ok');
    expect(output).toContain('tagger:top = Golden Retriever');
    expect(output).toMatch(/tagger:labels = Golden Retriever=0\.\d{3}\//);
    expect(output).toContain('tagger:model = mobilenetv2-int8@1');
    expect(output).toMatch(/GET \/health: \{"status":"ok","model":\{"name":"mobilenetv2-int8"/);
    // Through serverless-offline's HTTP API emulation, both body forms arrive intact.
    expect(output).toMatch(/POST \/classify \(multipart\): 200 Golden Retriever \d+\.\d%/);
    expect(output).toMatch(/POST \/classify \(octet-stream\): 200 Golden Retriever \d+\.\d%/);
  }, 180_000);

  it('on a fresh clone with no network, builds a trained model from ../shared and tags with a real label', async () => {
    // A fresh clone: no model layer folder, no cache. No network: the lock file's default source and
    // labels point at a closed loopback port, so the default build fails as it does offline.
    const tmp = await mkdtemp(join(tmpdir(), 'fresh-clone-'));
    try {
      const lock = JSON.parse(await readFile(join(ROOT, 'models/sources.lock.json'), 'utf8'));
      lock.defaults.source = 'http://127.0.0.1:9/resnet18-v1-7.onnx';
      lock.defaults.labels = 'http://127.0.0.1:9/imagenet-simple-labels.json';
      lock.defaults.calibration = join(ROOT, 'models/calibration-photos.json');
      await writeFile(join(tmp, 'lock.json'), JSON.stringify(lock));
      const { code, output } = await start(
        ['--check', photo('207-Golden-Retriever.jpg')],
        {
          MODEL_LAYER_DIR: join(tmp, 'layer'),
          MODEL_SOURCES_LOCK: join(tmp, 'lock.json'),
          MODEL_CACHE_DIR: join(tmp, 'cache'),
        },
        240_000,
      );
      expect(code).toBe(0);
      expect(output).toContain('model:build failed: cannot download labels from http://127.0.0.1:9/');
      expect(output).toContain('building the trained MobileNetV2 of ../shared instead');
      expect(output).toContain(`model folder: ${join(tmp, 'layer', 'models', 'mobilenetv2')}`);
      expect(output).not.toContain('MEANINGLESS');
      expect(output).toContain('tagger:top = Golden Retriever');
      expect(output).toContain('tagger:model = mobilenetv2@1');
      expect(output).toMatch(
        /GET \/health: \{"status":"ok","model":\{"name":"mobilenetv2".*"labelsMeaningful":true/,
      );
      expect(output).toMatch(/POST \/classify \(octet-stream\): 200 Golden Retriever \d+\.\d%/);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }, 300_000);
});
