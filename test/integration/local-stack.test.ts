/**
 * `npm start -- --check <photo>` end to end: esbuild bundles, a real local S3, serverless-offline
 * running the bundled handlers; the photo is put under uploads/ and the S3 event must make the
 * tagger (invoked through serverless-offline's Lambda API) tag it. Uses loopback ports 3000, 3002
 * and 4569.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { photo, ROOT, sharedModelFolder, skipUnlessShared } from '../helpers/shared.ts';

describe.skipIf(skipUnlessShared('the local stack test'))('npm start (local stack)', () => {
  it('tags an object put into the local bucket and serves /health', async () => {
    const modelDir = sharedModelFolder();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'scripts/start.ts'),
        '--model-dir',
        modelDir,
        '--check',
        photo('207-Golden-Retriever.jpg'),
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), 150_000);
    const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
    clearTimeout(timer);
    if (code !== 0) console.log(output);
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
});
