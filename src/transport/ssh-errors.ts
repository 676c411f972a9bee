// ssh2's errors (an Error with a `level` and maybe a socket `code`) mapped to TransportError,
// each message naming the master, the address and what to do. No raw ssh2 error leaves
// src/transport/.

import { formatDuration } from '../util/duration.js';
import { TransportError, type TransportErrorKind } from '../errors.js';

/** What a message needs to say where: the master's name and the address tried. */
export interface Endpoint {
  /** "master-2", or "jump host ops@bastion:22 (for master-2)". */
  label: string;
  /** The master this connection serves (TransportError.master). */
  master: string;
  host: string;
  port: number;
  user: string;
}

const SOCKET_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'TCP connect timed out',
  EADDRNOTAVAIL: 'address not available',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed (temporary)',
  EPIPE: 'connection closed by peer',
};

/** `cannot connect to master-2 (127.0.10.9:22)`: the opening of every connect message. */
export function connectPrefix(ep: Endpoint): string {
  return `cannot connect to ${ep.label} (${ep.host}:${ep.port})`;
}

/** A connect that ran out of time (readyTimeout, our own timer, or a keepalive before ready). */
export function connectTimeout(ep: Endpoint, ms: number, cause?: unknown): TransportError {
  return new TransportError('timeout', ep.master, `${connectPrefix(ep)}: timed out after ${formatDuration(ms)}`, {
    hint: 'check the address and port, that sshd runs there, and that no firewall drops the traffic; raise ssh.connectTimeout if the network is slow',
    cause,
  });
}

/** Map an error ssh2 emitted while connecting (before 'ready'). */
export function mapConnectError(err: unknown, ep: Endpoint, timeoutMs: number, triedAuth: readonly string[]): TransportError {
  if (err instanceof TransportError) return err;
  const e = err as Error & { level?: string; code?: string };
  const msg = e?.message ?? String(err);
  if (e?.level === 'client-authentication') {
    const tried = triedAuth.length > 0 ? triedAuth.join(', ') : 'none';
    return new TransportError('auth', ep.master, `authentication failed on ${ep.label} (${ep.host}:${ep.port}) for user ${ep.user}; tried: ${tried}`, {
      hint: `check that the key's public half is in ~${ep.user}/.ssh/authorized_keys on ${ep.host}, or set ssh.identityFile / ssh.user in the inventory`,
      cause: err,
    });
  }
  if (e?.level === 'client-timeout') return connectTimeout(ep, timeoutMs, err);
  if (e?.level === 'client-socket' || e?.level === 'client-dns') {
    const reason = (e.code !== undefined ? SOCKET_REASONS[e.code] : undefined) ?? msg;
    return new TransportError('connect', ep.master, `${connectPrefix(ep)}: ${reason}`, {
      hint: `check that sshd listens on ${ep.host}:${ep.port} and is reachable from here (\`zkops check -i INVENTORY\`)`,
      cause: err,
    });
  }
  return new TransportError('connect', ep.master, `${connectPrefix(ep)}: ${msg}`, {
    hint: 'the SSH handshake failed; check the server speaks SSH on this port and shares an algorithm with zkops',
    cause: err,
  });
}

/** The connection went away while something ran on it. */
export function droppedError(ep: Endpoint, during: string, cause?: unknown): TransportError {
  const why = cause instanceof Error && cause.message ? ` (${cause.message})` : '';
  return new TransportError('dropped', ep.master, `SSH connection to ${ep.label} (${ep.host}:${ep.port}) dropped during ${during}${why}`, {
    hint: 'the master or the network went away; check the master and run the step again',
    cause,
  });
}

/** Any other failure on an open connection, named for the master. */
export function sessionError(kind: TransportErrorKind, ep: Endpoint, message: string, cause?: unknown, hint?: string): TransportError {
  return new TransportError(kind, ep.master, `${message} on ${ep.label}`, { cause, hint });
}
