/**
 * The two native packages, loaded through CommonJS `require`. In Lambda the bundles leave them out
 * and the runtime layer provides them under /opt/nodejs/node_modules: ESM `import` ignores
 * NODE_PATH there, CommonJS `require` honours it, and the explicit layer path covers a runtime
 * without NODE_PATH. Locally `require` finds the project's node_modules as usual.
 */
import { createRequire } from 'node:module';
import type * as OrtModule from 'onnxruntime-node';
import type SharpModule from 'sharp';

const LAYER_NODE_MODULES = '/opt/nodejs/node_modules/';

function load<T>(name: string): T {
  try {
    return createRequire(import.meta.url)(name) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    return createRequire(LAYER_NODE_MODULES)(name) as T;
  }
}

export const ort = load<typeof OrtModule>('onnxruntime-node');
export const sharp = load<typeof SharpModule>('sharp');
