/**
 * A local user pool (cognito-local 5, a real emulation of the Cognito user pool API: users, groups,
 * InitiateAuth, RS256 JWTs and the JWKS that verifies them) on loopback, as a child process whose data
 * lives in `directory` (its .cognito/ folder: config and db). Used by `npm start`, `npm run users`
 * and the tests. Its tokens' issuer is http://<address>:<port>/<pool id>.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';

export interface LocalCognito {
  endpoint: string;
  child: ChildProcess;
  close(): Promise<void>;
}

const START = createRequire(import.meta.url).resolve('cognito-local/lib/bin/start.js');

export async function startLocalCognito(options: {
  directory: string;
  port: number;
  address?: string;
  readySeconds?: number;
}): Promise<LocalCognito> {
  const address = options.address ?? '127.0.0.1';
  await mkdir(options.directory, { recursive: true });
  const child = spawn(process.execPath, [START], {
    cwd: options.directory,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, PORT: String(options.port), HOST: address, NO_COLOR: '1' },
  });
  let output = '';
  const collect = (d: Buffer) => {
    output = (output + d.toString()).slice(-20_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const endpoint = `http://${address}:${options.port}`;
  const close = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + (options.readySeconds ?? 30) * 1000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`the local user pool (cognito-local) exited with code ${child.exitCode}:\n${output}`);
    const res = await fetch(`${endpoint}/health`).catch(() => undefined);
    if (res?.ok) return { endpoint, child, close };
    await new Promise((r) => setTimeout(r, 200));
  }
  await close();
  throw new Error(`the local user pool (cognito-local) did not answer on ${endpoint}:\n${output}`);
}
