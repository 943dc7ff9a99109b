/**
 * The api's own token check (src/auth/tokens.ts, src/http/access.ts), the second of the two (API
 * Gateway's JWT authorizer is the first): the same suite against a fake issuer (its JWKS served on
 * loopback) and against a real local user pool (cognito-local, tokens from InitiateAuth). Every bad
 * token gets 401 with a JSON error and a WWW-Authenticate header, before any route runs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateUserPoolClientCommand, InitiateAuthCommand } from '@aws-sdk/client-cognito-identity-provider';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCognito, startLocalCognito } from '../../scripts/local/local-cognito.ts';
import { addUser, ensureLocalPool, signIn } from '../../scripts/local/user-pool.ts';
import { type Access, callerOf, userPoolAccess } from '../../src/http/access.ts';
import { createApi } from '../../src/http/api.ts';
import {
  claimsOf,
  type FakeIssuer,
  headerOf,
  newRsaKey,
  signJwt,
  startFakeIssuer,
} from '../helpers/fake-issuer.ts';
import { fakeClassifier } from '../helpers/fakes.ts';
import { freePorts } from '../helpers/local-stack.ts';

/** The tokens one issuer gives the suite. */
interface Tokens {
  member: string;
  viewer: string;
  editor: string;
  expired: string;
  otherClient: string;
  otherIssuer: string;
  /** The member's ID token, its verified e-mail address, and the viewer's ID token. */
  idToken: string;
  email: string;
  otherIdToken: string;
  refreshToken: string;
}

const EDITOR_ROUTES = [{ method: 'POST', path: '/labels' }];

const event = (method: string, path: string, authorization?: string, body?: Buffer) =>
  ({
    rawPath: path,
    requestContext: { http: { method } },
    headers: {
      'content-type': 'application/octet-stream',
      ...(authorization ? { Authorization: authorization } : {}),
    },
    body: body?.toString('base64'),
    isBase64Encoded: body !== undefined,
  }) as unknown as APIGatewayProxyEventV2;

const image = Buffer.from([9, 1, 2, 3]);

/** Forged (another key, same kid), unsigned, and with a changed payload: made from a good token. */
function forgeries(good: string): Record<string, string> {
  const header = headerOf(good);
  const claims = claimsOf(good);
  const [h, , s] = good.split('.');
  return {
    forged: signJwt(header, claims, newRsaKey()),
    'alg none': signJwt({ ...header, alg: 'none' }, claims),
    'alg none, no kid': signJwt({ alg: 'none', typ: 'JWT' }, claims),
    'HS256 with the public key id': signJwt({ ...header, alg: 'HS256' }, claims).replace(/\.$/, `.${s}`),
    'payload changed (role)': `${h}.${Buffer.from(JSON.stringify({ ...claims, 'cognito:groups': ['editors'] })).toString('base64url')}.${s}`,
    'not a JWT': 'abc.def',
    garbage: '!!!',
  };
}

