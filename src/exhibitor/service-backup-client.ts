// The DC/OS Enterprise backup service's client (what `dcos backup` does), addressed to one
// master's Admin Router (`https://<master>/system/v1/backup/v1/…`) directly or through an SSH
// tunnel, and its login (`/acs/api/v1/auth/login`). Labels and ids are checked before any
// request; the token goes only into the Authorization header, never into a message.

import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { createSign } from 'node:crypto';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { OperationFailed } from '../errors.js';
import {
  assertServiceId,
  assertServiceLabel,
  errorForAnswer,
  failureReason,
  parseCreateResponse,
  parseListResponse,
  parseRestoreResponse,
  ServiceAuthError,
  ServiceResponseError,
  type BackupMetadata,
  type BackupStatus,
  type RestoreInfo,
} from './service-backup.js';

export const BACKUP_BASE = '/system/v1/backup/v1';
export const LOGIN_PATH = '/acs/api/v1/auth/login';

export interface ServiceBackupClientOptions {
  /** The chosen master's Admin Router, e.g. https://10.0.0.1 (backups live on its disk). */
  origin: URL;
  token?: string | undefined;
  /** The cluster's CA (https). */
  ca?: Buffer | undefined;
  /** A fresh stream to origin's host:port per request (the SSH tunnel); absent: connect directly. */
  tunnel?: (() => Promise<Duplex>) | undefined;
  timeoutMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

export interface FollowOptions {
  /** The vendor's tests poll every 5 s and allow 120 s. */
  intervalMs?: number;
  timeoutMs?: number;
  /** Each state seen, for a live line. */
  onState?: (status: BackupStatus) => void;
  signal?: AbortSignal;
}

interface Answer {
  status: number;
  body: string;
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });

/** One HTTP request to origin; the answer whatever its status. Node's errors carry no headers. */
export async function requestOnce(
  opts: Pick<ServiceBackupClientOptions, 'origin' | 'ca' | 'tunnel' | 'timeoutMs'>,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
  signal?: AbortSignal,
): Promise<Answer> {
  const url = new URL(path, opts.origin);
  const secure = url.protocol === 'https:';
  const port = Number(url.port || (secure ? 443 : 80));
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const tunnel = opts.tunnel ? await opts.tunnel() : undefined;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const tlsOpts = { ...(opts.ca ? { ca: opts.ca } : {}), servername: isIP(url.hostname) ? undefined : url.hostname, rejectUnauthorized: true };
  return new Promise<Answer>((resolve, reject) => {
    const options: https.RequestOptions = {
      host: url.hostname,
      port,
      path: `${url.pathname}${url.search}`,
      method,
      headers: {
        accept: 'application/json',
        host: url.host,
        ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
        ...headers,
      },
      timeout: timeoutMs,
      // An agent would open its own connection and ignore createConnection (see fetch.ts).
      ...(tunnel ? {} : { agent: false }),
      ...(signal ? { signal } : {}),
    };
    if (tunnel) options.createConnection = () => (secure ? tls.connect({ ...tlsOpts, socket: tunnel, host: url.hostname }) : (tunnel as never));
    else if (secure) Object.assign(options, tlsOpts);
    const req = (secure ? https : http).request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs}ms asking ${url.origin}${url.pathname}`)));
    req.on('error', (err) => {
      tunnel?.destroy();
      reject(err);
    });
    req.end(payload);
  });
}

/** `dcos backup create|list|show|delete|restore` against one master. */
export class ServiceBackupClient {
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly now: () => number;

  constructor(private readonly opts: ServiceBackupClientOptions) {
    this.sleep = opts.sleep ?? defaultSleep;
    this.now = opts.now ?? Date.now;
  }

  private async call(what: string, method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<string> {
    const headers: Record<string, string> = this.opts.token ? { authorization: `token=${this.opts.token}` } : {};
    const answer = await requestOnce(this.opts, method, `${BACKUP_BASE}${path}`, headers, body, signal);
    if (answer.status < 200 || answer.status >= 300) throw errorForAnswer(answer.status, answer.body, what, this.opts.origin.origin);
    return answer.body;
  }

  /** Start a backup; its metadata as the service first answers it (STATUS_BACKING_UP). */
  async create(label: string, signal?: AbortSignal): Promise<BackupMetadata> {
    assertServiceLabel(label);
    return parseCreateResponse(await this.call(`create ${label}`, 'POST', '/create', { label }, signal));
  }

  /** Backups whose id starts with prefix (all without one). */
  async list(prefix?: string, signal?: AbortSignal): Promise<BackupMetadata[]> {
    const query = prefix ? `?prefix=${encodeURIComponent(prefix)}` : '';
    return parseListResponse(await this.call('list', 'GET', `/list${query}`, undefined, signal));
  }

  /** `dcos backup show ID`: list?prefix=ID filtered to the id (there is no show endpoint). */
  async show(id: string, signal?: AbortSignal): Promise<BackupMetadata> {
    assertServiceId(id);
    const found = (await this.list(id, signal)).find((b) => b.id === id);
    if (!found) throw new OperationFailed(`no service backup ${id} on ${this.opts.origin.origin}`, { hint: 'backups live on one master: address the one that took it' });
    return found;
  }

  /** Delete a backup (the id goes in a JSON body); the service's answer passed through. */
  async delete(id: string, signal?: AbortSignal): Promise<string> {
    assertServiceId(id);
    return this.call(`delete ${id}`, 'DELETE', '/delete', { id }, signal);
  }

  /** Start restoring a backup; the restore's new id (progress is in the backup's restores[]). */
  async restore(id: string, signal?: AbortSignal): Promise<{ id: string; raw: Record<string, unknown> }> {
    assertServiceId(id);
    return parseRestoreResponse(await this.call(`restore ${id}`, 'POST', '/restore', { id }, signal));
  }

  /** Poll a backup until STATUS_READY; STATUS_ERROR is an OperationFailed with the service's reason. */
  async followBackup(id: string, follow: FollowOptions = {}): Promise<BackupMetadata> {
    return this.follow(`backup ${id}`, follow, async () => {
      const b = (await this.list(id, follow.signal)).find((x) => x.id === id);
      return b && { state: b, result: b };
    });
  }

  /** Poll a backup's restores[] entry until STATUS_READY or STATUS_ERROR. */
  async followRestore(backupId: string, restoreId: string, follow: FollowOptions = {}): Promise<RestoreInfo> {
    return this.follow(`restore ${restoreId} of ${backupId}`, follow, async () => {
      const r = (await this.list(backupId, follow.signal)).find((x) => x.id === backupId)?.restores.find((x) => x.id === restoreId);
      return r && { state: r, result: r };
    });
  }

  /**
   * Poll until READY or ERROR. What is polled may not be listed yet (whether the service lists a
   * new backup or restore at once is not documented): absent counts as still to come, until the deadline.
   */
  private async follow<T>(
    what: string,
    follow: FollowOptions,
    poll: () => Promise<{ state: { status: BackupStatus; component_status: RestoreInfo['component_status']; raw?: Record<string, unknown> }; result: T } | undefined>,
  ): Promise<T> {
    const intervalMs = follow.intervalMs ?? 5000;
    const timeoutMs = follow.timeoutMs ?? 120_000;
    const deadline = this.now() + timeoutMs;
    let last: BackupStatus | undefined;
    for (;;) {
      const seen = await poll();
      if (seen) {
        const { state, result } = seen;
        if (state.status !== last) follow.onState?.(state.status);
        last = state.status;
        if (state.status === 'STATUS_READY') return result;
        if (state.status === 'STATUS_ERROR') {
          throw new OperationFailed(`${what} ended in STATUS_ERROR: ${failureReason(state)}`, { where: this.opts.origin.origin, details: state });
        }
      }
      if (this.now() >= deadline) {
        const where = this.opts.origin.origin;
        if (!seen) throw new OperationFailed(`${what} is not in the service's list after ${Math.round(timeoutMs / 1000)}s`, { where });
        throw new OperationFailed(`${what} still ${seen.state.status} after ${Math.round(timeoutMs / 1000)}s`, { where, details: seen.state });
      }
      await this.sleep(intervalMs, follow.signal);
    }
  }
}

