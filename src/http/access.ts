/**
 * Who may call which route. GET / (the page) and GET /health are public; every other path is a data
 * route and needs a verified access token (src/auth/tokens.ts) unless the api runs public
 * (AUTH_PUBLIC=true, the explicit demo mode). A path nobody routes is refused like a data route, so
 * a new route is private from its first line.
 *
 * The role a route needs: a route listed in EDITOR_ROUTES needs an editor; any other GET or HEAD a
 * viewer (search, view); anything else (upload, classify) a member. In public mode every caller is a
 * member: the editor routes are refused, since nobody has signed in.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import {
  allows,
  InvalidTokenError,
  type Principal,
  type Role,
  type TokenVerifier,
  type UserPool,
  userPoolVerifier,
  VerifierUnavailableError,
} from '../auth/tokens.ts';

/** Paths anyone may GET: the page and the health check (which reveals nothing private). */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set(['/', '/index.html', '/health']);

/** A route by method and path; a path ending in '/' matches every path under it. */
export interface RouteRule {
  method: string;
  path: string;
}

/**
 * The routes only the `editors` group may call (teach and delete names, change labels). Add a
 * route here in the same commit that adds it to src/http/api.ts.
 */
export const EDITOR_ROUTES: readonly RouteRule[] = [
  // Teach and forget a name (src/http/labels.ts); reading names is a viewer's GET.
  { method: 'PUT', path: '/labels/' },
  { method: 'DELETE', path: '/labels/' },
];

export const matches = (rule: RouteRule, method: string, path: string): boolean =>
  rule.method === method && (rule.path.endsWith('/') ? path.startsWith(rule.path) : path === rule.path);

/** The role a route needs. */
export function neededRole(method: string, path: string, editorRoutes = EDITOR_ROUTES): Role {
  if (editorRoutes.some((rule) => matches(rule, method, path))) return 'editor';
  return method === 'GET' || method === 'HEAD' ? 'viewer' : 'member';
}

/** How the api decides: signed-in users of a pool, or (AUTH_PUBLIC) anyone as a member. */
export type Access = { mode: 'public' } | { mode: 'user-pool'; verifier: TokenVerifier; pool: UserPool };

/**
 * Where the page signs in (GET /health `signIn`, public like the page itself): the user pool API's
 * endpoint, which is the issuer's origin (cognito-idp.<region>.amazonaws.com on AWS, cognito-local's
 * address locally), and the app client; null when nobody signs in.
 */
export const userPoolAccess = (pool: UserPool): Access => ({
  mode: 'user-pool',
  verifier: userPoolVerifier(pool),
  pool,
});

export function signInOf(access: Access | undefined): { endpoint: string; clientId: string } | null {
  if (access?.mode !== 'user-pool') return null;
  return { endpoint: new URL(access.pool.issuer).origin, clientId: access.pool.clientIds[0] ?? '' };
}

/**
 * A refusal: the api answers it as JSON {"error": {code, message, ...details}} with these extra
 * headers. A 403's details say the caller's role and the role the route needs, so that a client
 * says it in its own words (the page, in English and Chinese).
 */
export interface Denied {
  status: 401 | 403 | 503;
  code: string;
  message: string;
  headers: Record<string, string>;
  details?: { role: Role; needs: Role };
}

const PUBLIC_CALLER: Principal = { sub: 'public', username: 'public', groups: [], role: 'member' };

/** `Authorization: Bearer <token>` (scheme in any letter case); undefined when absent or another scheme. */
export function bearerToken(event: APIGatewayProxyEventV2): string | undefined {
  for (const [name, value] of Object.entries(event.headers ?? {}))
    if (name.toLowerCase() === 'authorization' && value) {
      const match = /^\s*bearer\s+(\S+)\s*$/i.exec(value);
      return match?.[1];
    }
  return undefined;
}

/**
 * Who is calling, as recorded with what they do (a taught name's createdBy): the user name (the
 * token's `username`; a UUID in a pool that signs in by e-mail), and the e-mail address when the
 * request carries the same user's ID token (ID_TOKEN_HEADER) and the pool says it is verified.
 */
export interface Caller {
  name: string;
  email?: string;
}

/** The header a client may send its ID token in, so that what it does is shown by its e-mail address. */
export const ID_TOKEN_HEADER = 'x-id-token';

export async function callerOf(
  access: Access,
  event: APIGatewayProxyEventV2,
  principal: Principal,
): Promise<Caller> {
  const caller: Caller = { name: principal.username };
  if (access.mode !== 'user-pool' || !access.verifier.verifiedEmail) return caller;
  const idToken = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === ID_TOKEN_HEADER)?.[1];
  if (!idToken) return caller;
  const email = await access.verifier.verifiedEmail(idToken.trim(), principal);
  return email ? { ...caller, email } : caller;
}

const unauthorized = (message: string, error?: string): Denied => ({
  status: 401,
  code: 'Unauthorized',
  message,
  headers: {
    'www-authenticate': error
      ? `Bearer realm="image-tagger", error="${error}"`
      : 'Bearer realm="image-tagger"',
  },
});

/** The caller of a data route, or why not. */
export async function authorize(
  access: Access,
  event: APIGatewayProxyEventV2,
  method: string,
  path: string,
  editorRoutes = EDITOR_ROUTES,
): Promise<{ principal: Principal } | { denied: Denied }> {
  const needed = neededRole(method, path, editorRoutes);
  let principal: Principal;
  if (access.mode === 'public') principal = PUBLIC_CALLER;
  else {
    const token = bearerToken(event);
    if (!token)
      return { denied: unauthorized('sign in: send Authorization: Bearer <access token of the user pool>') };
    try {
      principal = await access.verifier.verify(token);
    } catch (err) {
      if (err instanceof InvalidTokenError)
        return { denied: unauthorized(`invalid token: ${err.message}`, 'invalid_token') };
      if (err instanceof VerifierUnavailableError)
        return {
          denied: {
            status: 503,
            code: 'ServiceUnavailable',
            message: err.message,
            headers: { 'retry-after': '5' },
          },
        };
      throw err;
    }
  }
  if (!allows(principal.role, needed))
    return {
      denied: {
        status: 403,
        code: 'Forbidden',
        message:
          access.mode === 'public'
            ? `${method} ${path} needs an editor, and this api runs without sign-in (public)`
            : `${method} ${path} needs the ${needed === 'editor' ? 'editors group' : 'member role'}; you are a ${principal.role}`,
        headers: {},
        details: { role: principal.role, needs: needed },
      },
    };
  return { principal };
}
