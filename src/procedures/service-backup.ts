// `zkops service-backup`: the DC/OS Enterprise backup service (Marathon's state, what `dcos
// backup` drives) on one chosen master, through an SSH tunnel to its Admin Router (via: ssh) or
// straight to it (via: direct, caFile). A token comes as the DC/OS CLI finds one: the
// environment, the dcos CLI's own config of the cluster, or a login (a password, or a service
// account's signed login). The token is handed to the client only: no report, message or
// journal line carries it.

import { readFile } from 'node:fs/promises';
import type { Inventory, Master } from '../inventory/types.js';
import type { ServiceHalfRecord } from '../catalog/store.js';
import { SessionPool } from '../transport/session-pool.js';
import { certificateError } from '../exhibitor/fetch.js';
import { dcosCliClusters, dcosDir, pickDcosCliCluster } from '../exhibitor/dcos-cli-config.js';
import { BACKUP_PERMISSION, failureReason, ServiceAuthError, type BackupMetadata, type BackupStatus, type RestoreInfo } from '../exhibitor/service-backup.js';
import { login, ServiceBackupClient, type LoginCredentials } from '../exhibitor/service-backup-client.js';
import { findCause, Interrupted, OperationFailed, SafetyRefusal, UsageError, ZkopsError } from '../errors.js';
import type { Deps } from './deps.js';

/** The master whose service is addressed, and its Admin Router. */
export interface ServiceTarget {
  master: Master;
  origin: URL;
}

/** What the service half of a backup is, as the catalog records it. */
export type ServiceHalf = ServiceHalfRecord;

export type ServiceDeps = Pick<Deps, 'transport' | 'warn' | 'canAsk'> & {
  /** Ask for a secret on the terminal (the login's password). */
  askSecret?: (question: string) => Promise<string>;
  env?: NodeJS.ProcessEnv;
};

/** The master to address: --master, else dcos.api.master, else the first. */
export function serviceTarget(inventory: Inventory, wanted?: string): ServiceTarget {
  const name = wanted ?? inventory.dcos.api.master;
  const master = name === undefined ? inventory.masters[0] : inventory.masters.find((m) => m.name === name || m.host === name || m.inventoryHost === name);
  if (!master) throw new UsageError(`no master "${name}" in ${inventory.file}`, { hint: `one of: ${inventory.masters.map((m) => m.name).join(', ')}` });
  const url = master.apiUrl ?? inventory.dcos.api.url.replaceAll('{host}', master.host.includes(':') ? `[${master.host}]` : master.host);
  return { master, origin: new URL(url) };
}

/** A client of one master's backup service with its token; close() ends the SSH tunnel's session. */
export interface OpenService {
  client: ServiceBackupClient;
  target: ServiceTarget;
  /** Where the token came from, for messages (never the token). */
  tokenSource: string;
  close(): Promise<void>;
}

