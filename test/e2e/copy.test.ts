// zkops copy, end to end through the built CLI, with a 1-master sandbox (127.0.51.1) whose real
// sshd is the off-site destination (its /var/tmp is its own): a copy to a directory and to
// root@127.0.51.1:/var/tmp/offsite (sha256 equal there, the metadata beside it, `copies` in the
// source's metadata and in `show`; again: nothing to do); `list` and `show` of that remote
// catalog; `restore ID --dir root@…` brings the backup's znodes back; a copy whose SSH
// connections are killed in the middle exits 1 with a clear error and leaves nothing there.
// The destination's SSH settings: `-i` lends the sandbox inventory's (its client key and
// known_hosts), as an operator's inventory would for an off-site host.
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, startZkops, zkops } from '../helpers/cli.js';
import { eventually, killSshd, startSandboxWithBackup, stopSandbox, waitClusterHealthy, type TestSandbox } from '../helpers/sandbox.js';

interface Meta {
  id: string;
  status: string;
  sha256: string;
  size: number;
  copies?: { dest: string; at: string; sha256: string }[];
}

const DEST = 'root@127.0.51.1:/var/tmp/offsite';
let sb: TestSandbox;
let catalog: string;
let backupId: string;
let backedUp: string;
let sha: string;

const cli = (args: string[], cwd?: string) => zkops(args, { timeoutMs: 300_000, ...(cwd ? { cwd } : {}) });
const offsite = async (): Promise<string> => (await sb.ssh(1, 'ls -A /var/tmp/offsite')).stdout.split('\n').filter(Boolean).sort().join(' ');

beforeAll(async () => {
  ({ sb, catalog, backupId, backedUp } = await startSandboxWithBackup({ masters: 1, baseIp: '127.0.51.1', name: 'copy', znodes: 200 }));
  sha = json<Meta>(await cli(['show', backupId, '--dir', catalog, '--json'])).sha256;
});

afterAll(async () => {
  await stopSandbox(sb);
});

