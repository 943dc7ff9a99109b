/**
 * npm run bench:lambda -- --stage <stage> [--region <region>] [--runs N] [--function api|tagger]
 *                           [--qualifier <alias or version>] [--json]
 * npm run bench:lambda -- --local [--runs N] ...        against `npm start` (serverless-offline)
 * npm run bench:lambda -- --endpoint <url> ...          any other Lambda API endpoint
 *
 * Invokes the deployed functions (serverless.yml names them <service>-<stage>-api and
 * <service>-<stage>-tagger) with the benchmark event, {"benchmark": {"runs": N}}, and prints what
 * each one measured where it runs (src/classifier/benchmark.ts): the CPU and its int8 flags, memory,
 * threads, init, preprocessing of a sample JPEG, and per weight storage of the model folder the
 * median and minimum inference time, exactness on that CPU and the output differences.
 * docs/benchmark-in-lambda.md explains the table. Credentials and region come from the usual AWS
 * SDK chain (AWS_PROFILE, AWS_REGION...); the caller needs lambda:InvokeFunction on both functions.
 * --local invokes serverless-offline's Lambda API on 127.0.0.1:LOCAL_LAMBDA_PORT (default 3002),
 * stage dev unless --stage says otherwise. Exit code 1 when a function answers an error.
 */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import yaml from 'js-yaml';
import { ROOT } from '../paths.ts';
import {
  type BenchmarkFailure,
  type BenchmarkReport,
  DEFAULT_RUNS,
  parseBenchmarkEvent,
} from '../src/classifier/benchmark.ts';
import { INT8_FLAGS } from '../src/classifier/cpu.ts';
import { alignTables } from './report-doc.ts';

export const FUNCTIONS = ['api', 'tagger'] as const;
export type FunctionKey = (typeof FUNCTIONS)[number];

/** serverless.yml's function names: <service>-<stage>-<function>. */
export async function functionName(fn: FunctionKey, stage: string): Promise<string> {
  const { service } = yaml.load(await readFile(join(ROOT, 'serverless.yml'), 'utf8')) as { service: string };
  return `${service}-${stage}-${fn}`;
}

const ms = (v: number | null) => (v === null ? '—' : v.toFixed(1));
const diff = (v: number | null) => (v === null ? '—' : v === 0 ? '0 (identical)' : v.toPrecision(3));

/** One function's report as text: a few header lines and a markdown table of the storages. */
export function formatReport(title: string, report: BenchmarkReport): string {
  const { cpu } = report;
  const flags = cpu.flags
    ? INT8_FLAGS.filter((f) => cpu.flags?.[f]).join(' ') || 'none of the watched flags'
    : `unknown (${cpu.source})`;
  const absent = cpu.flags ? INT8_FLAGS.filter((f) => !cpu.flags?.[f]).join(' ') : '';
  const serving = report.storages.find((s) => s.serving);
  const lines = [
    `## ${title}`,
    '',
    `CPU: ${cpu.model ?? 'model unknown'}, ${cpu.arch}, ${cpu.vcpus} vCPUs visible`,
    `flags: ${flags}${absent ? ` (absent: ${absent})` : ''}`,
    `memory: ${report.function.memoryMb ?? '?'} MB, ${report.threads} inference thread(s), node ${report.function.node}`,
    `model: ${report.model.name}@${report.model.version}, serving ${report.model.servingStorage} (${report.model.servingReason}), init ${ms(report.initMs)} ms`,
    `preprocessing of a ${report.sample.width}x${report.sample.height} JPEG (${(report.sample.jpegBytes / 1024).toFixed(0)} KiB, ${report.sample.what}): median ${ms(report.preprocess.medianMs)} ms, min ${ms(report.preprocess.minMs)} ms over ${report.preprocess.runs} runs`,
    '',
    '| storage | file | serving | exact on this CPU | load ms | runs | median ms | min ms | median / serving | max abs diff vs serving | vs u8 |',
    '| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const s of report.storages) {
    const ratio =
      s.medianMs !== null && serving?.medianMs ? `${(s.medianMs / serving.medianMs).toFixed(2)}x` : '—';
    lines.push(
      `| ${s.storage} | ${s.file} | ${s.serving ? 'yes' : ''} | ${s.exact ? 'yes' : 'NO'} | ${ms(s.loadMs)} | ${s.runs} | ${ms(s.medianMs)} | ${ms(s.minMs)} | ${ratio} | ${diff(s.maxAbsDiffVsServing)} | ${diff(s.maxAbsDiffVsU8)} |`,
    );
  }
  const notes = report.storages.filter((s) => s.skipped || !s.exact);
  if (notes.length > 0) lines.push('');
  for (const s of notes) {
    if (!s.exact) lines.push(`- ${s.storage} is inexact on this CPU: ${s.exactWhy}`);
    if (s.skipped) lines.push(`- ${s.storage}: ${s.skipped}`);
  }
  lines.push(
    '',
    `${report.budget.runsRequested} runs requested, ${(report.budget.elapsedMs / 1000).toFixed(1)} s of a ${(report.budget.budgetMs / 1000).toFixed(1)} s budget${report.budget.truncated ? ' (TRUNCATED: the budget ran out)' : ''}`,
  );
  return alignTables(lines).join('\n');
}

