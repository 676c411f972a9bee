// The DC/OS backup service from zkops, against the sandbox's stand-in on every master (https on
// :8443 behind the CA the sandbox made, reached through the SSH tunnel as `status` reaches
// Exhibitor): `service-backup create/list/show/delete/restore`, the lock's 500, labels refused
// before any request, the token's three refusals without the token ever printed, a backup that
// ends in STATUS_ERROR, and the full-cluster `backup --with-service` / `restore --with-service`
// with the ZooKeeper half failing after the service half succeeded. Addresses: 127.0.55.x.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login } from '../../src/exhibitor/service-backup-client.js';
import { CLI, json, startZkops, zkops, type CliResult } from '../helpers/cli.js';
import { exhibitorUnits, inventoryCopy, startSandbox, stopSandbox, waitClusterHealthy, zkPids, type TestSandbox } from '../helpers/sandbox.js';

let sb: TestSandbox;
let catalog: string;
/** No token from the environment or from a dcos CLI config of the machine running the tests. */
let cleanEnv: NodeJS.ProcessEnv;

interface ServiceMeta {
  id: string;
  status: string;
  component_status: { marathon: { status: string; error?: string } };
  restores?: { id: string; status: string }[];
}

const svc = (args: string[], env: NodeJS.ProcessEnv = {}, inventory = sb.inventory): Promise<CliResult> =>
  zkops(['service-backup', ...args, '-i', inventory], { env: { ...cleanEnv, ...env }, timeoutMs: 120_000 });

/** The metadata the master's stand-in wrote on its disk (/var/lib/dcos/backup on the master). */
async function onDisk(master: number): Promise<string[]> {
  const r = await sb.ssh(master, 'ls /var/lib/dcos/backup');
  return r.stdout.split('\n').filter((x) => x !== '');
}

beforeAll(async () => {
  sb = await startSandbox({ masters: 3, baseIp: '127.0.55.1', name: 'svcbackup', serviceBackupDurationMs: 1200 });
  catalog = join(sb.work, 'catalog');
  const dcosDir = mkdtempSync(join(sb.work, 'dcos-'));
  cleanEnv = { DCOS_ACS_TOKEN: '', DCOS_DIR: dcosDir, DCOS_CLUSTER: '' };
}, 600_000);

afterAll(async () => {
  await stopSandbox(sb);
});

