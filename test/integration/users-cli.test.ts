/**
 * `npm run users` against the local user pool of a data folder: the first command finds no pool
 * running and starts cognito-local for itself; the others talk to one running there, as while
 * `npm start` runs. Adds an editor and a viewer, lists them with their groups, signs in for a token,
 * and refuses a wrong password and a bad address in one line each.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCognito, startLocalCognito } from '../../scripts/local/local-cognito.ts';
import { claimsOf } from '../helpers/fake-issuer.ts';
import { freePorts } from '../helpers/local-stack.ts';
import { ROOT } from '../helpers/shared.ts';

const run = promisify(execFile);

describe('npm run users (the local pool)', () => {
  let data: string;
  let env: NodeJS.ProcessEnv;
  let port: number;
  let running: LocalCognito | undefined;
  const users = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    run(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/users.ts'), ...args], {
      cwd: ROOT,
      env: { ...env, ...extra },
      timeout: 60_000,
    });

  beforeAll(async () => {
    data = await mkdtemp(join(tmpdir(), 'users-cli-'));
    [port] = (await freePorts(1)) as [number];
    env = { ...process.env, LOCAL_DATA_DIR: data, LOCAL_COGNITO_PORT: String(port) };
  });
  afterAll(async () => {
    await running?.close();
    if (data) await rm(data, { recursive: true, force: true });
  });

  it('adds users with their roles, lists them, and signs in for a token', async () => {
    const added = await users(['add', 'ann@example.com', '--editor']);
    expect(added.stdout).toMatch(/^added ann@example\.com \(editor\) in the local user pool \(.*cognito\)\n/);
    const password = /password: (\S+) {3}\(shown once/.exec(added.stdout)?.[1] ?? '';
    expect(password).toHaveLength(20);
    running = await startLocalCognito({ directory: join(data, 'cognito'), port });
    await users(['add', 'cy@example.com', '--viewer']);
    const listed = (await users(['list'])).stdout.trim().split('\n').sort();
    expect(listed).toEqual(['ann@example.com\teditors\tCONFIRMED', 'cy@example.com\tviewers\tCONFIRMED']);
    // The token alone on stdout, for scripts; an access token of the pool, with the editor's group.
    const token = (await users(['token', 'ann@example.com'], { USER_PASSWORD: password })).stdout.trim();
    expect(token.split('.')).toHaveLength(3);
    expect(claimsOf(token)).toMatchObject({ token_use: 'access', 'cognito:groups': ['editors'] });
    const wrong = await users(['token', 'ann@example.com'], { USER_PASSWORD: 'nope' }).then(
      () => undefined,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(wrong?.code).toBe(1);
    expect(wrong?.stderr).toContain('[users] wrong e-mail or password');
  }, 240_000);
});
