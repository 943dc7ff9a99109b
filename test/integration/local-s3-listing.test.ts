/**
 * The local S3 lists past its first page only with --openssl-legacy-provider (its continuation
 * tokens are DES-encrypted), which `npm start` passes: a backfill or `aws s3 ls` of over 1,000
 * local objects depends on it.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/shared.ts';

const run = promisify(execFile);

async function list(flags: string[]) {
  const { stdout } = await run(
    process.execPath,
    [...flags, '--import', 'tsx', join(ROOT, 'test/helpers/list-local-s3.ts')],
    { cwd: ROOT, timeout: 60_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
    tokensWork: boolean;
    keys: string[];
    error?: string;
  };
}

describe('local S3 listings over one page', () => {
  it('pages through every key as npm start runs it, and fails on page 1 without the flag', async () => {
    const pkg = (await import(join(ROOT, 'package.json'), { with: { type: 'json' } })).default as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.start).toContain('--openssl-legacy-provider');
    expect(await list(['--openssl-legacy-provider'])).toEqual({
      tokensWork: true,
      keys: ['uploads/a.jpg', 'uploads/b.jpg', 'uploads/c.jpg'],
    });
    expect(await list([])).toMatchObject({ tokensWork: false, keys: [], error: 'InternalError' });
  }, 120_000);
});
