/**
 * A fake token issuer on loopback: its own RSA key, its JWKS served at
 * <issuer>/.well-known/jwks.json, and JWTs signed by hand (node:crypto) in the shape of Cognito's
 * access tokens, so the tests can make every kind of bad token: forged, unsigned, expired, for
 * another client or issuer, ID and refresh tokens.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWT with this header and payload, signed RS256 by `key` (or unsigned for `alg: none`). */
export function signJwt(header: Record<string, unknown>, payload: Record<string, unknown>, key?: KeyObject) {
  const data = `${b64(header)}.${b64(payload)}`;
  if (!key) return `${data}.`;
  return `${data}.${sign('sha256', Buffer.from(data), key).toString('base64url')}`;
}

export const newRsaKey = (): KeyObject => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

/** Swaps the payload of a signed JWT, keeping header and signature (a tampered token). */
export function tamper(jwt: string, change: (payload: Record<string, unknown>) => void): string {
  const [header, payload, signature] = jwt.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  change(claims);
  return `${header}.${b64(claims)}.${signature}`;
}

export const claimsOf = (jwt: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString());
export const headerOf = (jwt: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(jwt.split('.')[0] ?? '', 'base64url').toString());

export interface FakeIssuer {
  issuer: string;
  clientId: string;
  key: KeyObject;
  kid: string;
  /** JWKS requests served so far. */
  jwksRequests: number;
  /** A Cognito-shaped access token; `claims` override or (undefined) remove claims. */
  accessToken(claims?: Record<string, unknown>, lifetimeSeconds?: number): string;
  close(): Promise<void>;
}

export async function startFakeIssuer(clientId = 'fake-client'): Promise<FakeIssuer> {
  const key = newRsaKey();
  const kid = 'fake-key-1';
  const jwk = { ...createPrivateKey(key.export({ format: 'pem', type: 'pkcs8' })).export({ format: 'jwk' }) };
  const publicJwk = { kty: jwk.kty, n: jwk.n, e: jwk.e, kid, alg: 'RS256', use: 'sig' };
  let server: Server | undefined;
  const fake: FakeIssuer = {
    issuer: '',
    clientId,
    key,
    kid,
    jwksRequests: 0,
    accessToken(claims = {}, lifetimeSeconds = 3600) {
      const now = Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = {
        sub: 'user-1',
        username: 'user-1',
        client_id: clientId,
        token_use: 'access',
        scope: 'aws.cognito.signin.user.admin',
        iss: fake.issuer,
        iat: now,
        auth_time: now,
        exp: now + lifetimeSeconds,
        ...claims,
      };
      for (const [k, v] of Object.entries(claims)) if (v === undefined) delete payload[k];
      return signJwt({ alg: 'RS256', typ: 'JWT', kid }, payload, key);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server?.closeAllConnections();
        server?.close(() => resolve());
      }),
  };
  server = createServer((req, res) => {
    if (req.url === '/fake_pool/.well-known/jwks.json') {
      fake.jwksRequests++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [publicJwk] }));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  fake.issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fake_pool`;
  return fake;
}
