// The service-backup client against the sandbox's stand-in of the DC/OS backup service, on
// 127.0.53.1 (ephemeral ports): the documented state machine, lock, auth and login; tokens
// (HS256 JWTs) that every stand-in sharing the secret accepts, until they expire; https with the
// sandbox's CA (iam.ts, the openssl CLI).

import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode, OperationFailed, UsageError } from '../../src/errors.js';
import { login, requestOnce, ServiceBackupClient } from '../../src/exhibitor/service-backup-client.js';
import { ServiceAuthError, ServiceBusyError } from '../../src/exhibitor/service-backup.js';
import { BackupServiceStandIn, signToken, type BackupServiceOptions } from '../../src/sandbox/backup-service.js';
import { makeCa, makeServerCert } from '../../src/sandbox/iam.js';

const HOST = '127.0.53.1';
const DURATION = 300;
const follow = { intervalMs: 50, timeoutMs: 5000 };
const keys = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });

let dir: string;
const services: BackupServiceStandIn[] = [];
let service: BackupServiceStandIn;
let origin: URL;
let token: string;

async function startService(shape: 'wrapped' | 'bare', more: Partial<BackupServiceOptions> & { name?: string } = {}): Promise<{ service: BackupServiceStandIn; origin: URL }> {
  const { name = shape, ...options } = more;
  const s = new BackupServiceStandIn({
    dir: join(dir, name),
    durationMs: DURATION,
    shape,
    ...options,
    accounts: [
      { uid: 'operator', password: 'op-password-1', permitted: true },
      { uid: 'viewer', password: 'viewer-password-1', permitted: false },
      { uid: 'zkops-sa', publicKey: keys.publicKey, permitted: true },
    ],
  });
  services.push(s);
  return { service: s, origin: await s.start(HOST, 0) };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-service-backup-'));
  ({ service, origin } = await startService('wrapped'));
  token = await login({ origin }, { uid: 'operator', password: 'op-password-1' });
});

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

const client = (t: string | undefined = token, o: URL = origin) => new ServiceBackupClient({ origin: o, token: t });

describe('service backup against the stand-in', () => {
  it('create → list → show → READY, stored in the backup directory; then delete', async () => {
    const c = client();
    expect(await c.list()).toEqual([]);
    const created = await c.create('pre-upgrade');
    expect(created.status).toBe('STATUS_BACKING_UP');
    expect(created.component_status.marathon?.status).toBe('STATUS_UNKNOWN');
    expect(created.id).toMatch(/^pre-upgrade-[0-9a-f-]{36}$/);
    expect((await c.list('pre-')).map((b) => b.id)).toEqual([created.id]);
    expect((await c.show(created.id)).status).toBe('STATUS_BACKING_UP');
    const states: string[] = [];
    const ready = await c.followBackup(created.id, { ...follow, onState: (s) => states.push(s) });
    expect(ready.status).toBe('STATUS_READY');
    expect(states).toEqual(['STATUS_BACKING_UP', 'STATUS_READY']);
    expect(existsSync(join(dir, 'wrapped', created.id, 'metadata.json'))).toBe(true);

    await c.delete(created.id);
    expect(await c.list('pre-')).toEqual([]);
    expect(existsSync(join(dir, 'wrapped', created.id))).toBe(false);
  });

  it('a second create while one runs is the busy lock: exit 3', async () => {
    const c = client();
    const first = await c.create('first');
    const err = await c.create('second').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceBusyError);
    expect((err as ServiceBusyError).exitCode).toBe(ExitCode.refused);
    expect((err as Error).message).toContain('another backup or restore is running');
    expect((err as Error).message).toContain('lock is already held');
    await c.followBackup(first.id, follow);
  });

  it('restore → restores[] READY; a restore id is refused by delete', async () => {
    const c = client();
    const b = await c.followBackup((await c.create('to-restore')).id, follow);
    const restore = await c.restore(b.id);
    expect(restore.id).not.toBe(b.id);
    const during = await c.create('during-restore').catch((e: unknown) => e);
    expect(during).toBeInstanceOf(ServiceBusyError);
    const done = await c.followRestore(b.id, restore.id, follow);
    expect(done.status).toBe('STATUS_READY');
    expect((await c.show(b.id)).restores.map((r) => [r.id, r.status])).toEqual([[restore.id, 'STATUS_READY']]);
    const answer = await requestOnce({ origin }, 'DELETE', '/system/v1/backup/v1/delete', { authorization: `token=${token}` }, { id: restore.id });
    expect(answer.status).toBe(400);
  });

  it('a backup that ends in ERROR: exit 1 with the service reason', async () => {
    const c = client();
    service.failNextBackup('marathon leader did not abdicate within 30s');
    const b = await c.create('will-fail');
    const err = await c.followBackup(b.id, follow).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationFailed);
    expect((err as OperationFailed).exitCode).toBe(ExitCode.failed);
    expect((err as Error).message).toContain('STATUS_ERROR: marathon: marathon leader did not abdicate within 30s');
  });

  it('bad labels are refused locally before any request', async () => {
    // no token and a closed port: any request would fail otherwise than with a UsageError
    const c = new ServiceBackupClient({ origin: new URL('http://127.0.53.1:1') });
    for (const label of ['ab', 'x'.repeat(26), '..x', '-ab']) {
      const err = await c.create(label).catch((e: unknown) => e);
      expect(err, label).toBeInstanceOf(UsageError);
      expect((err as UsageError).exitCode).toBe(ExitCode.usage);
    }
  });

  it('no token, a bad token, a token without the permission: exit 3, nothing of the token', async () => {
    const viewer = await login({ origin }, { uid: 'viewer', password: 'viewer-password-1' });
    const bad = 'not-a-valid-token-abcdef123456';
    for (const [t, status] of [[undefined, 401], [bad, 401], [viewer, 403]] as const) {
      const err = await new ServiceBackupClient({ origin, token: t }).list().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ServiceAuthError);
      expect((err as ServiceAuthError).status).toBe(status);
      expect((err as ServiceAuthError).exitCode).toBe(ExitCode.refused);
      if (t) expect(`${(err as Error).message} ${(err as ServiceAuthError).hint}`).not.toContain(t);
    }
    const raw = await requestOnce({ origin }, 'GET', '/system/v1/backup/v1/list', {});
    expect(raw.status).toBe(401);
    expect(raw.body).toMatch(/^<html>/);
  });

  it('login: a wrong password is refused without quoting it; a service account signs its login', async () => {
    const err = await login({ origin }, { uid: 'operator', password: 'wrong-password-xyz' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceAuthError);
    expect((err as Error).message).not.toContain('wrong-password-xyz');
    const saToken = await login({ origin }, { uid: 'zkops-sa', privateKey: keys.privateKey });
    expect(await client(saToken).list('nothing-')).toEqual([]);
  });

  it('the swagger shape (bare object and array) is read the same', async () => {
    const bare = await startService('bare');
    const t = bare.service.issueToken('operator', true);
    const c = client(t, bare.origin);
    expect(await c.list()).toEqual([]);
    const b = await c.create('bare-shape');
    expect((await c.followBackup(b.id, follow)).status).toBe('STATUS_READY');
    const r = await c.restore(b.id);
    expect((await c.followRestore(b.id, r.id, follow)).status).toBe('STATUS_READY');
  });
});

