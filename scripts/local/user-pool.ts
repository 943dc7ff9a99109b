/**
 * The user pool's own API (Amazon Cognito, or cognito-local on loopback) for the things a checkout
 * does: set up the local pool as serverless.yml sets up the real one, add users, sign in. Used by
 * `npm run users` (scripts/users.ts), `npm start` (scripts/start.ts) and the tests.
 */
import { randomBytes, randomInt } from 'node:crypto';
import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminDeleteUserCommand,
  AdminGetUserCommand,
  AdminListGroupsForUserCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  CreateGroupCommand,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
  InitiateAuthCommand,
  ListGroupsCommand,
  ListUserPoolClientsCommand,
  ListUserPoolsCommand,
  ListUsersCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { EDITORS_GROUP, VIEWERS_GROUP } from '../../src/auth/tokens.ts';

/** A pool and the app client the page and the scripts sign in with. */
export interface PoolRef {
  client: CognitoIdentityProviderClient;
  poolId: string;
  clientId: string;
  /** The `iss` of its tokens (AUTH_ISSUER). */
  issuer: string;
}

/** The SDK client of a pool's API: `endpoint` for cognito-local (any credentials), else AWS's. */
export function poolClient(options: { endpoint?: string; region?: string }): CognitoIdentityProviderClient {
  return options.endpoint
    ? new CognitoIdentityProviderClient({
        endpoint: options.endpoint,
        region: options.region ?? 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      })
    : new CognitoIdentityProviderClient(options.region ? { region: options.region } : {});
}

/** As serverless.yml's UserPoolClient: no secret, password sign-in and refresh, 1-hour access tokens. */
export const APP_CLIENT = {
  ClientName: 'page',
  GenerateSecret: false,
  ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
  AccessTokenValidity: 60,
  IdTokenValidity: 60,
  RefreshTokenValidity: 30,
  TokenValidityUnits: { AccessToken: 'minutes', IdToken: 'minutes', RefreshToken: 'days' },
  PreventUserExistenceErrors: 'ENABLED',
  EnableTokenRevocation: true,
} as const;

/**
 * The local pool named `name` with its app client and the editors and viewers groups, created when
 * missing (cognito-local keeps them in its data folder, so a restart finds the same ids).
 * `created` says whether the pool is new.
 */
export async function ensureLocalPool(
  endpoint: string,
  name: string,
): Promise<PoolRef & { created: boolean }> {
  const client = poolClient({ endpoint });
  const pools = await client.send(new ListUserPoolsCommand({ MaxResults: 60 }));
  let poolId = pools.UserPools?.find((p) => p.Name === name)?.Id;
  const created = poolId === undefined;
  if (!poolId) {
    const pool = await client.send(
      new CreateUserPoolCommand({
        PoolName: name,
        UsernameAttributes: ['email'],
        AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      }),
    );
    poolId = pool.UserPool?.Id;
    if (!poolId) throw new Error('the local user pool answered CreateUserPool without an id');
  }
  const clients = await client.send(new ListUserPoolClientsCommand({ UserPoolId: poolId, MaxResults: 60 }));
  let clientId = clients.UserPoolClients?.find((c) => c.ClientName === APP_CLIENT.ClientName)?.ClientId;
  if (!clientId) {
    const made = await client.send(
      new CreateUserPoolClientCommand({
        UserPoolId: poolId,
        ...APP_CLIENT,
        ExplicitAuthFlows: [...APP_CLIENT.ExplicitAuthFlows],
      }),
    );
    clientId = made.UserPoolClient?.ClientId;
    if (!clientId) throw new Error('the local user pool answered CreateUserPoolClient without an id');
  }
  const groups = await client.send(new ListGroupsCommand({ UserPoolId: poolId }));
  for (const group of [EDITORS_GROUP, VIEWERS_GROUP])
    if (!groups.Groups?.some((g) => g.GroupName === group))
      await client.send(new CreateGroupCommand({ UserPoolId: poolId, GroupName: group }));
  return { client, poolId, clientId, issuer: `${endpoint.replace(/\/$/, '')}/${poolId}`, created };
}

