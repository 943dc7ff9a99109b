/**
 * The native packages (ONNX Runtime and sharp here; koffi and libjpeg-turbo in jpeg-turbo.ts), loaded
 * through CommonJS `require`. In Lambda the bundles leave them out and the runtime layer provides
 * them under /opt/nodejs/node_modules: ESM `import` ignores
 * NODE_PATH there, CommonJS `require` honours it, and the explicit layer path covers a runtime
 * without NODE_PATH. Locally `require` finds the project's node_modules as usual.
 */
import { createRequire } from 'node:module';
import type * as OrtModule from 'onnxruntime-node';
import type SharpModule from 'sharp';

const LAYER_NODE_MODULES = '/opt/nodejs/node_modules/';

/** A `require` that finds `name`: this module's (node_modules locally), else the runtime layer's. */
export function requireFinding(name: string): NodeJS.Require {
  const here = createRequire(import.meta.url);
  try {
    here.resolve(name);
    return here;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    return createRequire(LAYER_NODE_MODULES);
  }
}

/** A plain version, optionally after one comparator (sharp's `config.libvips` is ">=8.18.7"). */
const PLAIN_VERSION = /^(?:[<>]=?|=|~|\^)?(0|[1-9]\d{0,15})\.(0|[1-9]\d{0,15})\.(0|[1-9]\d{0,15})$/;

/**
 * What sharp's JavaScript gets for `require('semver')` while it loads: `coerce` of a plain version
 * answered here (the version semver.coerce would give: its first x.y.z), every other call handed to
 * the real semver, loaded then (`loadReal`).
 */
export function semverStandIn(loadReal: () => Record<string, unknown>): object {
  const coerce = (version: unknown, options?: unknown) => {
    const plain = options === undefined && typeof version === 'string' ? PLAIN_VERSION.exec(version) : null;
    if (plain) return { version: `${plain[1]}.${plain[2]}.${plain[3]}` };
    return (loadReal().coerce as (v: unknown, o?: unknown) => unknown)(version, options);
  };
  return new Proxy({}, { get: (_, key) => (key === 'coerce' ? coerce : loadReal()[key as string]) });
}

/**
 * sharp, without the cost of `semver` at every cold start. sharp's JavaScript loads the whole of
 * semver (47 modules that compile about 40 regular expressions) for one call at load,
 * `semver.coerce(<its minimum libvips version>).version`, and needs the rest only when its binary
 * fails to load: that was 15-20% of sharp's load (whole processes, docs/benchmarks.md, cold start).
 * While sharp loads, and for sharp alone, `semver` resolves to `semverStandIn`; anything else that
 * requires semver later gets the real one.
 */
function loadSharp(): typeof SharpModule {
  const require = requireFinding('sharp');
  const fromSharp = createRequire(require.resolve('sharp'));
  let semverPath: string;
  try {
    semverPath = fromSharp.resolve('semver');
  } catch {
    return require('sharp');
  }
  const { cache } = require;
  if (cache[semverPath]) return require('sharp'); // already loaded: nothing to save
  let real: Record<string, unknown> | undefined;
  const standIn = {
    id: semverPath,
    filename: semverPath,
    loaded: true,
    exports: semverStandIn(() => {
      if (cache[semverPath] === (standIn as unknown)) delete cache[semverPath];
      real ??= fromSharp('semver') as Record<string, unknown>;
      return real;
    }),
  };
  cache[semverPath] = standIn as unknown as NodeJS.Module;
  try {
    return require('sharp');
  } finally {
    if (cache[semverPath] === (standIn as unknown)) delete cache[semverPath];
  }
}

export const ort = requireFinding('onnxruntime-node')('onnxruntime-node') as typeof OrtModule;
export const sharp = loadSharp();