export type LoginCredentials = { uid: string; password: string } | { uid: string; privateKey: string | Buffer };

/** The service account's login token: an RS256 JWT of {uid, exp} signed with its private key. */
export function signedLoginToken(uid: string, privateKey: string | Buffer, nowSeconds = Math.floor(Date.now() / 1000)): string {
  const b64 = (x: object) => Buffer.from(JSON.stringify(x)).toString('base64url');
  const unsigned = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ uid, exp: nowSeconds + 300 })}`;
  return `${unsigned}.${createSign('RSA-SHA256').update(unsigned).sign(privateKey).toString('base64url')}`;
}

/** POST /acs/api/v1/auth/login → the token. A refusal is a ServiceAuthError (nothing of the secret in it). */
export async function login(
  opts: Pick<ServiceBackupClientOptions, 'origin' | 'ca' | 'tunnel' | 'timeoutMs'>,
  creds: LoginCredentials,
  signal?: AbortSignal,
): Promise<string> {
  const body = 'password' in creds ? { uid: creds.uid, password: creds.password } : { uid: creds.uid, token: signedLoginToken(creds.uid, creds.privateKey) };
  const answer = await requestOnce(opts, 'POST', LOGIN_PATH, {}, body, signal);
  if (answer.status === 401 || answer.status === 403) {
    throw new ServiceAuthError(answer.status, opts.origin.origin, `the login at ${opts.origin.origin} refused ${creds.uid}'s credentials (HTTP ${answer.status})`);
  }
  if (answer.status < 200 || answer.status >= 300) throw errorForAnswer(answer.status, answer.body, `login as ${creds.uid}`, opts.origin.origin);
  let token: unknown;
  try {
    token = (JSON.parse(answer.body) as { token?: unknown }).token;
  } catch {
    token = undefined;
  }
  if (typeof token !== 'string' || !token) throw new ServiceResponseError(`the login at ${opts.origin.origin} answered no token`);
  return token;
}
