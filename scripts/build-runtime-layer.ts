/**
 * npm run build:layer -- [x64|arm64]...   (default: x64)
 *
 * Builds the runtime layer for Lambda: the native packages (onnxruntime-node, sharp, and koffi with
 * the libjpeg-turbo of @julusian/jpeg-turbo: src/classifier/jpeg-turbo.ts) installed for
 * linux/<arch>/glibc into layers/runtime/build/<arch>/nodejs/node_modules (mounted at
 * /opt/nodejs/node_modules), with the other platforms' ONNX Runtime binaries pruned (most of the
 * package's size; Lambda allows 250 MB unzipped for a function and its layers, which
 * package.test.ts checks). Needs the npm
 * registry only. Skips an arch whose layer is already built for the same versions.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, RUNTIME_LAYER_BUILD } from '../paths.ts';

const JPEG_TURBO = '@julusian/jpeg-turbo';
/** What the bundles leave out and the layer provides. */
export const NATIVE_PACKAGES = ['onnxruntime-node', 'sharp', 'koffi', JPEG_TURBO] as const;
export type LayerArch = 'x64' | 'arm64';

async function installedVersion(name: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(ROOT, 'node_modules', name, 'package.json'), 'utf8'));
  return pkg.version as string;
}

export function runtimeLayerDir(arch: LayerArch): string {
  return join(RUNTIME_LAYER_BUILD, arch);
}

/** Removes ONNX Runtime binaries of every platform but linux/<arch>; returns the removed paths. */
async function pruneOnnxRuntime(nodeModules: string, arch: LayerArch): Promise<string[]> {
  const removed: string[] = [];
  const bin = join(nodeModules, 'onnxruntime-node/bin');
  for (const napi of await readdir(bin)) {
    for (const platform of await readdir(join(bin, napi))) {
      const platformDir = join(bin, napi, platform);
      if (platform !== 'linux') {
        await rm(platformDir, { recursive: true, force: true });
        removed.push(platformDir);
        continue;
      }
      for (const cpu of await readdir(platformDir)) {
        if (cpu === arch) continue;
        await rm(join(platformDir, cpu), { recursive: true, force: true });
        removed.push(join(platformDir, cpu));
      }
    }
  }
  return removed;
}

/**
 * @julusian/jpeg-turbo's libturbojpeg for linux/<arch>, its licence and package.json, taken from the
 * package's tarball: the layer needs that library only (jpeg-turbo.ts calls it through koffi), not
 * the package's binding nor its build tools (cmake-js and its dependencies, about 8 MB).
 */
function addTurboJpeg(nodeModules: string, arch: LayerArch, version: string): void {
  const dest = join(nodeModules, JPEG_TURBO);
  mkdirSync(dest, { recursive: true });
  const tarball = execFileSync(
    'npm',
    ['pack', `${JPEG_TURBO}@${version}`, '--silent', '--pack-destination', dest],
    { cwd: dest, encoding: 'utf8', timeout: 300_000 },
  ).trim();
  const files = ['package.json', 'LICENSE', `prebuilds/jpeg-turbo-linux-${arch}/libturbojpeg.so.0`];
  execFileSync('tar', ['-xzf', tarball, '--strip-components=1', ...files.map((f) => `package/${f}`)], {
    cwd: dest,
  });
  rmSync(join(dest, tarball));
}

export async function buildRuntimeLayer(arch: LayerArch, log = console.log): Promise<string> {
  const dir = runtimeLayerDir(arch);
  const nodejs = join(dir, 'nodejs');
  const versions = Object.fromEntries(
    await Promise.all(NATIVE_PACKAGES.map(async (n) => [n, await installedVersion(n)] as const)),
  );
  const stamp = join(dir, 'layer.json');
  const wanted = JSON.stringify({ arch, versions });
  if (existsSync(stamp) && (await readFile(stamp, 'utf8')) === wanted) {
    log(`runtime layer ${arch}: up to date (${dir})`);
    return dir;
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(nodejs, { recursive: true });
  // npm installs all but @julusian/jpeg-turbo, whose library addTurboJpeg takes from its tarball.
  const { [JPEG_TURBO]: _, ...installed } = versions;
  await writeFile(
    join(nodejs, 'package.json'),
    `${JSON.stringify({ name: 'runtime-layer', private: true, dependencies: installed }, null, 2)}\n`,
  );
  log(
    `runtime layer ${arch}: npm install ${Object.entries(installed)
      .map(([n, v]) => `${n}@${v}`)
      .join(' ')}`,
  );
  execFileSync(
    'npm',
    [
      'install',
      '--os=linux',
      `--cpu=${arch}`,
      '--libc=glibc',
      '--omit=dev',
      '--no-audit',
      '--no-fund',
      '--no-package-lock',
      '--ignore-scripts',
    ],
    {
      cwd: nodejs,
      stdio: 'inherit',
      // onnxruntime-node ships its CPU binaries in the package; its install script only fetches CUDA.
      env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
      timeout: 600_000,
    },
  );
  const nodeModules = join(nodejs, 'node_modules');
  const removed = await pruneOnnxRuntime(nodeModules, arch);
  addTurboJpeg(nodeModules, arch, versions[JPEG_TURBO] as string);
  const libvips = join(nodeModules, '@img', `sharp-libvips-linux-${arch}`);
  if (!existsSync(libvips)) throw new Error(`runtime layer ${arch}: ${libvips} is missing after install`);
  const turbojpeg = join(
    nodeModules,
    `@julusian/jpeg-turbo/prebuilds/jpeg-turbo-linux-${arch}/libturbojpeg.so.0`,
  );
  if (!existsSync(turbojpeg)) throw new Error(`runtime layer ${arch}: ${turbojpeg} is missing after install`);
  await writeFile(stamp, wanted);
  log(`runtime layer ${arch}: built in ${dir} (pruned ${removed.length} foreign ONNX Runtime binary dirs)`);
  return dir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const archs = (process.argv.slice(2).length ? process.argv.slice(2) : ['x64']) as LayerArch[];
  for (const arch of archs) {
    if (arch !== 'x64' && arch !== 'arm64') throw new Error(`unknown arch "${arch}": use x64 or arm64`);
    await buildRuntimeLayer(arch);
  }
}
