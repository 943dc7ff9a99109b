/**
 * npm run users -- add <email> [--editor | --viewer] [--password-stdin]
 * npm run users -- list
 * npm run users -- token <email>
 *
 * The users who may sign in. Without --pool-id: the local user pool of `npm start` (cognito-local in
 * .cognito-local/ or LOCAL_DATA_DIR/cognito, on LOCAL_COGNITO_PORT; started for the command when
 * npm start is not running). With --pool-id <id> --client-id <id> [--region <r>]: a deployed Cognito
 * pool (the stack's outputs UserPoolId and UserPoolClientId), with the AWS credentials of the
 * environment (cognito-idp:AdminCreateUser, AdminSetUserPassword, AdminAddUserToGroup, ListUsers).
 *
 * add     adds a user with a permanent password, printed once (or read from stdin with
 *         --password-stdin); --editor: may also change names and labels; --viewer: may only search
 *         and view. An existing user gets the group (and the new password when one is given).
 * list    the users and their groups.
 * token   signs in (USER_PASSWORD_AUTH, as the page) and prints the access token alone, for scripts:
 *         curl -H "authorization: Bearer $(npm run -s users -- token me@example.com)" ...
 *         The password comes from USER_PASSWORD, or stdin, or a prompt (not echoed).
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startLocalCognito } from './local/local-cognito.ts';
import {
  addUser,
  ensureLocalPool,
  listUsers,
  type PoolRef,
  poolClient,
  signIn,
  type UserRole,
} from './local/user-pool.ts';
import { LOCAL, localDataDirs, localPort } from './start.ts';

const USAGE =
  'usage: npm run users -- add <email> [--editor|--viewer] [--password-stdin] | list | token <email>  [--pool-id <id> --client-id <id> [--region <r>]]';

/** Reads one line from stdin; on a terminal, prompts without echoing what is typed. */
async function readSecret(prompt: string): Promise<string> {
  const { stdin, stderr } = process;
  if (!stdin.isTTY) {
    const rl = createInterface({ input: stdin });
    for await (const line of rl) {
      rl.close();
      return line;
    }
    return '';
  }
  stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off('data', onData);
          stderr.write('\n');
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          stdin.setRawMode(false);
          reject(new Error('cancelled'));
          return;
        }
        if (ch === '\u007f') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** The deployed pool named by the options, or the local one (started here when npm start is not running). */
async function openPool(values: {
  'pool-id'?: string;
  'client-id'?: string;
  region?: string;
}): Promise<{ pool: PoolRef; where: string; close(): Promise<void> }> {
  const poolId = values['pool-id'] ?? process.env.USER_POOL_ID;
  const clientId = values['client-id'] ?? process.env.USER_POOL_CLIENT_ID;
  if (poolId || clientId) {
    if (!poolId || !clientId) throw new Error('--pool-id and --client-id go together (the stack outputs)');
    const region = values.region ?? poolId.split('_')[0];
    const client = poolClient(region ? { region } : {});
    return {
      pool: { client, poolId, clientId, issuer: `https://cognito-idp.${region}.amazonaws.com/${poolId}` },
      where: `user pool ${poolId}`,
      close: async () => client.destroy(),
    };
  }
  const port = localPort('cognito');
  const endpoint = `http://${LOCAL.host}:${port}`;
  const running = await fetch(`${endpoint}/health`).then(
    (r) => r.ok,
    () => false,
  );
  const dirs = localDataDirs();
  const server = running
    ? undefined
    : await startLocalCognito({ directory: dirs.cognito, port, address: LOCAL.host });
  const pool = await ensureLocalPool(endpoint, LOCAL.userPool);
  return {
    pool,
    where: `the local user pool (${dirs.cognitoName})`,
    close: async () => {
      pool.client.destroy();
      await server?.close();
    },
  };
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      editor: { type: 'boolean' },
      viewer: { type: 'boolean' },
      'password-stdin': { type: 'boolean' },
      'pool-id': { type: 'string' },
      'client-id': { type: 'string' },
      region: { type: 'string' },
    },
  });
  const [command, email] = positionals;
  if (!command || !['add', 'list', 'token'].includes(command) || (command !== 'list' && !email)) {
    console.error(USAGE);
    return 2;
  }
  if (values.editor && values.viewer) throw new Error('--editor and --viewer exclude each other');
  const { pool, where, close } = await openPool(values);
  try {
    if (command === 'list') {
      for (const user of await listUsers(pool))
        console.log(`${user.email}\t${user.groups.join(',') || 'member'}\t${user.status}`);
      return 0;
    }
    if (command === 'add') {
      const role: UserRole = values.editor ? 'editor' : values.viewer ? 'viewer' : 'member';
      const password = values['password-stdin'] ? await readSecret('password: ') : undefined;
      const user = await addUser(pool, email ?? '', { role, ...(password ? { password } : {}) });
      const what = `${user.existed ? 'updated' : 'added'} ${user.email} (${role}) in ${where}`;
      console.log(
        user.password && !password
          ? `${what}\npassword: ${user.password}   (shown once; give it to the user)`
          : what,
      );
      return 0;
    }
    const password = process.env.USER_PASSWORD ?? (await readSecret(`password of ${email}: `));
    const tokens = await signIn(pool, email ?? '', password);
    console.log(tokens.accessToken);
    return 0;
  } finally {
    await close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      // Cognito answers NotAuthorizedException for a wrong password or user; cognito-local also
      // InvalidPasswordException.
      const wrong = ['NotAuthorizedException', 'UserNotFoundException', 'InvalidPasswordException'];
      console.error(`[users] ${wrong.includes(err.name) ? 'wrong e-mail or password' : err.message}`);
      process.exit(1);
    },
  );