describe('tokens valid across masters, as IAM JWTs', () => {
  const secret = 'sandbox-wide-secret-for-the-test';

  it("a token from one stand-in's login is accepted by another with the same secret, refused by one with another", async () => {
    const a = await startService('wrapped', { name: 'master-a', secret });
    const b = await startService('wrapped', { name: 'master-b', secret });
    const other = await startService('wrapped', { name: 'master-c', secret: 'another-secret' });
    const t = await login({ origin: a.origin }, { uid: 'zkops-sa', privateKey: keys.privateKey });
    expect(t.split('.')).toHaveLength(3);
    const claims = JSON.parse(Buffer.from(t.split('.')[1] as string, 'base64url').toString()) as { uid: string; exp: number };
    expect(claims.uid).toBe('zkops-sa');
    // DC/OS's IAM tokens live 5 days
    expect(Math.abs(claims.exp - (Date.now() / 1000 + 5 * 24 * 3600))).toBeLessThan(60);
    expect(await client(t, b.origin).list()).toEqual([]);
    const err = await client(t, other.origin).list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceAuthError);
    expect((err as ServiceAuthError).status).toBe(401);
    // the permission comes from the accounts: the viewer's token is 403 on the other stand-in too
    const viewer = await login({ origin: a.origin }, { uid: 'viewer', password: 'viewer-password-1' });
    expect(((await client(viewer, b.origin).list().catch((e: unknown) => e)) as ServiceAuthError).status).toBe(403);
  });

  it('an expired token, or one signed with another algorithm, is 401', async () => {
    const s = await startService('wrapped', { name: 'expiry', secret });
    const expired = signToken(secret, { uid: 'operator', exp: Math.floor(Date.now() / 1000) - 1 });
    const fresh = signToken(secret, { uid: 'operator', exp: Math.floor(Date.now() / 1000) + 60 });
    const [, payload, signature] = fresh.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.${signature}`;
    for (const t of [expired, none, `${fresh}x`]) {
      const answer = await requestOnce({ origin: s.origin }, 'GET', '/system/v1/backup/v1/list', { authorization: `token=${t}` });
      expect(answer.status).toBe(401);
    }
    expect(await client(fresh, s.origin).list()).toEqual([]);
  });
});

describe('https with the sandbox CA', () => {
  it('verifies with the CA; without it the TLS handshake fails', async () => {
    const tls = join(dir, 'tls');
    mkdirSync(tls);
    const ca = { cert: join(tls, 'ca.crt'), key: join(tls, 'ca.key') };
    const server = { cert: join(tls, 'server.crt'), key: join(tls, 'server.key') };
    makeCa(ca.cert, ca.key);
    makeServerCert(ca, HOST, server);
    const s = await startService('wrapped', { name: 'https', tls: { key: readFileSync(server.key), cert: readFileSync(server.cert) } });
    expect(s.origin.protocol).toBe('https:');
    const caPem = readFileSync(ca.cert);
    const t = await login({ origin: s.origin, ca: caPem }, { uid: 'operator', password: 'op-password-1' });
    const c = new ServiceBackupClient({ origin: s.origin, token: t, ca: caPem });
    expect(await c.list()).toEqual([]);
    const b = await c.create('over-https');
    expect((await c.followBackup(b.id, follow)).status).toBe('STATUS_READY');

    const err = await new ServiceBackupClient({ origin: s.origin, token: t }).list().catch((e: unknown) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    // another CA's certificate is refused too
    const otherCa = { cert: join(tls, 'other.crt'), key: join(tls, 'other.key') };
    makeCa(otherCa.cert, otherCa.key);
    const other = await new ServiceBackupClient({ origin: s.origin, token: t, ca: readFileSync(otherCa.cert) }).list().catch((e: unknown) => e);
    expect((other as NodeJS.ErrnoException).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});
