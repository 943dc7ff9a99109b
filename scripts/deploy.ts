/**
 * npm run deploy -- [sls deploy options, e.g. --stage prod --param="arch=arm64"]
 *
 * `sls deploy` with the model layer's folder chosen as `npm run package` chooses it (chooseModel:
 * --param="modelName=..." as given, else the trained folder `npm start` serves), said in one line
 * first. Needs AWS credentials, as `sls deploy` does.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { modelFolders } from '../models/select.ts';
import { ROOT } from '../paths.ts';
import { quietNodeVersionWarning } from './node-version.ts';
import { chooseModel, modelLayerHelp } from './package.ts';

const modelLayer = process.env.MODEL_LAYER_DIR ?? 'layers/model';
const modelsDir = resolve(ROOT, modelLayer, 'models');
const chosen = chooseModel(process.argv.slice(2), modelsDir);
if (!existsSync(join(modelsDir, chosen.name, 'model.onnx'))) {
  console.error(
    `deploy: the model layer has no ${modelLayer}/models/${chosen.name}/model.onnx. ${modelLayerHelp(chosen.name, modelFolders(modelsDir))}`,
  );
  process.exit(1);
}
console.log(`deploy: model layer ${modelLayer}/models/${chosen.name} (${chosen.why})`);
const notice = quietNodeVersionWarning();
if (notice) console.log(`deploy: ${notice}`);
const child = spawn(join(ROOT, 'node_modules/.bin/sls'), ['deploy', ...chosen.args], {
  cwd: ROOT,
  stdio: 'inherit',
});
child.on('close', (code) => process.exit(code ?? 1));
