/**
 * Runs inside a foreign Node binary (Lambda's Node 22 / 24, or arm64 Node under qemu), spawned by
 * scripts/runtimes.ts: imports the built Lambda bundles the way the Node.js runtime does, calls each
 * handler with the planned events and writes what happened to a JSON file.
 *
 *   node scripts/runtime-probe.ts <plan.json> <report.json>
 *
 * Erasable TypeScript only (Node >= 22.18 strips the types itself) and node: built-ins only: the
 * bundles must find the native packages through NODE_PATH (the runtime layer), never through
 * the project's node_modules.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

export interface ProbePlan {
  /** Function name -> absolute path of its bundle (index.mjs), as Lambda's task root holds it. */
  bundles: Record<string, string>;
  invocations: { name: string; fn: string; event: unknown }[];
}

export interface ProbeReport {
  node: string;
  arch: string;
  /** Where the bundles' require() found the native packages (must be the runtime layer). */
  resolved: Record<string, string>;
  /** Import of each bundle: module load plus the classifier's init (session and warm-up). */
  initMs: Record<string, number>;
  results: { name: string; fn: string; ms: number; result?: unknown; error?: string }[];
}

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

function lambdaContext(fn: string) {
  const started = Date.now();
  const name = `image-tagger-runtime-${fn}`;
  return {
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '', // set by scripts/runtimes.ts
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'runtime-probe',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, 60_000 - (Date.now() - started)),
  };
}

async function main(planFile: string, reportFile: string): Promise<void> {
  const plan = JSON.parse(readFileSync(planFile, 'utf8')) as ProbePlan;
  const report: ProbeReport = {
    node: process.version,
    arch: process.arch,
    resolved: {},
    initMs: {},
    results: [],
  };
  const handlers: Record<string, Handler> = {};
  for (const [fn, bundle] of Object.entries(plan.bundles)) {
    if (!plan.invocations.some((i) => i.fn === fn)) continue;
    const require = createRequire(bundle);
    // The layer holds only @julusian/jpeg-turbo's library, not its binding (its `main`).
    for (const name of ['onnxruntime-node', 'sharp', 'koffi', '@julusian/jpeg-turbo/package.json'])
      report.resolved[name] ??= require.resolve(name);
    const t0 = performance.now();
    const mod = (await import(pathToFileURL(bundle).href)) as { handler: Handler };
    report.initMs[fn] = performance.now() - t0;
    handlers[fn] = mod.handler;
  }
  for (const { name, fn, event } of plan.invocations) {
    const handler = handlers[fn];
    if (!handler) throw new Error(`no bundle for function "${fn}"`);
    const t0 = performance.now();
    try {
      const result = await handler(event, lambdaContext(fn));
      report.results.push({ name, fn, ms: performance.now() - t0, result });
    } catch (err) {
      report.results.push({ name, fn, ms: performance.now() - t0, error: String(err) });
    }
  }
  writeFileSync(reportFile, JSON.stringify(report));
}

const [planFile, reportFile] = process.argv.slice(2);
if (!planFile || !reportFile) {
  console.error('usage: node scripts/runtime-probe.ts <plan.json> <report.json>');
  process.exit(2);
}
await main(planFile, reportFile);