/** Where the token comes from, in the DC/OS CLI's order; the login needs the connection. */
async function tokenFor(inventory: Inventory, target: ServiceTarget, conn: Parameters<typeof login>[0], deps: ServiceDeps): Promise<{ token: string; source: string }> {
  const env = deps.env ?? process.env;
  const auth = inventory.dcos.api.auth;
  const fromEnv = env[auth.tokenEnv];
  if (fromEnv) return { token: fromEnv, source: `$${auth.tokenEnv}` };
  if (auth.dcosCli !== false) {
    const dir = dcosDir(env);
    const pick = typeof auth.dcosCli === 'string' ? auth.dcosCli : env.DCOS_CLUSTER || undefined;
    const c = pickDcosCliCluster(dcosCliClusters(dir), [target.origin.hostname, ...inventory.masters.map((m) => m.host)], pick);
    if (c?.token) return { token: c.token, source: `the dcos CLI's config of cluster ${c.name ?? c.id} (${c.file})` };
  }
  if (auth.uid === undefined) {
    throw new SafetyRefusal(`no token for the backup service at ${target.origin.origin}`, {
      hint: `set ${auth.tokenEnv}; or log in with \`dcos auth login\` (zkops reads the dcos CLI's cluster whose dcos_url is a master, or the one dcos.api.auth.dcosCli names); or give dcos.api.auth.uid (with passwordEnv or serviceAccountKey) in ${inventory.file}`,
    });
  }
  let creds: LoginCredentials;
  let how: string;
  if (auth.serviceAccountKey !== undefined) {
    let key: Buffer;
    try {
      key = await readFile(auth.serviceAccountKey);
    } catch (err) {
      throw new UsageError(`cannot read dcos.api.auth.serviceAccountKey ${auth.serviceAccountKey}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    creds = { uid: auth.uid, privateKey: key };
    how = `the signed login of service account ${auth.uid}`;
  } else {
    let password = auth.passwordEnv === undefined ? undefined : env[auth.passwordEnv];
    if (!password) {
      if (!deps.canAsk || !deps.askSecret) {
        throw new SafetyRefusal(`no password to log in to ${target.origin.origin} as ${auth.uid}`, {
          hint: auth.passwordEnv === undefined ? `run on a terminal to be asked, or set dcos.api.auth.passwordEnv` : `set ${auth.passwordEnv}`,
        });
      }
      password = await deps.askSecret(`Password for ${auth.uid} at ${target.origin.origin}: `);
    }
    creds = { uid: auth.uid, password };
    how = `the login of ${auth.uid}`;
  }
  return { token: await login(conn, creds), source: how };
}

/** Say what a refusal means with where the token came from; a certificate failure in words. */
function explained(err: unknown, origin: URL, caFile: string | undefined, source: string | undefined): unknown {
  const auth = findCause(err, ServiceAuthError);
  if (auth && source) {
    const why = auth.status === 401 ? `the token from ${source} was refused (HTTP 401: none, invalid or expired)` : `the token from ${source} lacks the permission ${BACKUP_PERMISSION} (HTTP 403)`;
    const hint =
      auth.status === 403
        ? `grant ${BACKUP_PERMISSION} to the account`
        : source.startsWith('$')
          ? `put a valid token in ${source}, or unset it to use the dcos CLI's config or dcos.api.auth`
          : source.startsWith("the dcos CLI's")
            ? 'log in again with `dcos auth login`'
            : 'the token the login just gave was refused: is the login on the same cluster as the service?';
    return auth.with({ message: `the backup service at ${origin.origin} refused the request: ${why}`, hint });
  }
  const cert = certificateError(err, origin, caFile);
  if (cert) {
    const against = caFile ? `against dcos.api.caFile ${caFile}` : 'against the system CAs (no dcos.api.caFile)';
    return new SafetyRefusal(`the TLS certificate of ${origin.origin} does not verify ${against}: ${(err as Error).message} (${cert.code})`, {
      hint: "give the cluster's CA as dcos.api.caFile (https://<master>/ca/dcos-ca.crt)",
      cause: err,
    });
  }
  return err;
}

/** Open the service of the chosen master: the tunnel (via: ssh), the CA, the token. */
export async function openService(inventory: Inventory, deps: ServiceDeps, wanted?: string): Promise<OpenService> {
  const api = inventory.dcos.api;
  const target = serviceTarget(inventory, wanted);
  const pool = new SessionPool(deps.transport, deps.warn);
  const secure = target.origin.protocol === 'https:';
  const port = Number(target.origin.port || (secure ? 443 : 80));
  let ca: Buffer | undefined;
  if (api.caFile !== undefined) {
    try {
      ca = await readFile(api.caFile);
    } catch (err) {
      throw new UsageError(`cannot read dcos.api.caFile ${api.caFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  const conn = {
    origin: target.origin,
    ca,
    tunnel: api.via === 'ssh' ? async () => (await pool.session(target.master)).forward(target.origin.hostname.replace(/^\[|\]$/g, ''), port) : undefined,
  };
  let source: string | undefined;
  try {
    const { token, source: s } = await tokenFor(inventory, target, conn, deps);
    source = s;
    const client = guarded(new ServiceBackupClient({ ...conn, token }), (err) => explained(err, target.origin, api.caFile, source));
    return { client, target, tokenSource: source, close: () => pool.closeAll() };
  } catch (err) {
    await pool.closeAll();
    throw explained(err, target.origin, api.caFile, source);
  }
}

/** The client with every failure rewritten by `explain` (which token, which CA). */
function guarded(client: ServiceBackupClient, explain: (err: unknown) => unknown): ServiceBackupClient {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return async (...args: unknown[]) => {
        try {
          return await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } catch (err) {
          throw explain(err);
        }
      };
    },
  });
}

export interface FollowSettings {
  /** The service answered the create: its id, before any following (printed at once: an interrupt must not lose it). */
  onCreated?: (first: BackupMetadata) => void;
  onState?: (status: BackupStatus) => void;
  signal?: AbortSignal;
}

export interface CreatedServiceBackup {
  /** The half as the catalog records it (its status as last seen). */
  half: ServiceHalf;
  /** The service's metadata as last seen (`--json` passes it through). */
  metadata: BackupMetadata;
  /**
   * Why it is not READY: STATUS_ERROR or a timeout (OperationFailed, exit 1), a token refused
   * while following (ServiceAuthError, exit 3), the connection lost, an interrupt (exit 130).
   */
  error: ZkopsError | undefined;
}

/**
 * Create a backup and follow it until READY or ERROR. A refusal of the create itself (the lock's
 * 500, 401/403, a bad label) throws: nothing was created. Once created, whatever happens is
 * returned with the half, so that the caller records that it exists.
 */
export async function createServiceBackup(open: OpenService, inventory: Inventory, label: string, follow: FollowSettings = {}): Promise<CreatedServiceBackup> {
  const first = await open.client.create(label, follow.signal);
  follow.onCreated?.(first);
  follow.onState?.(first.status);
  try {
    const done = await open.client.followBackup(first.id, { intervalMs: inventory.dcos.api.pollIntervalMs, timeoutMs: inventory.dcos.api.timeoutMs, ...follow });
    return { half: halfOf(done, open), metadata: done, error: undefined };
  } catch (err) {
    const half = halfOf(first, open);
    if (follow.signal?.aborted) {
      const message = `interrupted while the service backup ${first.id} ran on ${half.master}: it goes on there (zkops service-backup show ${first.id} --master ${half.master})`;
      return { half: { ...half, error: message }, metadata: first, error: new Interrupted(message) };
    }
    const last = (err as ZkopsError).details as BackupMetadata | undefined;
    const seen = last && typeof last === 'object' && 'id' in last ? last : first;
    const error = err instanceof ZkopsError ? err : new OperationFailed(`following the service backup ${first.id} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    return { half: { ...half, status: seen.status, error: error.message }, metadata: seen, error };
  }
}

/** The half as the catalog records it, from the service's metadata of it. */
export function halfOf(b: BackupMetadata, open: Pick<OpenService, 'target'>): ServiceHalf {
  return {
    id: b.id,
    master: open.target.master.name,
    origin: open.target.origin.origin,
    status: b.status,
    error: b.status === 'STATUS_ERROR' ? failureReason(b) : null,
    timestamp: b.timestamp || null,
  };
}

export interface ServiceRestoreResult {
  restoreId: string;
  /** The service's answer to the restore, as it came. */
  raw: Record<string, unknown>;
  /** The restore as last seen (STATUS_READY when followed to the end). */
  restore: RestoreInfo | undefined;
}

/**
 * Start restoring a backup and, with wait, follow its restores[] entry until READY (ERROR throws
 * OperationFailed with the reason); `onStarted` hears the restore's id before any following.
 */
export async function restoreServiceBackup(
  open: OpenService,
  inventory: Inventory,
  id: string,
  wait: boolean,
  follow: Omit<FollowSettings, 'onCreated'> & { onStarted?: (restoreId: string) => Promise<void> | void } = {},
): Promise<ServiceRestoreResult> {
  const started = await open.client.restore(id, follow.signal);
  await follow.onStarted?.(started.id);
  if (!wait) return { restoreId: started.id, raw: started.raw, restore: undefined };
  follow.onState?.('STATUS_RESTORING');
  const r = await open.client.followRestore(id, started.id, { intervalMs: inventory.dcos.api.pollIntervalMs, timeoutMs: inventory.dcos.api.timeoutMs, ...follow });
  return { restoreId: started.id, raw: started.raw, restore: r };
}

/** Before a ZooKeeper restore with the service half: the service answers, the token works, the backup is READY there. */
export async function checkServiceHalf(open: OpenService, half: ServiceHalf): Promise<BackupMetadata> {
  // one list: the half, and whatever holds the lock
  const list = await open.client.list();
  const b = list.find((x) => x.id === half.id);
  if (!b) {
    throw new SafetyRefusal(`the service half ${half.id} is not on ${open.target.origin.origin} (${open.target.master.name})`, { hint: `it was taken on ${half.master} (${half.origin}): pass --service-master ${half.master}, or restore without --with-service` });
  }
  if (b.status !== 'STATUS_READY') throw new SafetyRefusal(`the service half ${half.id} is ${b.status} on ${open.target.master.name}, not STATUS_READY`, { hint: 'restore without --with-service, or take a new full backup' });
  // the lock would refuse the service half after ZooKeeper is restored: refuse both now
  const busy = busyOperation(list);
  if (busy) {
    throw new SafetyRefusal(`another backup or restore is running on the backup service (${busy}): nothing was stopped`, {
      hint: 'wait for it to reach STATUS_READY or STATUS_ERROR (`zkops service-backup list`), then restore again',
    });
  }
  return b;
}

/** A backup or restore in progress in a list (what holds the service's one lock), or undefined. */
export function busyOperation(list: BackupMetadata[]): string | undefined {
  for (const b of list) {
    if (b.status === 'STATUS_BACKING_UP') return `backup ${b.id} is STATUS_BACKING_UP`;
    const r = b.restores.find((x) => x.status === 'STATUS_RESTORING');
    if (r) return `restore ${r.id} of ${b.id} is STATUS_RESTORING`;
  }
  return undefined;
}