describe('zkops copy', () => {
  it('to a directory: the archive with its sha256, the metadata, `copies` recorded; again: nothing to do', async () => {
    const share = join(sb.work, 'share');
    const r = await cli(['copy', backupId, share, '--dir', catalog]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`copied ${backupId} to ${share} \\(directory created, mode 0700\\): \\d+ bytes, sha256 ${sha} checked on arrival`));
    expect(createHash('sha256').update(readFileSync(join(share, `${backupId}.tar.gz`))).digest('hex')).toBe(sha);
    expect(json<Meta>(await cli(['show', backupId, '--dir', share, '--json']))).toMatchObject({ id: backupId, status: 'STATUS_READY', sha256: sha });
    const again = await cli(['copy', backupId, share, '--dir', catalog]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`${backupId} is already in ${share} with the same sha256 ${sha}: nothing to do`);
    const doc = await cli(['copy', backupId, share, '--dir', catalog, '--json']);
    expect(json<{ ok: boolean; copy: { outcome: string } }>(doc)).toMatchObject({ ok: true, copy: { outcome: 'present' } });
    expect(json<Meta>(await cli(['show', backupId, '--dir', catalog, '--json'])).copies).toEqual([{ dest: share, at: expect.any(String), sha256: sha }]);
  });

  it('over SSH to a master: sha256 equal on arrival, the metadata there (0600, directory 0700), `show` prints the copy', async () => {
    const r = await cli(['copy', backupId, DEST, '--dir', catalog, '-i', sb.inventory]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`copied ${backupId} to ${DEST} \\(directory created, mode 0700\\)`));
    const there = await sb.ssh(1, `cd /var/tmp/offsite && sha256sum ${backupId}.tar.gz && stat -c '%a %n' . ${backupId}.tar.gz ${backupId}.json`);
    expect(there.stdout).toContain(`${sha}  ${backupId}.tar.gz`);
    expect(there.stdout).toContain(`700 .\n600 ${backupId}.tar.gz\n600 ${backupId}.json`);
    expect(await offsite()).toBe(`${backupId}.json ${backupId}.tar.gz`);
    const show = await cli(['show', backupId, '--dir', catalog]);
    expect(show.stdout).toMatch(new RegExp(`copies\\s+.*${DEST} at \\d{4}-`));
  });

  it('list and show of the remote catalog (--dir root@…:/var/tmp/offsite)', async () => {
    const list = await cli(['list', '--dir', DEST, '-i', sb.inventory]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${backupId}\\s+READY`));
    const doc = json<Meta>(await cli(['show', backupId, '--dir', DEST, '-i', sb.inventory, '--json']));
    expect(doc).toMatchObject({ id: backupId, sha256: sha, status: 'STATUS_READY' });
    expect(doc.copies).toBeUndefined();
    const unknown = await cli(['show', `${backupId.slice(0, -1)}0`, '--dir', DEST, '-i', sb.inventory]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`in ${DEST}`);
  });
});

describe('zkops restore from a remote catalog', () => {
  it('downloads the archive first (checked), then restores it as a local one: the znodes as backed up', async () => {
    expect((await sb.sandbox('wipe', '--change')).code).toBe(0);
    expect(await sb.digest()).not.toBe(backedUp);
    const cwd = join(sb.work, 'cwd');
    const tmp = join(sb.work, 'tmp');
    mkdirSync(cwd);
    mkdirSync(tmp);
    const r = await zkops(['restore', backupId, '--dir', DEST, '-i', sb.inventory, '--yes'], { cwd, env: { TMPDIR: tmp }, timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(await sb.digest()).toBe(backedUp);
    await waitClusterHealthy(sb);
    // the downloaded archive is gone once the restore is over
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('its journal goes to the local default catalog, not to a directory named after the host', async () => {
    const cwd = join(sb.work, 'cwd');
    expect(existsSync(join(cwd, 'root@127.0.51.1:'))).toBe(false);
    expect(existsSync(join(cwd, 'zk-backups', 'journal.jsonl'))).toBe(true);
  });
});

describe('a copy cut in the middle', () => {
  it("the master's SSH connections killed during the transfer: exit 1, a clear error, nothing left there, the source untouched", async () => {
    // a READY entry of 1 GiB (copy reads only the archive and the metadata's sha256): time to cut it
    const meta = JSON.parse(readFileSync(join(catalog, `${backupId}.json`), 'utf8')) as Meta & Record<string, unknown>;
    const big = `zk-big-${randomUUID()}`;
    execFileSync('sh', ['-c', `head -c ${1024 * 1024 * 1024} /dev/urandom > '${join(catalog, `${big}.tar.gz`)}'`]);
    const bigSha = execFileSync('sha256sum', [join(catalog, `${big}.tar.gz`)], { encoding: 'utf8' }).split(' ')[0];
    writeFileSync(join(catalog, `${big}.json`), JSON.stringify({ ...meta, id: big, label: 'zk-big', sha256: bigSha, size: 1024 * 1024 * 1024, copies: null }));
    const before = readFileSync(join(catalog, `${big}.json`), 'utf8');
    const was = await offsite();

    const run = startZkops(['copy', big, DEST, '--dir', catalog, '-i', sb.inventory], { timeoutMs: 300_000 });
    await eventually('a growing .part on the master', async () => (await sb.ssh(1, `find /var/tmp/offsite -name '${big}.tar.gz.part' -size +1M`)).stdout.trim(), (v) => v !== '', 120_000);
    expect(killSshd(sb.dir, 'master-1', { listener: false })).toBeGreaterThan(0);
    const r = await run.result;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/error: SSH connection to root@127\.0\.51\.1:\/var\/tmp\/offsite \(127\.0\.51\.1:22\) dropped during/);
    expect(r.stderr).toMatch(/hint: nothing was kept on root@127\.0\.51\.1:\/var\/tmp\/offsite: zkops's guard there removes the partial copy/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    await eventually('nothing of the cut copy left there', offsite, (v) => v === was, 15_000);
    expect(readFileSync(join(catalog, `${big}.json`), 'utf8')).toBe(before);
  });
});
