// zkops copy to a catalog over SSH, against a real OpenSSH sshd (127.0.51.20; this file owns
// 127.0.51.20-29): the archive arrives with the metadata's sha256, modes 0600 in a 0700
// directory, the copy recorded in the source; the same copy again is nothing to do; another
// sha256 there is refused; the remote catalog lists with CORRUPT entries; the host's SSH
// settings come from -i INV's ssh: section or from ~/.ssh/config (HOME of the test); an unknown
// host key is refused with its fingerprint; a connection cut during the copy leaves nothing
// there, and a staging directory whose guard was killed goes with the next copy.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newBackupId } from '../../src/catalog/labels.js';
import { Catalog, type BackupMeta } from '../../src/catalog/store.js';
import { SafetyRefusal, TransportError } from '../../src/errors.js';
import { copyBackup } from '../../src/procedures/copy.js';
import { catalogEntry, listCatalog, type RemoteDeps } from '../../src/procedures/remote-catalog.js';
import { createSshTransport } from '../../src/transport/index.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';

let dir: string;
let sshd: Sshd;
let catalog: string;
let remote: string;
let inventory: string;
let id: string;
let sha: string;
const saved = { HOME: process.env.HOME, ZKOPS_SSH_CONFIG: process.env.ZKOPS_SSH_CONFIG };

const deps = (): RemoteDeps => ({
  transport: createSshTransport(),
  warn: () => undefined,
  interrupts: { signal: new AbortController().signal, onSignal: () => () => undefined },
  now: Date.now,
});

/** A READY entry of `bytes` random bytes in a local catalog (copy reads only the archive and its sha256). */
function readyEntry(cat: string, label: string, bytes: number): { id: string; sha: string } {
  const entryId = newBackupId(label);
  mkdirSync(cat, { recursive: true, mode: 0o700 });
  const file = join(cat, `${entryId}.tar.gz`);
  execFileSync('sh', ['-c', `head -c ${bytes} /dev/urandom > '${file}'`]);
  const digest = createHash('sha256').update(readFileSync(file)).digest('hex');
  const meta: BackupMeta = {
    id: entryId, label, cluster: 'c1', status: 'STATUS_READY', error: null, remoteArchive: null, sourceMaster: 'master-1',
    created: new Date().toISOString(), finished: new Date().toISOString(), size: bytes, sha256: digest, zxidRange: null, files: [],
    leaderZxid: null, masterZxid: null, zookeeperVersion: '3.8.4', dcosVersion: null, stopWindowMs: 0, zkopsVersion: '0.1.0', runId: null,
  };
  writeFileSync(join(cat, `${entryId}.json`), JSON.stringify(meta), { mode: 0o600 });
  return { id: entryId, sha: digest };
}

const sha256sum = (f: string): string => execFileSync('sha256sum', ['--', f], { encoding: 'utf8' }).split(' ')[0] ?? '';
const modeOf = (f: string): string => (statSync(f).mode & 0o777).toString(8);
const dest = (sub: string): string => `${sshd.user}@${sshd.address}:${join(remote, sub)}`;

/** SIGKILL the per-connection sshd processes only (what `sandbox fault M ssh-drop` does): the commands they ran live on. */
function dropConnections(): number {
  const kids = execFileSync('sh', ['-c', `pgrep -P ${sshd.pid} -x sshd || true`], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  const all = [...kids, ...kids.flatMap((k) => execFileSync('sh', ['-c', `pgrep -P ${k} -x sshd || true`], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number))];
  for (const p of all) process.kill(p, 'SIGKILL');
  return all.length;
}

async function eventually(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not so after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-copy-ssh-'));
  remote = join(dir, 'remote');
  mkdirSync(remote);
  catalog = join(dir, 'catalog');
  sshd = await startSshd({ address: '127.0.51.20', dir: join(dir, 'sshd') });
  ({ id, sha } = readyEntry(catalog, 'nightly', 3 * 1024 * 1024));
  // the ssh: settings are lent; the master is another host, so DEST is not one of the masters
  inventory = join(dir, 'inv.yaml');
  writeFileSync(inventory, `cluster: c1\nssh:\n  identityFile: ${sshd.clientKey}\n  knownHosts: ${sshd.knownHosts}\n  connectTimeout: 5s\nmasters:\n  - host: 127.0.51.29\n`);
  process.env.ZKOPS_SSH_CONFIG = join(dir, 'no-ssh-config');
});