describe('zkops service-backup', () => {
  it('labels of 2 and 26 characters, "..x" and "-ab" are refused with exit 2 before any request', async () => {
    // an inventory whose service cannot be reached: any request would be a connection failure, exit 1
    const unreachable = inventoryCopy(sb, 'svc-unreachable', (doc) => {
      (doc.dcos as { api: Record<string, unknown> }).api.url = 'https://127.0.55.250:1';
      (doc.dcos as { api: Record<string, unknown> }).api.via = 'direct';
    });
    for (const label of ['ab', 'a'.repeat(26), '..x', '-ab']) {
      // --label=X: "-ab" alone would be read as options
      const r = await svc(['create', `--label=${label}`], {}, unreachable);
      expect(r.code, `${label}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/invalid .*label/);
      expect(r.stderr).not.toMatch(/127\.0\.55\.250|ECONNREFUSED/);
    }
    // 3 and 25 characters are labels: they get as far as the network
    const r = await svc(['create', '--label', 'a'.repeat(25)], {}, unreachable);
    expect(r.code).not.toBe(2);
  });

  it('create follows to READY; list, show; a second create while one runs is exit 3 with the lock message; delete', async () => {
    const created = await svc(['create', '--label', 'pre-upgrade']);
    expect(created.code, created.stderr).toBe(0);
    const id = created.stdout.trim();
    expect(id).toMatch(/^pre-upgrade-[0-9a-f-]{36}$/);
    expect(created.stderr).toMatch(/STATUS_BACKING_UP/);
    expect(created.stderr).toMatch(new RegExp(`service backup ${id} on master-1: STATUS_READY`));
    // the archive's metadata is on master-1's disk, where the real service keeps it
    expect(await onDisk(1)).toContain(id);

    const list = await svc(['list', 'pre-up']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/ID\s+VERSION\s+STATUS\s+TIMESTAMP/i);
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+\\S+\\s+STATUS_READY`));
    const listJson = json<ServiceMeta[]>(await svc(['list', '--json']));
    expect(listJson.map((b) => b.id)).toContain(id);

    const show = json<ServiceMeta>(await svc(['show', id, '--json']));
    expect(show).toMatchObject({ id, status: 'STATUS_READY', component_status: { marathon: { status: 'STATUS_READY' } } });

    // the lock: one backup running (held 8 s, longer than a CLI takes to start), a second one refused
    expect((await sb.sandbox('fault', 'master-1', 'service-backup-slow', '8')).code).toBe(0);
    const first = await svc(['create', '--label', 'locker', '--no-wait']);
    expect(first.code, first.stderr).toBe(0);
    const second = await svc(['create', '--label', 'second']);
    expect(second.code, second.stderr).toBe(3);
    expect(second.stderr).toMatch(/another backup or restore is running/);
    expect(second.stderr).toMatch(/lock is already held/);
    // the lock is the cluster's: another master's service refuses too
    const elsewhere = await svc(['create', '--label', 'third', '--master', 'master-2']);
    expect(elsewhere.code, elsewhere.stderr).toBe(3);
    await waitReady(first.stdout.trim());

    const del = await svc(['delete', id]);
    expect(del.code, del.stderr).toBe(0);
    expect(json<ServiceMeta[]>(await svc(['list', '--json'])).map((b) => b.id)).not.toContain(id);
    expect(await onDisk(1)).not.toContain(id);
    const again = await svc(['delete', id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/HTTP 400/);
  }, 180_000);

  it('via: direct with caFile, as through the tunnel; without the CA the certificate is refused (exit 3), never retried unchecked', async () => {
    const direct = inventoryCopy(sb, 'svc-direct', (doc) => {
      (doc.dcos as { api: Record<string, unknown> }).api.via = 'direct';
    });
    const ok = await svc(['list', '--json'], {}, direct);
    expect(ok.code, ok.stderr).toBe(0);
    expect(Array.isArray(json(ok))).toBe(true);
    const noCa = inventoryCopy(sb, 'svc-direct-noca', (doc) => {
      const api = (doc.dcos as { api: Record<string, unknown> }).api;
      api.via = 'direct';
      delete api.caFile;
    });
    const refused = await svc(['list'], {}, noCa);
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toMatch(/the TLS certificate of https:\/\/127\.0\.55\.1:8443 does not verify against the system CAs \(no dcos\.api\.caFile\)/);
  }, 120_000);

  it('restore follows the restore until restores[] says READY', async () => {
    const created = await svc(['create', '--label', 'to-restore']);
    expect(created.code, created.stderr).toBe(0);
    const id = created.stdout.trim();
    const restored = await svc(['restore', id]);
    expect(restored.code, restored.stderr).toBe(0);
    const restoreId = restored.stdout.trim();
    expect(restoreId).not.toBe(id);
    expect(restored.stderr).toMatch(/STATUS_RESTORING/);
    const show = json<ServiceMeta>(await svc(['show', id, '--json']));
    expect(show.restores).toEqual([expect.objectContaining({ id: restoreId, status: 'STATUS_READY' })]);
  }, 120_000);

  it('a service backup that ends in STATUS_ERROR is exit 1 with the service\'s reason', async () => {
    const f = await sb.sandbox('fault', 'master-1', 'service-backup-error', 'marathon could not write its state');
    expect(f.code, f.stderr).toBe(0);
    const r = await svc(['create', '--label', 'doomed']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/STATUS_ERROR/);
    expect(r.stderr).toMatch(/marathon could not write its state/);
  }, 120_000);

  it('no token, a bad token, a token without the permission: exit 3, and the token is never printed', async () => {
    const noAuth = inventoryCopy(sb, 'svc-noauth', (doc) => {
      delete (doc.dcos as { api: Record<string, unknown> }).api.auth;
    });
    const none = await svc(['list'], {}, noAuth);
    expect(none.code, none.stderr).toBe(3);
    expect(none.stderr).toMatch(/no token for the backup service/);
    expect(none.stderr).toMatch(/DCOS_ACS_TOKEN/);

    const bad = 'not-a-token-c2VjcmV0LXN0dWZm';
    const badRun = await svc(['list', '--json', '--verbose'], { DCOS_ACS_TOKEN: bad }, noAuth);
    expect(badRun.code).toBe(3);
    expect(badRun.stderr).toMatch(/\$DCOS_ACS_TOKEN was refused \(HTTP 401/);
    expect(badRun.stderr + badRun.stdout).not.toContain(bad);
    // backup --with-service, which writes the journal: refused before anything, the token nowhere
    const full = await zkops(['backup', '-i', noAuth, '--dir', catalog, '--label', 'bad-token', '--with-service', '--verbose'], { env: { ...cleanEnv, DCOS_ACS_TOKEN: bad }, timeoutMs: 120_000 });
    expect(full.code, full.stderr).toBe(3);
    expect(full.stderr + full.stdout).not.toContain(bad);
    const journal = await import('node:fs').then((fs) => (fs.existsSync(join(catalog, 'journal.jsonl')) ? fs.readFileSync(join(catalog, 'journal.jsonl'), 'utf8') : ''));
    expect(journal).not.toContain(bad);
    expect(readdirSync(catalog).filter((f) => f.startsWith('bad-token'))).toEqual([]);

    // a real token of an account without dcos:adminrouter:ops:system-backup
    const origin = new URL(`https://${sb.masters[0]?.address}:8443`);
    const ca = await import('node:fs').then((fs) => fs.readFileSync(join(sb.dir, 'iam', 'dcos-ca.crt')));
    const viewer = await login({ origin, ca }, { uid: 'viewer', password: 'viewer' });
    const denied = await svc(['list', '--json'], { DCOS_ACS_TOKEN: viewer }, noAuth);
    expect(denied.code).toBe(3);
    expect(denied.stderr).toMatch(/lacks the permission dcos:adminrouter:ops:system-backup/);
    expect(denied.stderr + denied.stdout).not.toContain(viewer);

    // the same login by password from the inventory: refused the same way, the password never shown
    const byPassword = inventoryCopy(sb, 'svc-viewer', (doc) => {
      (doc.dcos as { api: Record<string, unknown> }).api.auth = { uid: 'viewer', passwordEnv: 'SVC_PW' };
    });
    const pw = await svc(['list'], { SVC_PW: 'viewer' }, byPassword);
    expect(pw.code).toBe(3);
    expect(pw.stderr).toMatch(/the login of viewer lacks the permission/);
    const wrong = await svc(['list'], { SVC_PW: 'wrong-password-xyz' }, byPassword);
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toMatch(/refused viewer's credentials/);
    expect(wrong.stderr).not.toContain('wrong-password-xyz');

    // a token the dcos CLI keeps for this cluster is used as the CLI would
    const admin = await login({ origin, ca }, { uid: 'bootstrapuser', password: 'deleteme' });
    const cli = join(cleanEnv.DCOS_DIR as string, 'clusters', '5a1e-sandbox');
    mkdirSync(cli, { recursive: true });
    writeFileSync(join(cli, 'dcos.toml'), `[core]\ndcos_url = "https://${sb.masters[0]?.address}"\ndcos_acs_token = "${admin}"\n[cluster]\nname = "sandbox"\n`);
    const fromCli = await svc(['list'], {}, noAuth);
    expect(fromCli.code, fromCli.stderr).toBe(0);
    expect(fromCli.stdout).toMatch(/STATUS_READY/);
    expect(fromCli.stderr + fromCli.stdout).not.toContain(admin);
  }, 120_000);
});

describe('a login by password on a terminal', () => {
  it('asks once, without echo, and the password is never shown', async () => {
    const inv = inventoryCopy(sb, 'svc-prompt', (doc) => {
      (doc.dcos as { api: Record<string, unknown> }).api.auth = { uid: 'bootstrapuser' };
    });
    const command = `stty cols 150 rows 50; exec ${[process.execPath, CLI, 'service-backup', 'list', '-i', inv].map((a) => `'${a}'`).join(' ')}`;
    const env: NodeJS.ProcessEnv = { ...process.env, ...cleanEnv, DCOS_DIR: mkdtempSync(join(sb.work, 'dcos-empty-')), TERM: 'xterm', NO_COLOR: '1' };
    delete env.CI;
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let asked = 0;
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const n = out.split('Password for bootstrapuser at https://127.0.55.1:8443: ').length - 1;
      while (asked < n) {
        child.stdin.write('deleteme\r');
        asked++;
      }
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), 60_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => (clearTimeout(timer), resolve(c))));
    expect(code, out).toBe(0);
    expect(asked).toBe(1);
    expect(out).toMatch(/STATUS_READY|no service backups/);
    expect(out).not.toContain('deleteme');
  }, 120_000);
});

