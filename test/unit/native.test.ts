/**
 * src/classifier/native.ts loads sharp without semver: the stand-in gives sharp's one call at load
 * the real semver's answer and hands every other call to the real semver; in a fresh process no
 * semver module is loaded and sharp decodes.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../paths.ts';
import { semverStandIn } from '../../src/classifier/native.ts';

const require = createRequire(import.meta.url);
/** The part of semver's API sharp uses (the project has no semver types). */
interface Semver {
  coerce(version: string, options?: { includePrerelease?: boolean }): { version: string } | null;
  satisfies(version: string, range: string): boolean;
  gte(a: string, b: string): boolean;
}
const semver = createRequire(require.resolve('sharp'))('semver') as Semver;

describe('semverStandIn', () => {
  it("answers a plain version's coerce as semver does, without loading it", () => {
    let loads = 0;
    const standIn = semverStandIn(() => {
      loads++;
      return semver as unknown as Record<string, unknown>;
    }) as Semver;
    const sharpsLabel = JSON.parse(
      readFileSync(join(dirname(require.resolve('sharp')), '../package.json'), 'utf8'),
    ).config.libvips as string;
    for (const v of [sharpsLabel, '8.18.7', '>=8.18.7', '^1.2.3', '~0.0.0', '=10.20.30', '<2.0.0'])
      expect(standIn.coerce(v)?.version, v).toBe(semver.coerce(v)?.version);
    expect(loads).toBe(0);
  });

  it('hands every other call to the real semver', () => {
    let loads = 0;
    const standIn = semverStandIn(() => {
      loads++;
      return semver as unknown as Record<string, unknown>;
    }) as Semver;
    for (const v of ['v1.2', '1.2', '01.2.3', '1.2.3-rc.1', 'version 8.18.7 here', '>= 8.18.7'])
      expect(standIn.coerce(v)?.version, v).toBe(semver.coerce(v)?.version);
    expect(standIn.coerce('1.2.3-rc.1', { includePrerelease: true })?.version).toBe('1.2.3-rc.1');
    expect(standIn.satisfies('22.1.0', '>=20.9.0')).toBe(true);
    expect(standIn.gte('8.18.7', '8.17.0')).toBe(true);
    expect(loads).toBeGreaterThan(0);
  });
});

describe('loading sharp', () => {
  it('loads no semver module, and later requirers get the real semver', async () => {
    const script = `
      import { createRequire } from 'node:module';
      const { sharp } = await import(${JSON.stringify(`${ROOT}/src/classifier/native.ts`)});
      const require = createRequire(import.meta.url);
      const semverModules = Object.keys(require.cache).filter((k) => k.includes('/semver/')).length;
      const { info } = await sharp({ create: { width: 3, height: 2, channels: 3, background: '#102030' } })
        .png().toBuffer({ resolveWithObject: true });
      const real = createRequire(require.resolve('sharp'))('semver');
      console.log(JSON.stringify({ semverModules, width: info.width, realIsSemver: typeof real.SemVer === 'function' }));
    `;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: ROOT, timeout: 60_000 },
    );
    expect(JSON.parse(stdout)).toEqual({ semverModules: 0, width: 3, realIsSemver: true });
  });
});
