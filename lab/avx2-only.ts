/**
 * npm run lab:avx2-only -- <command> [args...]
 *
 * Runs a command as on an x86-64 CPU with AVX2 and no AVX-512, VNNI or AMX: what every x86 Lambda
 * function sees (Firecracker's CPU templates clear those bits; lab/README.md). On a host
 * with AVX512-VNNI this is how the project checks and measures the AVX2 code paths natively:
 * - ONNX Runtime and libvips are the only libraries here that pick kernels by CPU. Copies of them
 *   are made in .cache/avx2-only/ with every `cpuid` instruction replaced by `int3; nop`. An audit
 *   module (LD_AUDIT; lab/avx2-only/cpuid-mask.c), loaded before any other library, answers
 *   those traps with the real cpuid minus the AVX-512, VNNI and AMX bits, and sends the loader to the
 *   copies when a process asks for libonnxruntime.so.1 or libvips-cpp.so.* (other programs, such as
 *   Chromium, never load them). It is preloaded too, to keep SIGTRAP unblocked and its handler in
 *   place whatever the program does with that signal.
 * - The project reads CPU flags from /proc/cpuinfo (src/classifier/cpu.ts), so a copy without those
 *   flags is bind-mounted over it in a private mount namespace (`unshare --mount`; as a non-root
 *   user with `--map-root-user`).
 * Everything else (V8, glibc's string functions) still sees the real CPU; they do not change which
 * int8 kernels run or how exactly. The cores are this machine's, so timings are AVX2 code on this
 * microarchitecture, not on Lambda's: `npm run bench:lambda` measures there.
 * Needs gcc, objdump and readelf (binutils) and unshare (util-linux); x86-64 Linux only.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cacheDir, ROOT } from '../paths.ts';

/** The /proc/cpuinfo flags an AVX2-only x86 CPU (Lambda's) does not have. */
export const HIDDEN_FLAG = /^(avx512.*|avx_vnni.*|amx_.*)$/;