export interface BenchLambdaOptions {
  stage: string;
  region?: string;
  endpoint?: string;
  /** Credentials for a local endpoint (serverless-offline accepts any). */
  local?: boolean;
  runs: number;
  functions: readonly FunctionKey[];
  /** An alias or version to invoke (e.g. "provisioned"); default the unqualified function. */
  qualifier?: string;
}

export interface Invoked {
  fn: FunctionKey;
  name: string;
  report?: BenchmarkReport;
  error?: string;
}

/** Invokes each function once with the benchmark event, one after the other. */
export async function benchLambda(options: BenchLambdaOptions): Promise<Invoked[]> {
  const event = { benchmark: { runs: options.runs } };
  parseBenchmarkEvent(event);
  const client = new LambdaClient({
    region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.local ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  const results: Invoked[] = [];
  try {
    for (const fn of options.functions) {
      const name = await functionName(fn, options.stage);
      const out = await client.send(
        new InvokeCommand({
          FunctionName: name,
          Qualifier: options.qualifier,
          Payload: new TextEncoder().encode(JSON.stringify(event)),
        }),
      );
      const text = new TextDecoder().decode(out.Payload ?? new Uint8Array());
      let payload: unknown;
      try {
        payload = JSON.parse(text);
      } catch {
        payload = text;
      }
      if (out.FunctionError) {
        const { errorType, errorMessage } = (payload ?? {}) as { errorType?: string; errorMessage?: string };
        results.push({
          fn,
          name,
          error: `function error (${out.FunctionError}): ${errorType ?? ''} ${errorMessage ?? text}`.trim(),
        });
      } else if (typeof payload === 'object' && payload !== null && 'error' in payload) {
        const { code, message } = (payload as BenchmarkFailure).error;
        results.push({ fn, name, error: `${code}: ${message}` });
      } else if (typeof payload === 'object' && payload !== null && 'storages' in payload) {
        results.push({ fn, name, report: payload as BenchmarkReport });
      } else {
        results.push({ fn, name, error: `not a benchmark report: ${text.slice(0, 300)}` });
      }
    }
  } finally {
    client.destroy();
  }
  return results;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      stage: { type: 'string' },
      region: { type: 'string' },
      endpoint: { type: 'string' },
      local: { type: 'boolean', default: false },
      runs: { type: 'string', default: String(DEFAULT_RUNS) },
      function: { type: 'string', multiple: true },
      qualifier: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.stage && !values.local && !values.endpoint)
    throw new Error(
      'usage: npm run bench:lambda -- --stage <stage> [--region <region>] | --local | --endpoint <url> [--runs N] [--function api|tagger] [--qualifier <alias>] [--json]',
    );
  const functions = values.function ?? [...FUNCTIONS];
  for (const fn of functions)
    if (!(FUNCTIONS as readonly string[]).includes(fn))
      throw new Error(`--function takes ${FUNCTIONS.join(' or ')}, got "${fn}"`);
  if (!/^\d+$/.test(values.runs)) throw new Error(`--runs takes a whole number, got "${values.runs}"`);
  const lambdaPort = process.env.LOCAL_LAMBDA_PORT || '3002';
  const endpoint = values.endpoint ?? (values.local ? `http://127.0.0.1:${lambdaPort}` : undefined);
  const results = await benchLambda({
    stage: values.stage ?? 'dev',
    region: values.region,
    endpoint,
    local: values.local,
    runs: Number(values.runs),
    functions: functions as FunctionKey[],
    qualifier: values.qualifier,
  }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNREFUSED' && endpoint)
      throw new Error(`nothing answers at ${endpoint}: is \`npm start\` running (LOCAL_LAMBDA_PORT)?`);
    throw err;
  });
  if (values.json) console.log(JSON.stringify(results, null, 2));
  else
    for (const r of results)
      console.log(
        `${r.report ? formatReport(`${r.fn} (${r.name})`, r.report) : `## ${r.fn} (${r.name})\n\n${r.error}`}\n`,
      );
  return results.every((r) => r.report) ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(`bench:lambda: ${err.name}: ${err.message}`);
      process.exit(1);
    },
  );
