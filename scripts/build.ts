/**
 * npm run build: the two Lambda bundles, ESM with top-level await, onnxruntime-node and sharp left
 * out (the runtime layer provides them under /opt/nodejs/node_modules; src/classifier/native.ts
 * loads them with createRequire, falling back to the layer path).
 *   dist/api/index.mjs      HTTP API handler   (handler: dist/api/index.handler)
 *   dist/tagger/index.mjs   S3 tagger handler  (handler: dist/tagger/index.handler)
 * Code that a handler imports dynamically (the api's image routes: the AWS SDK clients) goes to
 * chunks beside index.mjs (*.mjs), loaded on first use: a cold start neither evaluates nor parses
 * it (the api's init took 0.86x the CPU time of one file holding it all; docs/benchmarks.md).
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { DIST, ROOT } from '../paths.ts';
import { NATIVE_PACKAGES } from './build-runtime-layer.ts';

export const BUNDLES = {
  api: 'src/handlers/api.ts',
  tagger: 'src/handlers/tagger.ts',
} as const;

/**
 * One ESM bundle as Lambda runs it, `outfile` plus the chunks of what it imports dynamically, in
 * the same folder (also used by the cold-start benchmark, so it measures the same).
 */
export async function bundle(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: { [basename(outfile, '.mjs')]: entry },
    outdir: dirname(outfile),
    outExtension: { '.js': '.mjs' },
    splitting: true,
    chunkNames: '[name]-[hash]',
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    minify: true,
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'none',
    external: [...NATIVE_PACKAGES],
    // Bundled CommonJS (busboy, parts of the AWS SDK) calls require() for Node built-ins.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
}

export async function buildBundles(log = console.log): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, entry] of Object.entries(BUNDLES)) {
    const dir = join(DIST, name);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const outfile = join(dir, 'index.mjs');
    await bundle(join(ROOT, entry), outfile);
    out[name] = outfile;
    log(`built ${outfile} (${((await stat(outfile)).size / 1024).toFixed(0)} KiB)`);
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildBundles();
