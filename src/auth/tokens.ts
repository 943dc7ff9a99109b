/**
 * Who is calling: the access token of a user pool (Amazon Cognito, or cognito-local on loopback),
 * verified here in the function, after API Gateway's JWT authorizer verified it once (serverless.yml),
 * so a route the gateway does not guard still serves nobody without a valid token.
 *
 * aws-jwt-verify checks the signature against the pool's published keys (JWKS at
 * <issuer>/.well-known/jwks.json, fetched once and cached; an unknown key id fetches again), the
 * algorithm (RS256 etc. as the key says: `alg: none` never verifies), the issuer, expiry and
 * not-before; then the token must be an access token (`token_use: access`, so an ID token or a
 * refresh token is refused) issued to one of the app clients (`client_id`). Cognito's access tokens
 * carry no `aud`: the app client is their audience.
 *
 * Roles come from the pool's groups (`cognito:groups`): `editors` may do everything, `viewers` only
 * read (search and view), everyone else signed in is a member (search, view, upload, classify).
 */
import { JwtVerifier } from 'aws-jwt-verify';
import { FetchError, JwksValidationError, JwtBaseError } from 'aws-jwt-verify/error';
import type { Fetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import type { JwtPayload } from 'aws-jwt-verify/jwt-model';

/** What a caller may do, from least to most. */
export type Role = 'viewer' | 'member' | 'editor';
export const ROLES: readonly Role[] = ['viewer', 'member', 'editor'];

/** The pool's groups that give a role (a user in none of them is a member). */
export const EDITORS_GROUP = 'editors';
export const VIEWERS_GROUP = 'viewers';

export const allows = (role: Role, needed: Role): boolean => ROLES.indexOf(role) >= ROLES.indexOf(needed);

/** A verified caller. */
export interface Principal {
  /** The user's stable id (`sub`). */
  sub: string;
  username: string;
  groups: string[];
  role: Role;
}

/** The token is missing, malformed, forged, expired or not meant for this service: HTTP 401. */
export class InvalidTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTokenError';
  }
}

/** The pool's keys cannot be fetched now: HTTP 503 (the token may well be valid). */
export class VerifierUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VerifierUnavailableError';
  }
}

/** The port: a raw access token in, the caller out (or InvalidTokenError / VerifierUnavailableError). */
export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
  /**
   * The caller's e-mail address from an ID token of the same user (same `sub`), issued by the pool to
   * one of the app clients, its `email_verified` true; undefined when the token is anything else.
   * Access tokens carry no e-mail: a client that wants its user shown by address sends the ID token
   * too (X-Id-Token), which only the routes that record who did something read.
   */
  verifiedEmail?(idToken: string, caller: Principal): Promise<string | undefined>;
}

export interface UserPool {
  /** The `iss` of its tokens, e.g. https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC; no trailing '/'. */
  issuer: string;
  /** The app clients whose access tokens are accepted (`client_id`). */
  clientIds: readonly string[];
}

export function roleOf(groups: readonly string[]): Role {
  if (groups.includes(EDITORS_GROUP)) return 'editor';
  if (groups.includes(VIEWERS_GROUP)) return 'viewer';
  return 'member';
}

const stringList = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

/** Fetches the JWKS with the runtime's fetch: https on AWS, http for a pool on loopback (cognito-local). */
const webFetcher: Fetcher = {
  async fetch(uri) {
    const res = await fetch(uri, { signal: AbortSignal.timeout(5000), redirect: 'error' }).catch(
      (err: Error) => {
        throw new FetchError(uri, (err.cause as Error | undefined)?.message ?? err.message);
      },
    );
    if (!res.ok) throw new FetchError(uri, `status ${res.status}, expected 200`);
    return res.arrayBuffer();
  },
};

/**
 * The verifier of a user pool's access tokens. `fetcher` replaces how the JWKS is downloaded (tests);
 * the keys are cached for the life of the container.
 */
export function userPoolVerifier(pool: UserPool, fetcher: Fetcher = webFetcher): TokenVerifier {
  const clientIds = new Set(pool.clientIds);
  const jwksCache = new SimpleJwksCache({ fetcher });
  const verifier = JwtVerifier.create(
    {
      issuer: pool.issuer,
      jwksUri: `${pool.issuer}/.well-known/jwks.json`,
      audience: null,
      customJwtCheck: ({ payload }: { payload: JwtPayload }) => {
        if (payload.token_use !== 'access')
          throw new InvalidTokenError(`not an access token (token_use ${String(payload.token_use)})`);
        if (typeof payload.client_id !== 'string' || !clientIds.has(payload.client_id))
          throw new InvalidTokenError('issued to another app client');
        if (typeof payload.sub !== 'string' || payload.sub === '')
          throw new InvalidTokenError('no subject (sub)');
      },
    },
    { jwksCache },
  );
  // ID tokens carry the app client as their audience (`aud`), and the user's attributes.
  const idVerifier = JwtVerifier.create(
    {
      issuer: pool.issuer,
      jwksUri: `${pool.issuer}/.well-known/jwks.json`,
      audience: [...clientIds],
      customJwtCheck: ({ payload }: { payload: JwtPayload }) => {
        if (payload.token_use !== 'id')
          throw new InvalidTokenError(`not an ID token (token_use ${String(payload.token_use)})`);
      },
    },
    { jwksCache },
  );
  return {
    async verifiedEmail(idToken, caller) {
      let payload: JwtPayload;
      try {
        payload = await idVerifier.verify(idToken);
      } catch {
        return undefined;
      }
      const verified = payload.email_verified === true || payload.email_verified === 'true';
      return payload.sub === caller.sub &&
        verified &&
        typeof payload.email === 'string' &&
        payload.email !== ''
        ? payload.email
        : undefined;
    },
    async verify(token) {
      let payload: JwtPayload;
      try {
        payload = await verifier.verify(token);
      } catch (err) {
        if (err instanceof FetchError || err instanceof JwksValidationError)
          throw new VerifierUnavailableError(`cannot fetch the user pool's keys: ${err.message}`);
        if (err instanceof InvalidTokenError) throw err;
        if (err instanceof JwtBaseError) throw new InvalidTokenError(err.message);
        throw err;
      }
      const groups = stringList(payload['cognito:groups']);
      const sub = String(payload.sub);
      const username = typeof payload.username === 'string' ? payload.username : sub;
      return { sub, username, groups, role: roleOf(groups) };
    },
  };
}
