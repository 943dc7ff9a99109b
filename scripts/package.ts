/**
 * npm run package -- [sls package options, e.g. --stage prod --param="arch=arm64"]
 *
 * Offline `sls package`: builds the bundles and the runtime layer when missing, checks the model
 * layer, and runs the framework against a loopback CloudFormation stub with dummy credentials (no
 * AWS account, no network). The template lands in .serverless/ (or --package <dir>).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelFolders, presentTrainedModel } from '../models/select.ts';
import { refreshVocabulary } from '../models/vocabulary/attach.ts';
import { DIST, ROOT } from '../paths.ts';
import { buildBundles } from './build.ts';
import { buildRuntimeLayer, type LayerArch } from './build-runtime-layer.ts';
import { startCfnStub } from './cfn-stub.ts';
import { quietNodeVersionWarning } from './node-version.ts';

export function paramValue(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    const inline = a.match(/^--param=(.*)$/);
    const text = inline ? inline[1] : a === '--param' ? args[i + 1] : undefined;
    const m = text?.replace(/^["']|["']$/g, '').match(/^([^=]+)=(.*)$/);
    if (m && m[1] === name) return m[2];
  }
  return undefined;
}

export function modelLayerHelp(modelName: string, present: readonly string[]): string {
  return [
    present.length > 0
      ? `Present: ${present.join(', ')}; pick one with --param="modelName=<name>", or build ${modelName}:`
      : 'Build one:',
    '`npm start` builds the trained model it serves (the int8 ResNet-18 with network; offline the',
    'MobileNetV2 of ../shared), or `npm run model:build` (the int8 ResNet-18; needs internet).',
  ].join(' ');
}

/**
 * The model layer's folder to package: --param="modelName=..." as given, else the trained folder
 * `npm start` serves (resnet18 first, models/select.ts), added to the arguments; and why.
 */
export function chooseModel(
  args: readonly string[],
  modelsDir: string,
): { name: string; args: string[]; why: string } {
  const given = paramValue(args, 'modelName');
  if (given) return { name: given, args: [...args], why: 'from --param="modelName=..."' };
  const present = presentTrainedModel(modelsDir);
  if (present === undefined || present === 'resnet18')
    return { name: 'resnet18', args: [...args], why: 'the default modelName' };
  return {
    name: present,
    args: [...args, `--param=modelName=${present}`],
    why: 'the trained model npm start serves, there is no resnet18; --param="modelName=<name>" picks another',
  };
}

/** Runs `sls package` offline; resolves with the exit code. */
export async function packageOffline(
  args: string[],
  options: { env?: Record<string, string>; build?: boolean; stdio?: 'inherit' | 'pipe' } = {},
): Promise<{ code: number; output: string; actions: string[] }> {
  const arch: LayerArch = paramValue(args, 'arch') === 'arm64' ? 'arm64' : 'x64';
  if (options.build !== false) {
    if (!existsSync(join(DIST, 'api/index.mjs')) || !existsSync(join(DIST, 'tagger/index.mjs')))
      await buildBundles();
    if (!process.env.RUNTIME_LAYER_DIR && !options.env?.RUNTIME_LAYER_DIR) await buildRuntimeLayer(arch);
  }
  const modelLayer = options.env?.MODEL_LAYER_DIR ?? process.env.MODEL_LAYER_DIR ?? 'layers/model';
  const modelsDir = resolve(ROOT, modelLayer, 'models');
  const chosen = chooseModel(args, modelsDir);
  const modelName = chosen.name;
  if (!existsSync(join(modelsDir, modelName, 'model.onnx')))
    throw new Error(
      `the model layer has no ${modelLayer}/models/${modelName}/model.onnx. ${modelLayerHelp(modelName, modelFolders(modelsDir))}`,
    );
  console.log(`package: model layer ${modelLayer}/models/${modelName} (${chosen.why})`);
  const refreshed = await refreshVocabulary(join(modelsDir, modelName));
  if (refreshed) console.log(`package: vocabulary of ${modelName} updated to the committed ${refreshed}`);
  const notice = quietNodeVersionWarning();
  if (notice) console.log(`package: ${notice}`);
  args = chosen.args;
  const stub = await startCfnStub();
  try {
    const child = spawn(join(ROOT, 'node_modules/.bin/sls'), ['package', ...args], {
      cwd: ROOT,
      env: {
        ...process.env,
        AWS_ENDPOINT_URL_CLOUDFORMATION: stub.url,
        AWS_ACCESS_KEY_ID: 'AKIDLOCALPACKAGE',
        AWS_SECRET_ACCESS_KEY: 'local-package-secret',
        AWS_SESSION_TOKEN: '',
        AWS_PROFILE: '',
        AWS_REGION: 'us-east-1',
        SLS_TELEMETRY_DISABLED: '1',
        SLS_NOTIFICATIONS_MODE: 'off',
        ...options.env,
      },
      stdio: options.stdio === 'inherit' ? 'inherit' : ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const code = await new Promise<number>((done) => child.on('close', (c) => done(c ?? 1)));
    return { code, output, actions: stub.actions };
  } finally {
    await stub.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    const { code } = await packageOffline(process.argv.slice(2), { stdio: 'inherit' });
    process.exitCode = code;
  } catch (err) {
    console.error(`package: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
