/**
 * `npm start` for tests: scripts/start.ts spawned as `npm start` runs it, on free loopback ports,
 * with its data in a temporary folder; resolves once it prints that it is ready. Signed in by default
 * as npm start is: `user` is the local user it printed and `token()` signs it in (InitiateAuth);
 * pass `--public` where the test is not about sign-in.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PoolRef, poolClient, signIn } from '../../scripts/local/user-pool.ts';
import { ROOT } from './shared.ts';

/** n distinct free loopback ports (all held open together, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, async () => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return server;
    }),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export interface LocalStack {
  child: ChildProcess;
  /** The HTTP API and page. */
  base: string;
  /** The local S3. */
  s3: string;
  /** The local S3 Vectors (AWS_ENDPOINT_URL_S3VECTORS of the handlers). */
  vectors: string;
  /** The local Lambda invoke API's port (LOCAL_LAMBDA_PORT). */
  lambdaPort: number;
  /** LOCAL_DATA_DIR of this stack. */
  data: string;
  /** Everything it printed so far. */
  output(): string;
  /** The user npm start added and printed (undefined with --public). */
  user?: { email: string; password: string };
  /** The local user pool (undefined with --public). */
  pool?: PoolRef;
  /** An access token of `user` (fresh each call); throws with --public. */
  token(): Promise<string>;
  /** {authorization: Bearer <token>} of `user`, or {} with --public. */
  authHeaders(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

export async function startLocalStack(args: string[], readySeconds = 180): Promise<LocalStack> {
  const data = await mkdtemp(join(tmpdir(), 'local-stack-'));
  const [http, lambda, s3Port, dynamo, vectors, cognito] = (await freePorts(6)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '--import', 'tsx', join(ROOT, 'scripts/start.ts'), ...args],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        LOCAL_HTTP_PORT: String(http),
        LOCAL_LAMBDA_PORT: String(lambda),
        LOCAL_S3_PORT: String(s3Port),
        LOCAL_DYNAMO_PORT: String(dynamo),
        LOCAL_VECTORS_PORT: String(vectors),
        LOCAL_COGNITO_PORT: String(cognito),
        LOCAL_DATA_DIR: join(data, 'stack'),
      },
    },
  );
  let output = '';
  const collect = (d: Buffer) => {
    output += d.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await rm(data, { recursive: true, force: true });
  };
  for (let i = 0; i < readySeconds * 4 && !output.includes('[start] ready:'); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  if (!output.includes('[start] ready:')) {
    await stop();
    throw new Error(`npm start was not ready (exit ${child.exitCode}):\n${output}`);
  }
  const printedUser = /local user: (\S+) {2}password: (\S+)/.exec(output);
  const printedPool = /local user pool on (\S+), pool (\S+), app client (\S+) /.exec(output);
  const user = printedUser ? { email: printedUser[1] ?? '', password: printedUser[2] ?? '' } : undefined;
  const pool: PoolRef | undefined = printedPool
    ? {
        client: poolClient({ endpoint: printedPool[1] }),
        poolId: printedPool[2] ?? '',
        clientId: printedPool[3] ?? '',
        issuer: `${printedPool[1]}/${printedPool[2]}`,
      }
    : undefined;
  const token = async () => {
    if (!pool || !user) throw new Error('this stack runs --public: no user to sign in');
    return (await signIn(pool, user.email, user.password)).accessToken;
  };
  return {
    user,
    pool,
    token,
    authHeaders: async (): Promise<Record<string, string>> =>
      pool ? { authorization: `Bearer ${await token()}` } : {},
    child,
    base: `http://127.0.0.1:${http}`,
    s3: `http://127.0.0.1:${s3Port}`,
    vectors: `http://127.0.0.1:${vectors}`,
    lambdaPort: lambda,
    data: join(data, 'stack'),
    output: () => output,
    stop,
  };
}