afterAll(async () => {
  process.env.HOME = saved.HOME;
  if (saved.ZKOPS_SSH_CONFIG === undefined) delete process.env.ZKOPS_SSH_CONFIG;
  else process.env.ZKOPS_SSH_CONFIG = saved.ZKOPS_SSH_CONFIG;
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('copy to user@host:/path', () => {
  it('creates the directory 0700, the archive arrives whole (0600), the metadata beside it, the copy recorded; nothing else left', async () => {
    const r = await copyBackup({ id, dest: dest('offsite'), dir: catalog, inventory }, deps());
    expect(r).toMatchObject({ outcome: 'copied', kind: 'ssh', created: true, bytes: 3 * 1024 * 1024, sha256: sha, dest: dest('offsite') });
    const there = join(remote, 'offsite');
    expect(modeOf(there)).toBe('700');
    expect(readdirSync(there).sort()).toEqual([`${id}.json`, `${id}.tar.gz`]);
    expect(sha256sum(join(there, `${id}.tar.gz`))).toBe(sha);
    expect(modeOf(join(there, `${id}.tar.gz`))).toBe('600');
    expect(modeOf(join(there, `${id}.json`))).toBe('600');
    const source = await new Catalog(catalog).get(id);
    const { copies, ...rest } = source;
    expect(JSON.parse(readFileSync(join(there, `${id}.json`), 'utf8'))).toEqual(rest);
    expect(copies).toEqual([{ dest: dest('offsite'), at: r.record.at, sha256: sha }]);
  });

  it('the same copy again: nothing to do, one record', async () => {
    const r = await copyBackup({ id, dest: dest('offsite'), dir: catalog, inventory }, deps());
    expect(r.outcome).toBe('present');
    expect((await new Catalog(catalog).get(id)).copies).toHaveLength(1);
  });

  it('another archive under the same id there: refused (exit 3), nothing written', async () => {
    const other = join(remote, 'other');
    mkdirSync(other, { mode: 0o700 });
    const meta = JSON.parse(readFileSync(join(catalog, `${id}.json`), 'utf8')) as BackupMeta;
    writeFileSync(join(other, `${id}.json`), JSON.stringify({ ...meta, copies: undefined, sha256: 'b'.repeat(64) }));
    writeFileSync(join(other, `${id}.tar.gz`), 'another archive');
    const err = await copyBackup({ id, dest: dest('other'), dir: catalog, inventory }, deps()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SafetyRefusal);
    expect((err as Error).message).toMatch(new RegExp(`already holds ${id} with another sha256 \\(b{64} there, ${sha} here\\): refusing to replace it`));
    expect(readFileSync(join(other, `${id}.tar.gz`), 'utf8')).toBe('another archive');
    expect(readdirSync(other).sort()).toEqual([`${id}.json`, `${id}.tar.gz`]);
  });

  it('list and show of the remote catalog: the entry READY, corrupt ones CORRUPT with the reason', async () => {
    const there = join(remote, 'offsite');
    const bad = newBackupId('broken');
    const linked = newBackupId('linked');
    writeFileSync(join(there, `${bad}.json`), '{"id": "trunc');
    execFileSync('ln', ['-s', join(catalog, `${id}.json`), join(there, `${linked}.json`)]);
    writeFileSync(join(there, 'notes.json'), '{}');
    try {
      const { entries, where } = await listCatalog({ dir: dest('offsite'), inventory }, deps());
      expect(where).toBe(dest('offsite'));
      expect(entries.map((e) => [e.id, e.status])).toEqual([[id, 'STATUS_READY'], [bad, 'CORRUPT'], [linked, 'CORRUPT']]);
      expect(entries[1]).toMatchObject({ reason: expect.stringMatching(/^not JSON/), file: `${dest('offsite')}/${bad}.json` });
      expect(entries[2]).toMatchObject({ reason: expect.stringMatching(/symbolic link .*zkops does not follow links/) });
      expect((await listCatalog({ dir: dest('offsite'), inventory, label: 'nightly' }, deps())).entries.map((e) => e.id)).toEqual([id]);
      const shown = await catalogEntry({ dir: dest('offsite'), inventory, id }, deps());
      expect(shown.entry).toMatchObject({ id, sha256: sha, status: 'STATUS_READY' });
      expect(shown.error).toBeUndefined();
      const corrupt = await catalogEntry({ dir: dest('offsite'), inventory, id: bad }, deps());
      expect(corrupt.entry.status).toBe('CORRUPT');
      expect(String(corrupt.error)).toMatch(/CORRUPT/);
    } finally {
      rmSync(join(there, `${bad}.json`));
      rmSync(join(there, `${linked}.json`));
      rmSync(join(there, 'notes.json'));
    }
  });

  it('a directory that does not exist lists as empty', async () => {
    const r = await listCatalog({ dir: dest('nowhere'), inventory }, deps());
    expect(r).toMatchObject({ entries: [], missing: true });
  });
});

describe("the destination host's SSH settings", () => {
  it('without -i: ~/.ssh/config (a Host alias with HostName, User, IdentityFile) and ~/.ssh/known_hosts', async () => {
    const home = join(dir, 'home');
    mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
    writeFileSync(join(home, '.ssh', 'config'), `Host offsite-nas\n  HostName ${sshd.address}\n  User ${sshd.user}\n  IdentityFile ${sshd.clientKey}\n`);
    writeFileSync(join(home, '.ssh', 'known_hosts'), `${sshd.knownHostsLine()}\n`);
    process.env.HOME = home;
    process.env.ZKOPS_SSH_CONFIG = join(home, '.ssh', 'config');
    try {
      const r = await copyBackup({ id, dest: `offsite-nas:${join(remote, 'by-alias')}`, dir: catalog }, deps());
      expect(r).toMatchObject({ outcome: 'copied', dest: `${sshd.user}@offsite-nas:${join(remote, 'by-alias')}` });
      expect(sha256sum(join(remote, 'by-alias', `${id}.tar.gz`))).toBe(sha);
    } finally {
      process.env.HOME = saved.HOME;
      process.env.ZKOPS_SSH_CONFIG = join(dir, 'no-ssh-config');
    }
  });

  it('an unknown host key is refused with its SHA256 fingerprint (exit 3); nothing written, nothing recorded', async () => {
    const inv = join(dir, 'inv-unknown.yaml');
    writeFileSync(join(dir, 'empty_known_hosts'), '');
    writeFileSync(inv, `cluster: c1\nssh:\n  identityFile: ${sshd.clientKey}\n  knownHosts: ${join(dir, 'empty_known_hosts')}\nmasters:\n  - host: 127.0.51.29\n`);
    const before = readFileSync(join(catalog, `${id}.json`), 'utf8');
    const err = await copyBackup({ id, dest: dest('unknown-key'), dir: catalog, inventory: inv }, deps()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).kind).toBe('hostkey-unknown');
    expect((err as TransportError).exitCode).toBe(3);
    expect((err as Error).message).toContain(sshd.fingerprint());
    expect(readdirSync(remote)).not.toContain('unknown-key');
    expect(readFileSync(join(catalog, `${id}.json`), 'utf8')).toBe(before);
  });
});

describe('a copy cut in the middle', () => {
  it('the connection dropped during the transfer: a clear error, nothing at the destination, the source untouched', async () => {
    const big = readyEntry(catalog, 'big', 512 * 1024 * 1024);
    const there = join(remote, 'cut');
    const before = readFileSync(join(catalog, `${big.id}.json`), 'utf8');
    const copying = copyBackup({ id: big.id, dest: dest('cut'), dir: catalog, inventory }, deps()).catch((e: unknown) => e);
    // the .part in the staging directory has bytes: the transfer is under way
    await eventually('a .part growing at the destination', () => {
      try {
        return readdirSync(there).some((n) => n.startsWith('.zkops-copy-') && readdirSync(join(there, n)).some((f) => f.endsWith('.part') && statSync(join(there, n, f)).size > 0));
      } catch {
        return false;
      }
    }, 60_000);
    expect(dropConnections()).toBeGreaterThan(0);
    const err = await copying;
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).kind).toBe('dropped');
    expect((err as TransportError).exitCode).toBe(1);
    expect((err as Error).message).toMatch(/SSH connection to .*cut.* dropped during/);
    expect((err as TransportError).hint).toMatch(/nothing was kept on .*: zkops's guard there removes the partial copy/);
    await eventually('the destination empty', () => readdirSync(there).length === 0);
    expect(readFileSync(join(catalog, `${big.id}.json`), 'utf8')).toBe(before);
    expect(sha256sum(join(catalog, `${big.id}.tar.gz`))).toBe(big.sha);
    rmSync(join(catalog, `${big.id}.tar.gz`));
    rmSync(join(catalog, `${big.id}.json`));
  });

  it('a staging directory whose guard is gone (killed with its session) goes with the next copy there', async () => {
    const there = join(remote, 'offsite');
    const stale = join(there, `.zkops-copy-${randomBytes(8).toString('hex')}`);
    mkdirSync(stale, { mode: 0o700 });
    writeFileSync(join(stale, 'guard'), '999999999\n');
    writeFileSync(join(stale, `${id}.tar.gz.part`), 'half');
    execFileSync('touch', ['-d', '2 minutes ago', stale]);
    const r = await copyBackup({ id, dest: dest('offsite'), dir: catalog, inventory }, deps());
    expect(r.outcome).toBe('present');
    expect(readdirSync(there).sort()).toEqual([`${id}.json`, `${id}.tar.gz`]);
  });
});