function tokenSuite(
  name: string,
  setup: () => Promise<{ access: Access; tokens: Tokens; close(): Promise<void> }>,
) {
  describe(name, () => {
    let api: ReturnType<typeof createApi>;
    let tokens: Tokens;
    let access: Access;
    let close: () => Promise<void>;
    beforeAll(async () => {
      const made = await setup();
      tokens = made.tokens;
      access = made.access;
      close = made.close;
      api = createApi({ classifier: fakeClassifier(), access: made.access, editorRoutes: EDITOR_ROUTES });
    }, 60_000);
    afterAll(async () => close?.());

    const call = async (method: string, path: string, token?: string, body?: Buffer) => {
      const res = await api(event(method, path, token === undefined ? undefined : `Bearer ${token}`, body));
      return { status: res.statusCode, headers: res.headers ?? {}, body: JSON.parse(res.body || '{}') };
    };
    const expect401 = async (token: string | undefined, path = '/classify') => {
      const res = await call('POST', path, token, image);
      expect(res.status, String(token).slice(0, 40)).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="image-tagger"/);
      expect(res.body.error.code).toBe('Unauthorized');
      return res.body.error.message as string;
    };

    it('a valid access token reaches the route; the page and /health need none', async () => {
      const ok = await call('POST', '/classify', tokens.member, image);
      expect(ok.status).toBe(200);
      expect(ok.body.labels[0].label).toBe('label-9');
      const health = await call('GET', '/health');
      expect(health.status).toBe(200);
      // Where the page signs in: the pool API's endpoint (the issuer's origin) and the app client.
      expect(health.body.signIn).toMatchObject({
        endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      });
      expect(health.body.signIn.clientId).not.toBe('');
      // The page may talk to that endpoint (its CSP's connect-src), and to nothing else new.
      const page = await api(event('GET', '/'));
      expect(page.headers?.['content-security-policy']).toContain(
        `connect-src 'self' ${health.body.signIn.endpoint};`,
      );
      expect((await api(event('GET', '/'))).statusCode).toBe(200);
    });

    it('no token, another scheme, or an empty one: 401', async () => {
      expect(await expect401(undefined)).toMatch(/sign in/);
      const basic = await api(event('POST', '/classify', 'Basic dXNlcjpwYXNz', image));
      expect(basic.statusCode).toBe(401);
      expect((await api(event('POST', '/classify', 'Bearer ', image))).statusCode).toBe(401);
    });

    it('forged, unsigned (alg none), tampered and malformed tokens: 401', async () => {
      for (const [what, token] of Object.entries(forgeries(tokens.member)))
        expect(await expect401(token), what).toMatch(/invalid token/);
    });

    it('expired, another app client, another issuer: 401', async () => {
      expect(await expect401(tokens.expired)).toMatch(/expired/i);
      expect(await expect401(tokens.otherClient)).toMatch(/client/);
      expect(await expect401(tokens.otherIssuer)).toMatch(/iss/i);
    });

    it('an ID token or a refresh token in place of the access token: 401', async () => {
      expect(await expect401(tokens.idToken)).toMatch(/not an access token/);
      expect(await expect401(tokens.refreshToken)).toMatch(/invalid token/);
    });

    it("the caller's ID token (X-Id-Token) gives its verified e-mail address; another user's, a forged one or an access token none", async () => {
      const withIdToken = (idToken: string) =>
        ({ ...event('PUT', '/labels/x'), headers: { 'X-Id-Token': idToken } }) as APIGatewayProxyEventV2;
      if (access.mode !== 'user-pool') throw new Error('a user pool suite');
      const me = await access.verifier.verify(tokens.member);
      expect(await callerOf(access, withIdToken(tokens.idToken), me)).toEqual({
        name: me.username,
        email: tokens.email,
      });
      for (const idToken of [tokens.otherIdToken, tokens.member, forgeries(tokens.idToken).forged ?? '', ''])
        expect(await callerOf(access, withIdToken(idToken), me)).toEqual({ name: me.username });
      expect(await callerOf(access, event('PUT', '/labels/x'), me)).toEqual({ name: me.username });
    });

    it('every path but the page and /health is checked before routing, unknown ones too', async () => {
      for (const path of ['/images', '/images/uploads/a.jpg', '/uploads', '/similar', '/nope', '/health/x'])
        await expect401(undefined, path);
      // Signed in, a path nobody routes is a plain 404.
      expect((await call('GET', '/nope', tokens.member)).status).toBe(404);
    });

    it('roles: viewers read only, members also upload and classify, editors also the editor routes', async () => {
      expect((await call('GET', '/nope', tokens.viewer)).status).toBe(404); // a GET: allowed, then routed
      const viewerPost = await call('POST', '/classify', tokens.viewer, image);
      expect(viewerPost.status).toBe(403);
      // A 403 says the caller's role and the one the route needs (the page words it in its language).
      expect(viewerPost.body.error).toMatchObject({ code: 'Forbidden', role: 'viewer', needs: 'member' });
      const memberEdit = await call('POST', '/labels', tokens.member);
      expect(memberEdit.status).toBe(403);
      expect(memberEdit.body.error.message).toMatch(/editors group/);
      expect(memberEdit.body.error).toMatchObject({ role: 'member', needs: 'editor' });
      expect((await call('POST', '/labels', tokens.editor)).status).toBe(404); // allowed, then routed
      expect((await call('POST', '/classify', tokens.editor, image)).status).toBe(200);
    });
  });
}

tokenSuite('the api verifies tokens of a fake issuer (JWKS on loopback)', async () => {
  const fake: FakeIssuer = await startFakeIssuer();
  const other = await startFakeIssuer();
  const now = Math.floor(Date.now() / 1000);
  const access: Access = userPoolAccess({ issuer: fake.issuer, clientIds: [fake.clientId] });
  return {
    access,
    tokens: {
      member: fake.accessToken(),
      viewer: fake.accessToken({ 'cognito:groups': ['viewers'] }),
      editor: fake.accessToken({ 'cognito:groups': ['editors'] }),
      expired: fake.accessToken({ iat: now - 7200, exp: now - 60 }),
      otherClient: fake.accessToken({ client_id: 'another-client' }),
      // Signed by the right key, but naming another issuer.
      otherIssuer: fake.accessToken({ iss: other.issuer }),
      idToken: fake.accessToken({
        token_use: 'id',
        aud: fake.clientId,
        client_id: undefined,
        email: 'member@example.com',
        email_verified: true,
      }),
      email: 'member@example.com',
      otherIdToken: fake.accessToken({
        token_use: 'id',
        aud: fake.clientId,
        client_id: undefined,
        sub: 'user-2',
        email: 'viewer@example.com',
        email_verified: true,
      }),
      refreshToken: fake.accessToken({ token_use: undefined, client_id: undefined }),
    },
    close: async () => {
      await fake.close();
      await other.close();
    },
  };
});

