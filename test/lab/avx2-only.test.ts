/**
 * lab/avx2-only.ts (npm run lab:avx2-only): a command run through it sees an AVX2-only x86 CPU, as
 * x86 Lambda functions do, in /proc/cpuinfo and in the kernels ONNX Runtime dispatches to.
 *
 * The kernel check is one MatMulInteger of uint8 [255, 255] by int8 [127, 127]: exactly 64770.
 * ONNX Runtime's AVX2 u8 x s8 kernel sums the pair with vpmaddubsw, which saturates at 32767; with
 * VNNI (vpdpbusd) the sum is exact. So inside the tool the answer must be 32767, whatever the host;
 * outside it, it is 64770 on a VNNI host and 32767 on an AVX2-only one.
 * Both libraries that pick kernels by CPU, ONNX Runtime and libvips, must be the masked copies.
 * Needs x86-64 Linux, gcc, binutils and unshare (skips with the reason otherwise).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { avx2OnlyArgv, maskCpuInfo, prepareAvx2Only } from '../../lab/avx2-only.ts';
import { DataType, int8Tensor, node } from '../../models/graph.ts';
import { encodeModel } from '../../models/onnx.ts';
import { ROOT } from '../../paths.ts';
import { readCpuInfo, storageExactness } from '../../src/classifier/cpu.ts';

function missingTool(): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return `${process.platform}/${process.arch} is not x86-64 Linux`;
  for (const [tool, arg] of [
    ['gcc', '--version'],
    ['objdump', '--version'],
    ['readelf', '--version'],
    ['unshare', '--version'],
  ] as const) {
    if (spawnSync(tool, [arg]).status !== 0) return `${tool} is not installed`;
  }
  // The tool's mount namespace: as root, or through an unprivileged user namespace.
  const [unshare, ...args] = avx2OnlyArgv({ cpuinfo: '/proc/cpuinfo' }, ['true']) as [string, ...string[]];
  if (spawnSync(unshare, args).status !== 0) return 'this user cannot bind-mount in a new mount namespace';
  return null;
}

const skipReason = missingTool();
if (skipReason) console.log(`skipping the avx2-only test: ${skipReason}`);

/** Prints the MatMulInteger result and the int8 flags the process sees in /proc/cpuinfo. */
const PROBE = `
const { createRequire } = require('node:module');
const load = createRequire(${JSON.stringify(join(ROOT, 'package.json'))});
const ort = load('onnxruntime-node');
load('sharp');
const libs = [...new Set(require('node:fs').readFileSync('/proc/self/maps', 'utf8').split('\\n')
  .map((l) => l.split(/\\s+/).pop()).filter((p) => /libvips-cpp|libonnxruntime/.test(p)))];
const flags = require('node:fs').readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\\s*:(.*)$/m)[1].trim().split(/\\s+/);
ort.InferenceSession.create(process.argv[1]).then(async (s) => {
  const out = await s.run({ a: new ort.Tensor('uint8', Uint8Array.from([255, 255]), [1, 2]) });
  console.log(JSON.stringify({ y: Number(out.y.data[0]), flags: flags.filter((f) => /avx2|avx512|vnni|amx/.test(f)), libs }));
});
`;

describe.skipIf(skipReason !== null)('avx2-only: an AVX2-only CPU on any x86 host', () => {
  let dir: string;
  let model: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'avx2-only-'));
    model = join(dir, 'matmulinteger.onnx');
    const bytes = encodeModel({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'pair',
        node: [node('MatMulInteger', ['a', 'b'], ['y'])],
        initializer: [int8Tensor('b', [2, 1], Int8Array.from([127, 127]))],
        input: [
          {
            name: 'a',
            type: {
              tensorType: { elemType: DataType.UINT8, shape: { dim: [{ dimValue: 1 }, { dimValue: 2 }] } },
            },
          },
        ],
        output: [
          {
            name: 'y',
            type: {
              tensorType: { elemType: DataType.INT32, shape: { dim: [{ dimValue: 1 }, { dimValue: 1 }] } },
            },
          },
        ],
      },
    });
    await writeFile(model, bytes);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const probe = (argv: string[], env: Record<string, string> = {}) => {
    const [file, ...args] = argv as [string, ...string[]];
    const out = execFileSync(file, args, { encoding: 'utf8', env: { ...process.env, ...env } });
    return JSON.parse(out.trim().split('\n').pop() as string) as {
      y: number;
      flags: string[];
      libs: string[];
    };
  };

  it('hides AVX-512, VNNI and AMX from /proc/cpuinfo and from ONNX Runtime, which then saturates', async () => {
    const host = readCpuInfo();
    // The project's own rule for this CPU: exact u8 x s8 sums (VNNI) or saturating ones (AVX2 only).
    const native = probe([process.execPath, '-e', PROBE, model]);
    expect(native.y).toBe(storageExactness(host, 's8').exact ? 64770 : 32767);

    const prepared = await prepareAvx2Only();
    const masked = probe(avx2OnlyArgv(prepared, [process.execPath, '-e', PROBE, model]), prepared.env);
    console.log(`native: ${JSON.stringify(native)}; avx2-only: ${JSON.stringify(masked)}`);
    expect(masked.y).toBe(32767);
    expect(masked.flags).toContain('avx2');
    expect(masked.flags.filter((f) => /avx512|vnni|amx/.test(f))).toEqual([]);
    // ONNX Runtime and libvips are the patched copies (found through the audit module's redirects)
    expect(masked.libs).toHaveLength(2);
    for (const lib of masked.libs) expect(lib).toContain('/.cache/avx2-only/');
  }, 180_000);
});

describe('avx2-only: the /proc/cpuinfo copy', () => {
  it('masks only the AVX-512, VNNI and AMX flags of every processor', () => {
    const text =
      'processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni avx_vnni amx_tile sha_ni\n\nprocessor\t: 1\nflags\t\t: fpu avx2 avx512f\n';
    const { text: masked, hidden } = maskCpuInfo(text);
    expect(hidden).toEqual(['amx_tile', 'avx512_vnni', 'avx512f', 'avx_vnni']);
    expect(masked).toBe(
      'processor\t: 0\nflags\t\t: fpu avx2 sha_ni\n\nprocessor\t: 1\nflags\t\t: fpu avx2\n',
    );
  });
});
