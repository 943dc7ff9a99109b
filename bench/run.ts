/**
 * npm run bench [-- --write] [--runs N] [--toolchain-runs N] [--model <dir> ...] [--storages-only]
 *
 * Runs the classifier benchmark (bench/bench.ts) and then the toolchain benchmark (bench/toolchain.ts)
 * in this process and prints their markdown. With --write it also regenerates the generated section of
 * docs/benchmarks.md (between its bench:begin/bench:end markers: the machine, the tables as printed
 * and a link to the chart) and docs/benchmarks-latency.svg (inference latency from the storage
 * table). No measurement is taken twice: the doc and chart are the printed run.
 * --runs: repetitions of the classifier benchmark (default 30); --toolchain-runs: rounds of the
 * toolchain's interleaved timing (default 10); --storages-only: only the storage table (no per-model
 * tables, no toolchain).
 *
 * npm run bench -- --peers [--runs N] [--sizes 0.15,0.3] [--preprocess-only] [--baseline <git ref>] [--node 22|24]
 * runs only the peers benchmark (bench/peers.ts): the project against torchvision/PIL, ONNX Runtime's
 * Python package and transformers.js, round-robin in one run; docs/benchmarks.md quotes a run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../paths.ts';
import { readCpuInfo } from '../src/classifier/cpu.ts';
import { CLASSIFIER_BENCH_ARGS, classifierBench } from './bench.ts';
import { barChartSvg } from './chart.ts';
import { PEERS_ARGS, peersBench } from './peers.ts';
import {
  CHART_FILE,
  generatedSection,
  latencyChart,
  type Machine,
  REPORTED_FLAGS,
  replaceGenerated,
} from './report-doc.ts';
import { toolchainBench } from './toolchain.ts';

const DOC = join(ROOT, 'docs', 'benchmarks.md');
const CHART = join(ROOT, 'docs', CHART_FILE);

function machine(): Machine {
  const cpu = readCpuInfo();
  const pkg = join(ROOT, 'node_modules', 'onnxruntime-node', 'package.json');
  return {
    cpuModel: cpu.model ?? 'unknown model',
    arch: cpu.arch,
    flags: cpu.flags === null ? null : REPORTED_FLAGS.filter((f) => cpu.flags?.has(f)),
    cores: availableParallelism(),
    node: process.version,
    onnxruntime: existsSync(pkg) ? JSON.parse(readFileSync(pkg, 'utf8')).version : 'unknown',
    date: new Date(),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ...CLASSIFIER_BENCH_ARGS,
      ...PEERS_ARGS,
      'toolchain-runs': { type: 'string' },
      write: { type: 'boolean', default: false },
      peers: { type: 'boolean', default: false },
    },
  });
  if (values.peers) {
    await peersBench(
      {
        runs: values.runs === undefined ? undefined : Number(values.runs),
        preprocessOnly: values['preprocess-only'],
        baseline: values.baseline,
        sizes: values.sizes?.split(',').map(Number),
        node: values.node === undefined ? undefined : Number(values.node),
      },
      (line) => console.log(line),
    );
    return;
  }
  const facts = machine();
  const print = (line: string) => console.log(line);
  const classifier = await classifierBench(
    {
      models: values.model,
      runs: values.runs === undefined ? undefined : Number(values.runs),
      storagesOnly: values['storages-only'],
    },
    print,
  );
  const lines = [...classifier.lines];
  if (!values['storages-only']) {
    const toolchain = await toolchainBench({
      runs: values['toolchain-runs'] === undefined ? undefined : Number(values['toolchain-runs']),
    });
    for (const line of toolchain) print(line);
    lines.push(...toolchain);
  }
  if (!values.write) return;
  const hasChart = classifier.storage.length > 0;
  if (hasChart) await writeFile(CHART, barChartSvg(latencyChart(classifier.storage)));
  const doc = await readFile(DOC, 'utf8');
  await writeFile(DOC, replaceGenerated(doc, generatedSection(facts, lines, hasChart)));
  console.error(`wrote ${DOC}${hasChart ? ` and ${CHART}` : ''}`);
}

main().catch((err: Error) => {
  console.error(`bench: ${err.stack ?? err.message}`);
  process.exit(1);
});