tokenSuite('the api verifies tokens of a local user pool (cognito-local)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cognito-'));
  const [port] = (await freePorts(1)) as [number];
  let cognito: LocalCognito | undefined;
  try {
    cognito = await startLocalCognito({ directory: dir, port });
    const pool = await ensureLocalPool(cognito.endpoint, 'tokens-test');
    const otherPool = await ensureLocalPool(cognito.endpoint, 'tokens-test-other');
    const users: Record<string, string> = {};
    for (const [email, role] of [
      ['member@example.com', 'member'],
      ['viewer@example.com', 'viewer'],
      ['editor@example.com', 'editor'],
    ] as const)
      users[role] = (await addUser(pool, email, { role })).password ?? '';
    const member = await signIn(pool, 'member@example.com', users.member ?? '');
    // Another app client of the same pool, and one whose access tokens live 1 second.
    const extra = async (name: string, seconds?: number) =>
      (
        await pool.client.send(
          new CreateUserPoolClientCommand({
            UserPoolId: pool.poolId,
            ClientName: name,
            ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH'],
            ...(seconds
              ? { AccessTokenValidity: seconds, TokenValidityUnits: { AccessToken: 'seconds' } }
              : {}),
          }),
        )
      ).UserPoolClient?.ClientId ?? '';
    const tokenOf = async (clientId: string, email = 'member@example.com', password = users.member) =>
      (
        await pool.client.send(
          new InitiateAuthCommand({
            ClientId: clientId,
            AuthFlow: 'USER_PASSWORD_AUTH',
            AuthParameters: { USERNAME: email, PASSWORD: password ?? '' },
          }),
        )
      ).AuthenticationResult?.AccessToken ?? '';
    const shortLived = await extra('short', 1);
    const expired = await tokenOf(shortLived);
    const otherClient = await tokenOf(await extra('other'));
    await addUser(otherPool, 'member@example.com', { password: users.member });
    const otherIssuer = (await signIn(otherPool, 'member@example.com', users.member ?? '')).accessToken;
    // The short-lived client's tokens count only as its own; to test expiry alone, accept that client.
    await new Promise((r) => setTimeout(r, 2100));
    const access: Access = userPoolAccess({ issuer: pool.issuer, clientIds: [pool.clientId, shortLived] });
    const viewer = await signIn(pool, 'viewer@example.com', users.viewer ?? '');
    expect(claimsOf(member.accessToken).iss).toBe(pool.issuer);
    expect(claimsOf(otherIssuer).iss).not.toBe(pool.issuer);
    return {
      access,
      tokens: {
        member: member.accessToken,
        viewer: viewer.accessToken,
        editor: (await signIn(pool, 'editor@example.com', users.editor ?? '')).accessToken,
        expired,
        otherClient,
        otherIssuer,
        idToken: member.idToken,
        email: 'member@example.com',
        otherIdToken: viewer.idToken,
        refreshToken: member.refreshToken,
      },
      close: async () => {
        await cognito?.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await cognito?.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
});

describe('the verifier when the pool cannot be reached, and the public mode', () => {
  it('JWKS unreachable: 503, not 401 (the token may be fine) and not 500', async () => {
    const [port] = (await freePorts(1)) as [number];
    const issuer = `http://127.0.0.1:${port}/gone_pool`;
    const api = createApi({
      classifier: fakeClassifier(),
      access: userPoolAccess({ issuer, clientIds: ['c'] }),
    });
    const fake = await startFakeIssuer('c');
    const token = fake.accessToken({ iss: issuer });
    await fake.close();
    const res = await api(event('POST', '/classify', `Bearer ${token}`, image));
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body).error.code).toBe('ServiceUnavailable');
  });

  it('the keys are fetched once for many requests', async () => {
    const fake = await startFakeIssuer();
    const api = createApi({
      classifier: fakeClassifier(),
      access: userPoolAccess({ issuer: fake.issuer, clientIds: [fake.clientId] }),
    });
    for (let i = 0; i < 5; i++)
      expect((await api(event('POST', '/classify', `Bearer ${fake.accessToken()}`, image))).statusCode).toBe(
        200,
      );
    expect(fake.jwksRequests).toBe(1);
    await fake.close();
  });

  it('public (AUTH_PUBLIC): no token needed for member routes; editor routes refused', async () => {
    const api = createApi({
      classifier: fakeClassifier(),
      access: { mode: 'public' },
      editorRoutes: EDITOR_ROUTES,
    });
    expect((await api(event('POST', '/classify', undefined, image))).statusCode).toBe(200);
    const edit = await api(event('POST', '/labels'));
    expect(edit.statusCode).toBe(403);
    expect(JSON.parse(edit.body).error.message).toMatch(/without sign-in/);
  });
});
