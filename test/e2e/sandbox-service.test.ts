// The backup service stand-in of a 1-master sandbox (127.0.54.1) as zkops meets it: https on
// :8443 with the sandbox's CA, 401 and `WWW-Authenticate: acsjwt` without a token, the service
// account's signed login, the inventory's dcos.api keys, the service-backup-error fault, a
// backup's metadata under the master's /var/lib/dcos/backup, and `down` stopping it by pid.

import { existsSync, readFileSync, statSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { OperationFailed } from '../../src/errors.js';
import { login, requestOnce, ServiceBackupClient } from '../../src/exhibitor/service-backup-client.js';
import { json } from '../helpers/cli.js';
import { pidAlive, sandboxPids, startSandbox, stopSandbox, type TestSandbox } from '../helpers/sandbox.js';

const ORIGIN = new URL('https://127.0.54.1:8443');
const LIST = '/system/v1/backup/v1/list';
const follow = { intervalMs: 100, timeoutMs: 20_000 };

/** A GET with the CA, its status and headers (requestOnce keeps no headers). */
function getWithHeaders(path: string, ca: Buffer): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: ORIGIN.hostname, port: ORIGIN.port, path, ca, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      })
      .on('error', reject);
  });
}

describe('sandbox backup service stand-in', () => {
  let sb: TestSandbox;

  beforeAll(async () => {
    sb = await startSandbox({ masters: 1, baseIp: '127.0.54.1', name: 'sandbox-service', serviceBackupDurationMs: 400 });
  });
  afterAll(async () => {
    await stopSandbox(sb);
  });

  it('serves the documented API over https on every master, logs in the service account, fails on the fault, and goes with down', async () => {
    const iam = join(sb.dir, 'iam');
    const state = JSON.parse(readFileSync(join(sb.dir, 'state.json'), 'utf8')) as { serviceBackupDurationMs: number; masters: { home: string; backupServicePid: number }[] };
    const m = state.masters[0] as { home: string; backupServicePid: number };
    expect(state.serviceBackupDurationMs).toBe(400);
    expect(pidAlive(m.backupServicePid)).toBe(true);
    expect(statSync(join(iam, 'zkops-backup.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(iam, 'jwt-secret')).mode & 0o777).toBe(0o600);
    const inventory = parseYaml(readFileSync(sb.inventory, 'utf8')) as { dcos: { api: unknown } };
    expect(inventory.dcos.api).toEqual({
      url: 'https://{host}:8443',
      via: 'ssh',
      caFile: join(iam, 'dcos-ca.crt'),
      pollInterval: '500ms',
      auth: { uid: 'zkops-backup', serviceAccountKey: join(iam, 'zkops-backup.pem') },
    });

    const ca = readFileSync(join(iam, 'dcos-ca.crt'));
    const anonymous = await getWithHeaders(LIST, ca);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('acsjwt');

    const token = await login({ origin: ORIGIN, ca }, { uid: 'zkops-backup', privateKey: readFileSync(join(iam, 'zkops-backup.pem')) });
    expect(await requestOnce({ origin: ORIGIN, ca }, 'GET', LIST, { authorization: `token=${token}` })).toEqual({ status: 200, body: '{}' });
    const viewer = await login({ origin: ORIGIN, ca }, { uid: 'viewer', password: 'viewer' });
    expect((await requestOnce({ origin: ORIGIN, ca }, 'GET', LIST, { authorization: `token=${viewer}` })).status).toBe(403);
    expect(await login({ origin: ORIGIN, ca }, { uid: 'bootstrapuser', password: 'deleteme' })).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);

    const c = new ServiceBackupClient({ origin: ORIGIN, token, ca });
    expect((await sb.sandbox('fault', 'master-1', 'service-backup-error')).code).toBe(0);
    const failing = await c.create('will-fail');
    const err = await c.followBackup(failing.id, follow).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationFailed);
    expect((err as Error).message).toContain('STATUS_ERROR: marathon: leader abdication failed (sandbox fault)');

    const ok = await c.create('nightly');
    expect((await c.followBackup(ok.id, follow)).status).toBe('STATUS_READY');
    expect(existsSync(join(m.home, 'dcos', 'backup', ok.id, 'metadata.json'))).toBe(true);
    const onMaster = await sb.ssh(1, `cat /var/lib/dcos/backup/${ok.id}/metadata.json`);
    expect((JSON.parse(onMaster.stdout) as { status: string }).status).toBe('STATUS_READY');

    const status = await sb.sandbox('status', '--json');
    expect(json<{ masters: { backupService: unknown }[] }>(status).masters[0]?.backupService).toEqual({ port: 8443, pid: m.backupServicePid, listening: true });

    expect(sandboxPids(sb.dir)).toContain(m.backupServicePid);
    expect((await sb.down()).code).toBe(0);
    expect(pidAlive(m.backupServicePid)).toBe(false);
    expect(await getWithHeaders(LIST, ca).catch((e: NodeJS.ErrnoException) => e.code)).toBe('ECONNREFUSED');
  });
});
