// Open one authenticated ssh2 Client to a master (or its jump host, or a master through the
// jump host's forwarded socket), with host key checking, a hard connect timeout and keepalive;
// and a ProxyJump chain: each jump host through the one before it, with its own keys and
// known_hosts when its ssh_config block gives them.

import type { Duplex } from 'node:stream';
import ssh2, { type AnyAuthMethod, type Client } from 'ssh2';
import { TransportError } from '../errors.js';
import { authMethods, type AuthMethod, type KeySource } from './auth.js';
import { prepareHostKeyCheck } from './hostkey.js';
import { connectPrefix, connectTimeout, mapConnectError, type Endpoint } from './ssh-errors.js';
import type { JumpHost, MasterConn } from './types.js';

/**
 * Ciphers in order of preference. AES-GCM runs on the CPU's AES instructions through
 * OpenSSL; chacha20-poly1305 in ssh2 goes through its own binding. Measured with
 * bench/transfer.ts (200 MiB, loopback, same run), see the figures there.
 */
export const FAST_CIPHERS = ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com', 'aes128-ctr', 'aes256-ctr'];

/** Knobs the bench turns; the product uses the defaults. */
export interface ConnectTuning {
  ciphers?: string[];
}

export interface ClientOptions {
  /** An already-open stream to the server (ProxyJump: the jump host's forwardOut). */
  sock?: Duplex;
  onWarning: (message: string) => void;
  signal?: AbortSignal;
  tuning?: ConnectTuning;
}

/** Connect and log in; resolves with a ready Client or rejects with a TransportError. */
export async function connectClient(ep: Endpoint, master: MasterConn, auth: readonly AuthMethod[], opts: ClientOptions): Promise<Client> {
  const check = await prepareHostKeyCheck(ep, master.knownHosts, master.hostKeyPolicy, opts.onWarning);
  const ms = master.connectTimeoutMs;
  const client = new ssh2.Client();
  const tried: string[] = [];
  const queue = [...auth];

  return new Promise<Client>((resolve, reject) => {
    let settled = false;
    const finish = (err?: TransportError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err === undefined) {
        resolve(client);
        return;
      }
      client.destroy();
      reject(err);
    };
    const fail = (e: unknown): void => finish(check.refusal() ?? connectFailure(e, ep, ms, tried));
    const onAbort = (): void => finish(new TransportError('connect', ep.master, `${connectPrefix(ep)}: interrupted`));
    const timer = setTimeout(() => finish(connectTimeout(ep, ms)), ms);
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    client.on('error', fail);
    client.on('close', () => fail(new Error('connection closed before login')));
    client.once('ready', () => finish());
    try {
      client.connect({
        host: ep.host,
        port: ep.port,
        username: ep.user,
        ...(opts.sock ? { sock: opts.sock } : {}),
        readyTimeout: ms,
        keepaliveInterval: master.keepaliveMs,
        keepaliveCountMax: 3,
        hostVerifier: check.verifier,
        algorithms: { cipher: opts.tuning?.ciphers ?? FAST_CIPHERS, serverHostKey: check.algorithms } as never,
        authHandler: (_left, _partial, next) => {
          const m = queue.shift();
          if (m === undefined) return (next as unknown as (a: false) => void)(false);
          tried.push(m.label);
          next(toSsh2Method(m, ep.user));
        },
      });
    } catch (err) {
      fail(err);
    }
  });
}

/** The connection's failure in our terms; an auth failure with no key tried says where keys come from. */
function connectFailure(e: unknown, ep: Endpoint, ms: number, tried: string[]): TransportError {
  const mapped = mapConnectError(e, ep, ms, tried);
  if (mapped.kind !== 'auth' || tried.length > 0) return mapped;
  return new TransportError('auth', ep.master, `${mapped.message}: no key to offer (no ssh.identityFile, no IdentityFile of ~/.ssh/config that exists, no SSH_AUTH_SOCK, no ~/.ssh/id_ed25519 or id_rsa)`, {
    hint: 'set ssh.identityFile in the inventory or start ssh-agent with the key loaded',
  });
}

/** One of our auth methods as ssh2 takes it. */
function toSsh2Method(m: AuthMethod, username: string): AnyAuthMethod {
  return m.type === 'agent'
    ? { type: 'agent', username, agent: m.agent }
    : { type: 'publickey', username, key: m.key, ...(m.passphrase !== undefined ? { passphrase: m.passphrase } : {}) };
}

/** A jump host's keys: those of its own ssh_config block, else the master's. */
function keysOf(master: MasterConn, hop: JumpHost): KeySource {
  if (hop.identityFiles === undefined) return master;
  return {
    name: master.name,
    identityFiles: hop.identityFiles,
    ...(hop.identitiesOnly ? { identitiesOnly: true } : {}),
    ...(master.passphraseEnv !== undefined ? { passphraseEnv: master.passphraseEnv } : {}),
  };
}

/** A direct-tcpip stream from `via` to host:port, within the master's connect timeout. */
function forwardThrough(via: Client, viaEp: Endpoint, to: { label: string; host: string; port: number }, master: MasterConn): Promise<Duplex> {
  const what = `cannot connect to ${to.label} (${to.host}:${to.port}) through ${viaEp.label}`;
  return new Promise<Duplex>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TransportError('timeout', master.name, `${what}: timed out`)), master.connectTimeoutMs);
    via.forwardOut('127.0.0.1', 0, to.host, to.port, (err, stream) => {
      clearTimeout(timer);
      if (err) {
        reject(new TransportError('connect', master.name, `${what}: ${err.message}`, {
          hint: 'check that the next host is reachable from the jump host and that the jump host allows TCP forwarding',
          cause: err,
        }));
        return;
      }
      stream.on('error', () => undefined);
      resolve(stream);
    });
  });
}

/**
 * ProxyJump: connect to the first jump host, through it to the next, and so on; returns the last
 * one (the session's `jump`: closing it closes the ones before it, and any of them dropping
 * drops it) and a stream through it to the master.
 */
export async function connectViaJumps(master: MasterConn, hops: readonly JumpHost[], opts: Omit<ClientOptions, 'sock'>): Promise<{ jump: Client; sock: Duplex }> {
  const clients: Client[] = [];
  let sock: Duplex | undefined;
  try {
    for (const [i, hop] of hops.entries()) {
      const ep: Endpoint = { label: `jump host ${hop.user}@${hop.host}:${hop.port} (for ${master.name})`, master: master.name, host: hop.host, port: hop.port, user: hop.user };
      const auth = await authMethods(keysOf(master, hop));
      const conn: MasterConn = hop.knownHosts === undefined ? master : { ...master, knownHosts: hop.knownHosts };
      const client = await connectClient(ep, conn, auth, { ...opts, ...(sock ? { sock } : {}) });
      client.on('error', () => undefined);
      const before = clients.at(-1);
      if (before) client.once('close', () => before.end());
      clients.push(client);
      const next = hops[i + 1];
      sock = await forwardThrough(client, ep, next ? { label: `jump host ${next.user}@${next.host}:${next.port}`, host: next.host, port: next.port } : { label: master.name, host: master.host, port: master.port }, master);
    }
    return { jump: clients.at(-1) as Client, sock: sock as Duplex };
  } catch (err) {
    for (const c of clients.reverse()) c.destroy();
    throw err;
  }
}