/** Follow a backup started with --no-wait until it is READY. */
async function waitReady(id: string, master = 'master-1'): Promise<void> {
  for (let i = 0; i < 60; i++) {
    const r = await svc(['show', id, '--json', '--master', master]);
    if (r.code === 0 && json<ServiceMeta>(r).status === 'STATUS_READY') return;
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error(`${id} never READY`);
}

describe('the full-cluster backup', () => {
  interface Meta {
    id: string;
    status: string;
    error: string | null;
    service?: { id: string; master: string; status: string; restores?: { id: string; status: string }[] };
  }
  const show = async (id: string): Promise<Meta> => json<Meta>(await zkops(['show', id, '--dir', catalog, '--json']));

  it('backup --with-service takes both halves under one label; restore --with-service restores ZooKeeper, then the service half', async () => {
    const b = await zkops(['backup', '-i', sb.inventory, '--dir', catalog, '--label', 'full-1', '--with-service'], { env: cleanEnv, timeoutMs: 300_000 });
    expect(b.code, b.stderr).toBe(0);
    const id = b.stdout.trim();
    const meta = await show(id);
    expect(meta.status).toBe('STATUS_READY');
    expect(meta.service).toMatchObject({ master: 'master-1', status: 'STATUS_READY' });
    expect(meta.service?.id).toMatch(/^full-1-[0-9a-f-]{36}$/);
    // the service half was taken first
    expect(b.stderr.indexOf('service half (Marathon)')).toBeLessThan(b.stderr.indexOf(`backup ${id} READY`));
    const human = await zkops(['show', id, '--dir', catalog]);
    expect(human.stdout).toMatch(/zookeeper\s+STATUS_READY/);
    expect(human.stdout).toMatch(new RegExp(`service\\s+STATUS_READY ${meta.service?.id} on master-1`));

    const r = await zkops(['restore', id, '-i', sb.inventory, '--dir', catalog, '--yes', '--with-service'], { env: cleanEnv, timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(0);
    const zkDone = r.stderr.indexOf('the ZooKeeper half is restored and the cluster healthy');
    const bothDone = r.stderr.indexOf('both halves are done');
    expect(zkDone).toBeGreaterThan(-1);
    expect(bothDone).toBeGreaterThan(zkDone);
    const after = await show(id);
    expect(after.service?.restores).toEqual([expect.objectContaining({ status: 'STATUS_READY' })]);
    const onService = json<ServiceMeta>(await svc(['show', meta.service?.id as string, '--json']));
    expect(onService.restores?.map((x) => x.status)).toEqual(['STATUS_READY']);

    // the same from a copy of the entry in a catalog on another host, read over SSH
    const dest = `root@${sb.masters[2]?.address}:/var/tmp/offsite`;
    const c = await zkops(['copy', id, dest, '--dir', catalog, '-i', sb.inventory]);
    expect(c.code, c.stderr).toBe(0);
    const remote = await zkops(['restore', id, '--dir', dest, '-i', sb.inventory, '--yes', '--with-service'], { cwd: mkdtempSync(join(sb.work, 'cwd-')), env: cleanEnv, timeoutMs: 300_000 });
    expect(remote.code, remote.stderr).toBe(0);
    expect(remote.stderr).toMatch(/both halves are done/);
    const twice = json<ServiceMeta>(await svc(['show', meta.service?.id as string, '--json']));
    expect(twice.restores?.map((x) => x.status)).toEqual(['STATUS_READY', 'STATUS_READY']);
  }, 600_000);

  it('restore --with-service: ZooKeeper failing leaves the service half untouched; the service half failing after ZooKeeper says ZooKeeper is done', async () => {
    const b = await zkops(['backup', '-i', sb.inventory, '--dir', catalog, '--label', 'full-r', '--with-service'], { env: cleanEnv, timeoutMs: 300_000 });
    expect(b.code, b.stderr).toBe(0);
    const id = b.stdout.trim();
    const serviceId = (await show(id)).service?.id as string;
    const restoresOnService = async () => json<ServiceMeta>(await svc(['show', serviceId, '--json'])).restores ?? [];

    // another backup holds the service's lock: refused before anything stops (exit 3)
    expect((await sb.sandbox('fault', 'master-1', 'service-backup-slow', '6')).code).toBe(0);
    const holder = await svc(['create', '--label', 'holder', '--no-wait']);
    expect(holder.code, holder.stderr).toBe(0);
    const pids = zkPids(sb.dir);
    const busy = await zkops(['restore', id, '-i', sb.inventory, '--dir', catalog, '--yes', '--with-service'], { env: cleanEnv, timeoutMs: 120_000 });
    expect(busy.code, busy.stderr).toBe(3);
    expect(busy.stderr).toMatch(/another backup or restore is running on the backup service \(backup holder-\S+ is STATUS_BACKING_UP\): nothing was stopped/);
    expect(zkPids(sb.dir)).toEqual(pids);
    expect(await restoresOnService()).toEqual([]);
    await waitReady(holder.stdout.trim());

    // the ZooKeeper half fails (dcos-zk restore exits 1 on every master): the service half is not touched
    for (const m of sb.masters) expect((await sb.sandbox('fault', m.name, 'dcos-zk-fail')).code).toBe(0);
    try {
      const r = await zkops(['restore', id, '-i', sb.inventory, '--dir', catalog, '--yes', '--with-service', '--method', 'dcos-zk'], { env: cleanEnv, timeoutMs: 300_000 });
      expect(r.code, r.stderr).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`the ZooKeeper half did not complete: the service half ${serviceId} was NOT restored`));
      expect(await restoresOnService()).toEqual([]);
    } finally {
      for (const m of sb.masters) await sb.sandbox('fault', m.name, 'clear');
    }
    await waitClusterHealthy(sb);

    // the service half fails after ZooKeeper is restored: exit 1, and the message says which half is done
    expect((await sb.sandbox('fault', 'master-1', 'service-restore-error', 'marathon refused the restore')).code).toBe(0);
    const r = await zkops(['restore', id, '-i', sb.inventory, '--dir', catalog, '--yes', '--with-service'], { env: cleanEnv, timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`ZooKeeper is restored and healthy, but the service half ${serviceId} was not restored: .*marathon refused the restore`));
    expect(r.stderr).toMatch(new RegExp(`zkops service-backup restore ${serviceId} --master master-1`));
    expect((await show(id)).service?.restores?.map((x) => x.status)).toEqual(['STATUS_ERROR']);
    expect((await restoresOnService()).map((x) => x.status)).toEqual(['STATUS_ERROR']);
  }, 600_000);

  it("the service's lock held by another backup: exit 3, another backup or restore is running, nothing in the catalog", async () => {
    expect((await sb.sandbox('fault', 'master-2', 'service-backup-slow', '8')).code).toBe(0);
    const other = await svc(['create', '--label', 'someone-else', '--no-wait', '--master', 'master-2']);
    expect(other.code, other.stderr).toBe(0);
    const before = readdirSync(catalog).filter((f) => f.startsWith('full-busy'));
    const b = await zkops(['backup', '-i', sb.inventory, '--dir', catalog, '--label', 'full-busy', '--with-service'], { env: cleanEnv, timeoutMs: 120_000 });
    expect(b.code, b.stderr).toBe(3);
    expect(b.stderr).toMatch(/another backup or restore is running/);
    expect(readdirSync(catalog).filter((f) => f.startsWith('full-busy'))).toEqual(before);
    await waitReady(other.stdout.trim(), 'master-2');
  }, 120_000);

  it('Ctrl-C while the service half runs: exit 130, its id printed and in the catalog, the ZooKeeper half not taken', async () => {
    expect((await sb.sandbox('fault', 'master-1', 'service-backup-slow', '8')).code).toBe(0);
    const run = startZkops(['backup', '-i', sb.inventory, '--dir', catalog, '--label', 'full-int', '--with-service'], { env: cleanEnv, timeoutMs: 120_000 });
    await run.waitFor(/service half \(Marathon\): full-int-\S+ started on master-1/, 60_000);
    const serviceId = /service half \(Marathon\): (full-int-\S+) started/.exec(run.stderr())?.[1] as string;
    run.child.kill('SIGINT');
    const r = await run.result;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/interrupted while the service backup/);
    const entry = readdirSync(catalog).find((f) => f.startsWith('full-int-') && f.endsWith('.json')) as string;
    const meta = await show(entry.replace(/\.json$/, ''));
    expect(meta.status).toBe('STATUS_ERROR');
    expect(meta.service?.id).toBe(serviceId);
    expect(meta.error).toMatch(/the ZooKeeper half was not taken$/);
    // the service backup went on on the master
    await waitReady(serviceId);
  }, 120_000);

  it('the service half ending in STATUS_ERROR: exit 1 with its reason, the ZooKeeper half not taken, the entry says so', async () => {
    expect((await sb.sandbox('fault', 'master-1', 'service-backup-error', 'marathon was not reachable')).code).toBe(0);
    const b = await zkops(['backup', '-i', sb.inventory, '--dir', catalog, '--label', 'full-err', '--with-service', '--json'], { env: cleanEnv, timeoutMs: 120_000 });
    expect(b.code, b.stderr).toBe(1);
    expect(b.stderr).toMatch(/marathon was not reachable/);
    expect(b.stderr).toMatch(/the ZooKeeper half was not taken/);
    const out = json<{ backup: Meta; runId: string }>(b).backup;
    const meta = await show(out.id);
    expect(meta).toMatchObject({ status: 'STATUS_ERROR', service: { status: 'STATUS_ERROR', master: 'master-1' } });
    expect(meta.error).toMatch(/^the service half \(Marathon\) full-err-.* is STATUS_ERROR \(.*marathon was not reachable.*\); the ZooKeeper half was not taken$/);
    expect(readdirSync(catalog).filter((f) => f.startsWith(out.id) && f.endsWith('.tar.gz'))).toEqual([]);
    // no ZooKeeper run: the journal has no run for this backup
    const journal = await import('node:fs').then((fs) => fs.readFileSync(join(catalog, 'journal.jsonl'), 'utf8'));
    expect(journal).not.toContain(`backup ${out.id}`);
  }, 120_000);

  it('the ZooKeeper half failing after the service half succeeded: the catalog says the service half exists and the ZooKeeper half does not', async () => {
    await waitClusterHealthy(sb);
    for (const m of sb.masters) expect((await sb.sandbox('fault', m.name, 'dcos-zk-fail')).code).toBe(0);
    try {
      const b = await zkops(['backup', '-i', sb.inventory, '--dir', catalog, '--label', 'full-2', '--with-service', '--method', 'dcos-zk', '--json'], { env: cleanEnv, timeoutMs: 300_000 });
      expect(b.code, b.stderr).toBe(1);
      // the message says which half exists, as the catalog does
      expect(b.stderr).toMatch(/the ZooKeeper half failed: [\s\S]*; the service half \(Marathon\) full-2-\S+ on master-1 is STATUS_READY/);
      const out = json<{ backup: Meta }>(b).backup;
      const meta = await show(out.id);
      expect(meta.status).toBe('STATUS_ERROR');
      expect(meta.service).toMatchObject({ status: 'STATUS_READY', master: 'master-1' });
      expect(meta.error).toMatch(/^the ZooKeeper half failed: /);
      expect(meta.error).toContain(`the service half (Marathon) ${meta.service?.id} on master-1 is STATUS_READY`);
      // the catalog holds no archive for it; the service still has its half
      expect(readdirSync(catalog).filter((f) => f.startsWith(out.id) && f.endsWith('.tar.gz'))).toEqual([]);
      expect(json<ServiceMeta>(await svc(['show', meta.service?.id as string, '--json'])).status).toBe('STATUS_READY');
      const human = await zkops(['show', out.id, '--dir', catalog]);
      expect(human.stdout).toMatch(/zookeeper\s+STATUS_ERROR/);
      expect(human.stdout).toMatch(/service\s+STATUS_READY/);
      // and restore --with-service of it is refused before anything stops
      const units = await exhibitorUnits(sb);
      const r = await zkops(['restore', out.id, '-i', sb.inventory, '--dir', catalog, '--yes', '--with-service'], { env: cleanEnv, timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/its ZooKeeper half does not exist/);
      expect(await exhibitorUnits(sb)).toEqual(units);
    } finally {
      for (const m of sb.masters) await sb.sandbox('fault', m.name, 'clear');
    }
  }, 600_000);
});
