// Open one authenticated ssh2 Client to a master (or its jump host, or a master through the
// jump host's forwarded socket), with host key checking, a hard connect timeout and keepalive.

import type { Duplex } from 'node:stream';
import ssh2, { type AnyAuthMethod, type Client } from 'ssh2';
import { TransportError } from '../errors.js';
import type { AuthMethod } from './auth.js';
import { prepareHostKeyCheck } from './hostkey.js';
import { connectPrefix, connectTimeout, mapConnectError, type Endpoint } from './ssh-errors.js';
import type { MasterConn } from './types.js';

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
  return new TransportError('auth', ep.master, `${mapped.message}: no key to offer (no ssh.identityFile, no SSH_AUTH_SOCK, no ~/.ssh/id_ed25519 or id_rsa)`, {
    hint: 'set ssh.identityFile in the inventory or start ssh-agent with the key loaded',
  });
}

/** One of our auth methods as ssh2 takes it. */
function toSsh2Method(m: AuthMethod, username: string): AnyAuthMethod {
  return m.type === 'agent'
    ? { type: 'agent', username, agent: m.agent }
    : { type: 'publickey', username, key: m.key, ...(m.passphrase !== undefined ? { passphrase: m.passphrase } : {}) };
}