const SHIM_SOURCE = join(ROOT, 'lab/avx2-only/cpuid-mask.c');
const ORT_LIB = join(ROOT, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1');
const VIPS_DIR = join(ROOT, 'node_modules/@img/sharp-libvips-linux-x64/lib');

export interface Avx2OnlyEnv {
  /** Environment for the command: LD_AUDIT, AVX2_ONLY_LIBS (the redirects), AVX2_ONLY_HIDDEN. */
  env: Record<string, string>;
  /** The /proc/cpuinfo copy without the hidden flags. */
  cpuinfo: string;
  /** The flags this machine has that the command will not see. */
  hidden: string[];
}

/** /proc/cpuinfo's text with the AVX-512, VNNI and AMX flags removed from every `flags` line. */
export function maskCpuInfo(text: string): { text: string; hidden: string[] } {
  const hidden = new Set<string>();
  const masked = text.replace(/^(flags\s*:)(.*)$/gm, (_line, key: string, flags: string) => {
    const kept = flags
      .trim()
      .split(/\s+/)
      .filter((flag) => {
        if (!HIDDEN_FLAG.test(flag)) return true;
        hidden.add(flag);
        return false;
      });
    return `${key} ${kept.join(' ')}`;
  });
  return { text: masked, hidden: [...hidden].sort() };
}

/** File offsets of every `cpuid` instruction in an ELF file's code, from objdump's disassembly. */
async function cpuidOffsets(file: string): Promise<number[]> {
  const segments = execFileSync('readelf', ['-lW', file], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols[0] === 'LOAD')
    .map((cols) => ({ offset: Number(cols[1]), vaddr: Number(cols[2]), size: Number(cols[5]) }));
  const objdump = spawn('objdump', ['-d', '--no-show-raw-insn', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const offsets: number[] = [];
  for await (const line of createInterface({ input: objdump.stdout })) {
    const match = /^\s*([0-9a-f]+):\s+cpuid\s*$/.exec(line);
    if (!match) continue;
    const vaddr = Number.parseInt(match[1] as string, 16);
    const segment = segments.find((s) => s.vaddr <= vaddr && vaddr < s.vaddr + s.size);
    if (!segment) throw new Error(`${file}: cpuid at 0x${vaddr.toString(16)} is in no LOAD segment`);
    offsets.push(vaddr - segment.vaddr + segment.offset);
  }
  const code = await new Promise<number | null>((resolve) => objdump.on('close', resolve));
  if (code !== 0) throw new Error(`objdump -d ${file} exited with ${code}`);
  return offsets;
}

/** A copy of `file` in `dir` whose cpuid instructions trap (int3; nop); made once per content. */
async function patchedCopy(file: string, dir: string): Promise<string> {
  const out = join(dir, basename(file));
  if (existsSync(out)) return out;
  const bytes = readFileSync(file);
  const offsets = await cpuidOffsets(file);
  if (offsets.length === 0) throw new Error(`${file} has no cpuid instruction: nothing to mask`);
  for (const at of offsets) {
    if (bytes[at] !== 0x0f || bytes[at + 1] !== 0xa2) throw new Error(`${file}: no cpuid at offset ${at}`);
    bytes[at] = 0xcc;
    bytes[at + 1] = 0x90;
  }
  writeFileSync(`${out}.tmp`, bytes, { mode: 0o755 });
  renameSync(`${out}.tmp`, out);
  console.error(`avx2-only: ${offsets.length} cpuid sites trapped in ${out}`);
  return out;
}

/** Builds (once) the masked libraries, the handler and the cpuinfo copy for this checkout. */
export async function prepareAvx2Only(): Promise<Avx2OnlyEnv> {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    throw new Error(`avx2-only runs on x86-64 Linux, not ${process.platform}/${process.arch}`);
  const vipsName = existsSync(VIPS_DIR)
    ? readdirSync(VIPS_DIR).find((name) => name.startsWith('libvips-cpp.so'))
    : undefined;
  if (!existsSync(ORT_LIB) || !vipsName)
    throw new Error('avx2-only: run npm ci first (onnxruntime-node, sharp)');
  const vipsLib = join(VIPS_DIR, vipsName);
  const key = createHash('sha256');
  for (const file of [SHIM_SOURCE, ORT_LIB, vipsLib]) key.update(readFileSync(file));
  const dir = join(cacheDir('avx2-only'), key.digest('hex').slice(0, 16));
  mkdirSync(dir, { recursive: true });
  const shim = join(dir, 'cpuid-mask.so');
  if (!existsSync(shim)) {
    execFileSync('gcc', ['-O2', '-shared', '-fPIC', '-o', `${shim}.tmp`, SHIM_SOURCE], { stdio: 'inherit' });
    renameSync(`${shim}.tmp`, shim);
  }
  const ort = await patchedCopy(ORT_LIB, dir);
  const vips = await patchedCopy(vipsLib, dir);
  const { text, hidden } = maskCpuInfo(readFileSync('/proc/cpuinfo', 'utf8'));
  const cpuinfo = join(dir, 'cpuinfo');
  writeFileSync(cpuinfo, text);
  // The shim goes first in each list, once (a run inside a run leaves the lists as they are).
  const first = (list: string | undefined, separator: string) =>
    [...new Set([shim, ...(list ?? '').split(separator).filter(Boolean)])].join(separator);
  return {
    env: {
      LD_AUDIT: first(process.env.LD_AUDIT, ':'),
      LD_PRELOAD: first(process.env.LD_PRELOAD, ' '),
      AVX2_ONLY_LIBS: `${basename(ORT_LIB)}=${ort};${vipsName}=${vips}`,
      AVX2_ONLY_HIDDEN: hidden.join(' ') || 'none',
    },
    cpuinfo,
    hidden,
  };
}

/** The argv that runs `command` with the masked /proc/cpuinfo (a private mount namespace). */
export function avx2OnlyArgv(prepared: Pick<Avx2OnlyEnv, 'cpuinfo'>, command: string[]): string[] {
  const root = process.getuid?.() === 0;
  return [
    'unshare',
    '--mount',
    ...(root ? [] : ['--map-root-user']),
    'sh',
    '-c',
    'mount --bind "$0" /proc/cpuinfo && exec "$@"',
    prepared.cpuinfo,
    ...command,
  ];
}

async function main(): Promise<void> {
  const command = process.argv.slice(2);
  if (command.length === 0) {
    console.error('usage: npm run lab:avx2-only -- <command> [args...]');
    process.exit(2);
  }
  const prepared = await prepareAvx2Only();
  console.error(
    `avx2-only: hiding ${prepared.hidden.length ? prepared.hidden.join(' ') : 'nothing (this CPU has none of them)'}`,
  );
  const [file, ...args] = avx2OnlyArgv(prepared, command) as [string, ...string[]];
  const child = spawnSync(file, args, { stdio: 'inherit', env: { ...process.env, ...prepared.env } });
  if (child.error) throw child.error;
  if (child.signal) console.error(`avx2-only: the command was killed by ${child.signal}`);
  process.exit(child.status ?? 1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`avx2-only: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  });
}
