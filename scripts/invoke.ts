/**
 * npm run invoke -- <api|tagger> <event.json> [--model-dir <dir>]
 *
 * Runs a Lambda bundle (dist/api or dist/tagger, built when missing) once with an event from events/,
 * the way Lambda does: import the ESM bundle (the classifier session is created by its top-level
 * await), call `handler(event, context)`, print the result as JSON.
 *
 * Why not `sls invoke local`: osls loads handlers with require(), which on Node >= 20.19 refuses an
 * ES module with top-level await (ERR_REQUIRE_ASYNC_MODULE), and the old import() fallback is only
 * taken for ERR_REQUIRE_ESM. The same events work with `npx sls invoke -f <fn> -p <event>` on AWS.
 * With `npm start` running, AWS_ENDPOINT_URL_S3=http://127.0.0.1:4569 points the tagger at the local S3.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import yaml from 'js-yaml';
import { selectModel } from '../models/select.ts';
import { DIST, ROOT } from '../paths.ts';
import { MB_PER_LAMBDA_VCPU } from '../src/settings.ts';
import { buildBundles } from './build.ts';

const BUNDLE = { api: 'api/index.mjs', tagger: 'tagger/index.mjs' } as const;

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'model-dir': { type: 'string' } },
  });
  const [fn, eventFile] = positionals;
  if ((fn !== 'api' && fn !== 'tagger') || !eventFile)
    throw new Error('usage: npm run invoke -- <api|tagger> <event.json> [--model-dir <dir>]');
  const bundle = join(DIST, BUNDLE[fn]);
  if (!existsSync(bundle)) await buildBundles();
  process.env.MODEL_DIR ??= values['model-dir']
    ? resolve(values['model-dir'])
    : (await selectModel(process.env.MODEL_NAME ? { model: process.env.MODEL_NAME } : {})).dir;
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ??= String(MB_PER_LAMBDA_VCPU);
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  // A direct invocation skips API Gateway: without a user pool named (AUTH_ISSUER, AUTH_CLIENT_ID and
  // an Authorization header in the event), the api runs without sign-in, and says so.
  if (fn === 'api' && !process.env.AUTH_ISSUER && process.env.AUTH_PUBLIC === undefined) {
    process.env.AUTH_PUBLIC = 'true';
    console.error(
      'invoke: the api runs without sign-in (AUTH_PUBLIC=true; set AUTH_ISSUER and AUTH_CLIENT_ID to check tokens)',
    );
  }
  // The service and namespace the deployed function gets: serverless.yml is their one definition.
  const { custom } = yaml.load(await readFile(join(ROOT, 'serverless.yml'), 'utf8')) as {
    custom: { metricsNamespace: string; metricsServices: Record<string, string> };
  };
  process.env.POWERTOOLS_METRICS_NAMESPACE ??= custom.metricsNamespace;
  process.env.POWERTOOLS_SERVICE_NAME ??= custom.metricsServices[fn];
  const event = JSON.parse(await readFile(eventFile, 'utf8'));
  const { handler } = (await import(pathToFileURL(bundle).href)) as {
    handler: (event: unknown, context: unknown) => Promise<unknown>;
  };
  const started = Date.now();
  const context = {
    functionName: `image-tagger-local-${fn}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:image-tagger-local-${fn}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/image-tagger-local-${fn}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, 60_000 - (Date.now() - started)),
  };
  const result = await handler(event, context);
  console.log(JSON.stringify(result, null, 2));
}

main(process.argv.slice(2)).catch((err: Error) => {
  console.error(`invoke: ${err.name}: ${err.message}`);
  process.exit(1);
});