/** A password Cognito's default policy accepts (upper, lower, digit, symbol; 20 characters). */
export function newPassword(): string {
  const pick = (chars: string) => chars[randomInt(chars.length)];
  const body = randomBytes(12).toString('base64url');
  return `${pick('ABCDEFGHJKLMNPQRSTUVWXYZ')}${pick('abcdefghijkmnpqrstuvwxyz')}${pick('23456789')}${pick('!#%+-=')}${body}`;
}

export type UserRole = 'member' | 'editor' | 'viewer';

/**
 * Adds a user (an e-mail address) with a permanent password (given, or a new one returned) and the
 * group of its role; no e-mail is sent. An existing user keeps its password unless one is given.
 */
export async function addUser(
  pool: PoolRef,
  email: string,
  options: { role?: UserRole; password?: string } = {},
): Promise<{ email: string; password?: string; existed: boolean }> {
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new Error(`not an e-mail address: ${JSON.stringify(email)}`);
  const existed = await pool.client
    .send(new AdminGetUserCommand({ UserPoolId: pool.poolId, Username: email }))
    .then(
      () => true,
      (err: Error) => {
        if (err.name === 'UserNotFoundException') return false;
        throw err;
      },
    );
  const password = options.password ?? (existed ? undefined : newPassword());
  if (!existed)
    await pool.client.send(
      new AdminCreateUserCommand({
        UserPoolId: pool.poolId,
        Username: email,
        MessageAction: 'SUPPRESS',
        TemporaryPassword: password,
        UserAttributes: [
          { Name: 'email', Value: email },
          { Name: 'email_verified', Value: 'true' },
        ],
      }),
    );
  if (password)
    await pool.client.send(
      new AdminSetUserPasswordCommand({
        UserPoolId: pool.poolId,
        Username: email,
        Password: password,
        Permanent: true,
      }),
    );
  const group =
    options.role === 'editor' ? EDITORS_GROUP : options.role === 'viewer' ? VIEWERS_GROUP : undefined;
  if (group)
    await pool.client.send(
      new AdminAddUserToGroupCommand({ UserPoolId: pool.poolId, Username: email, GroupName: group }),
    );
  return { email, existed, ...(password ? { password } : {}) };
}

export async function deleteUser(pool: PoolRef, email: string): Promise<void> {
  await pool.client.send(new AdminDeleteUserCommand({ UserPoolId: pool.poolId, Username: email }));
}

/** The pool's users with their groups. */
export async function listUsers(
  pool: PoolRef,
): Promise<{ email: string; groups: string[]; status: string }[]> {
  const users = await pool.client.send(new ListUsersCommand({ UserPoolId: pool.poolId }));
  const out = [];
  for (const user of users.Users ?? []) {
    const username = user.Username ?? '';
    const email = user.Attributes?.find((a) => a.Name === 'email')?.Value ?? username;
    const groups = await pool.client.send(
      new AdminListGroupsForUserCommand({ UserPoolId: pool.poolId, Username: username }),
    );
    out.push({
      email,
      groups: (groups.Groups ?? []).map((g) => g.GroupName ?? ''),
      status: user.UserStatus ?? '',
    });
  }
  return out;
}

export interface Tokens {
  accessToken: string;
  idToken: string;
  refreshToken: string;
  expiresIn: number;
}

/** InitiateAuth USER_PASSWORD_AUTH, as the page signs in. */
export async function signIn(pool: PoolRef, email: string, password: string): Promise<Tokens> {
  const out = await pool.client.send(
    new InitiateAuthCommand({
      ClientId: pool.clientId,
      AuthFlow: 'USER_PASSWORD_AUTH',
      AuthParameters: { USERNAME: email, PASSWORD: password },
    }),
  );
  const result = out.AuthenticationResult;
  if (!result?.AccessToken || !result.IdToken || !result.RefreshToken)
    throw new Error(
      `sign-in of ${email} did not finish (${out.ChallengeName ?? 'no tokens'}): set a permanent password with npm run users -- add`,
    );
  return {
    accessToken: result.AccessToken,
    idToken: result.IdToken,
    refreshToken: result.RefreshToken,
    expiresIn: result.ExpiresIn ?? 3600,
  };
}
