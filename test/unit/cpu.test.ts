/** The CPU-flag choice of int8 weight storage, on real /proc/cpuinfo files of three kinds of machine. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ARM64_RULE,
  chooseStorage,
  NO_VNNI_REASON,
  parseCpuInfo,
  readCpuInfo,
  storageExactness,
} from '../../src/classifier/cpu.ts';

const fixture = (name: string) => join(import.meta.dirname, '../fixtures/cpuinfo', name);

describe('readCpuInfo + chooseStorage', () => {
  it('picks s8 on an x86 CPU with AVX512-VNNI (AMD EPYC Zen 4)', () => {
    const cpu = readCpuInfo(fixture('x64-avx512vnni-amd-epyc-zen4.txt'), 'x64');
    expect(cpu.flags?.has('avx512_vnni')).toBe(true);
    expect(cpu.model).toBe('AMD EPYC');
    expect(chooseStorage(cpu)).toEqual({
      storage: 's8',
      reason: 'x86 with AVX512-VNNI: u8 x s8 dot products accumulate exactly in int32',
    });
  });

  it('picks u8 on an x86 CPU with AVX2 and no VNNI (AMD EPYC 7R32, Zen 2)', () => {
    const cpu = readCpuInfo(fixture('x64-avx2-amd-epyc-zen2.txt'), 'x64');
    expect(cpu.flags?.has('avx2')).toBe(true);
    expect(cpu.model).toBe('AMD EPYC 7R32');
    expect(chooseStorage(cpu)).toEqual({ storage: 'u8', reason: NO_VNNI_REASON });
    expect(NO_VNNI_REASON).toMatch(/vpmaddubsw/);
  });

  it('applies the arm64 rule on Graviton2 (Neoverse N1, asimddp)', () => {
    const cpu = readCpuInfo(fixture('arm64-graviton2-neoverse-n1.txt'), 'arm64');
    expect(cpu.flags?.has('asimddp')).toBe(true);
    expect(cpu.model).toBe('0xd0c');
    expect(chooseStorage(cpu)).toBe(ARM64_RULE);
  });

  it('picks u8 (exact everywhere) and says why when /proc/cpuinfo cannot be read', () => {
    const cpu = readCpuInfo(fixture('no-such-file.txt'), 'x64');
    expect(cpu.flags).toBeNull();
    const choice = chooseStorage(cpu);
    expect(choice.storage).toBe('u8');
    expect(choice.reason).toMatch(/CPU flags unknown \(cannot read .*no-such-file.txt \(ENOENT\)\)/);
    expect(chooseStorage(parseCpuInfo('processor : 0\n', 'x64')).storage).toBe('u8');
    expect(chooseStorage(readCpuInfo(fixture('no-such-file.txt'), 'arm64')).storage).toBe('u8');
  });

  it('recognises AVX-VNNI (e.g. Intel Alder Lake) as well', () => {
    const choice = chooseStorage(parseCpuInfo('flags\t\t: sse avx2 avx_vnni\n', 'x64'));
    expect(choice).toEqual({
      storage: 's8',
      reason: 'x86 with AVX-VNNI: u8 x s8 dot products accumulate exactly in int32',
    });
  });

  it('needs the flag on every processor, and looks at the running architecture', () => {
    const mixed = 'processor\t: 0\nflags\t\t: avx2 avx512_vnni\n\nprocessor\t: 1\nflags\t\t: avx2\n';
    expect(chooseStorage(parseCpuInfo(mixed, 'x64')).storage).toBe('u8');
    // x86 flags under an arm64 node (or the reverse) are not trusted for the x86 rule.
    const vnni = 'flags\t\t: avx2 avx512_vnni\n';
    expect(chooseStorage(parseCpuInfo(vnni, 'arm64'))).toBe(ARM64_RULE);
    expect(chooseStorage(parseCpuInfo(vnni, 'riscv64')).storage).toBe('u8');
  });

  it('reads this machine without failing', () => {
    const choice = chooseStorage(readCpuInfo());
    expect(['s8', 'u8']).toContain(choice.storage);
    expect(choice.reason.length).toBeGreaterThan(10);
  });
});

describe('storageExactness', () => {
  const fixtures = [
    ['x64-avx512vnni-amd-epyc-zen4.txt', 'x64', true],
    ['x64-avx2-amd-epyc-zen2.txt', 'x64', false],
    ['arm64-graviton2-neoverse-n1.txt', 'arm64', true],
    ['arm64-graviton3-neoverse-v1.txt', 'arm64', true],
    ['arm64-cortex-a72.txt', 'arm64', true],
  ] as const;

  it.each(fixtures)(
    '%s: s8 exact = %s, u8, s8-7bit, mixed and fp32 always exact, and auto always picks an exact storage',
    (file, arch, s8) => {
      const cpu = readCpuInfo(fixture(file), arch);
      expect(storageExactness(cpu, 's8').exact).toBe(s8);
      for (const storage of ['u8', 's8-7bit', 'mixed', 'fp32'] as const)
        expect(storageExactness(cpu, storage).exact).toBe(true);
      expect(storageExactness(cpu, chooseStorage(cpu).storage).exact).toBe(true);
    },
  );

  it('does not claim s8 exact when the flags cannot be read or the architecture is unknown', () => {
    expect(storageExactness(readCpuInfo(fixture('no-such-file.txt'), 'x64'), 's8').exact).toBe(false);
    expect(storageExactness(parseCpuInfo('flags : avx512_vnni\n', 'riscv64'), 's8').exact).toBe(false);
    expect(storageExactness(readCpuInfo(fixture('no-such-file.txt'), 'x64'), 'fp32').exact).toBe(true);
  });
});
