// The tokens of the sandbox's IAM stand-in: the HS256 JWTs its login gives (DC/OS's IAM gives
// RS256 ones; any signature every master verifies does here), a service account's RS256 login
// token, and where Admin Router finds a token in a request. Node's crypto only.

import { createHmac, createVerify, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** How long a login token lives: DC/OS's IAM gives 5 days. */
export const TOKEN_LIFETIME_S = 5 * 24 * 3600;

/** An HS256 JWT of these claims, as IAM's login answers it. */
export function signToken(secret: string, claims: { uid: string; exp: number }): string {
  const b64 = (x: object) => Buffer.from(JSON.stringify(x)).toString('base64url');
  const unsigned = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/** The uid of an HS256 JWT signed with `secret` and not expired; undefined otherwise. */
export function verifyToken(token: string, secret: string, nowMs = Date.now()): string | undefined {
  const [header, payload, signature] = token.split('.');
  if (!header || !payload || signature === undefined) return undefined;
  try {
    if ((JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: unknown }).alg !== 'HS256') return undefined;
    const expected = createHmac('sha256', secret).update(`${header}.${payload}`).digest();
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { uid?: unknown; exp?: unknown };
    return typeof claims.uid === 'string' && typeof claims.exp === 'number' && claims.exp * 1000 > nowMs ? claims.uid : undefined;
  } catch {
    return undefined;
  }
}

/** `Authorization: token=X`, `Bearer X`, or the `dcos-acs-auth-cookie` cookie. */
export function tokenOf(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization ?? '';
  const m = /^(?:token=|Bearer\s+)(\S+)$/.exec(auth);
  if (m) return m[1];
  return /(?:^|;\s*)dcos-acs-auth-cookie=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
}

/** A service account's login token: RS256 over header.payload, payload {uid, exp} not expired. */
export function verifyLoginToken(token: string, uid: string, publicKey: string): boolean {
  const [header, payload, signature] = token.split('.');
  if (!header || !payload || !signature) return false;
  try {
    if (!createVerify('RSA-SHA256').update(`${header}.${payload}`).verify(publicKey, Buffer.from(signature, 'base64url'))) return false;
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { uid?: unknown; exp?: unknown };
    return claims.uid === uid && typeof claims.exp === 'number' && claims.exp * 1000 > Date.now();
  } catch {
    return false;
  }
}
