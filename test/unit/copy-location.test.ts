// Where a copy goes and what a remote catalog read says, as data: DEST parsed (scp's rule: a
// colon before any slash is a host), each malformed one with its message; the framed output of
// the remote read parsed into entries (CORRUPT with the reason); what an existing entry at the
// destination decides (copy, nothing to do, or a refusal with its message).
import { describe, expect, it } from 'vitest';
import { newBackupId } from '../../src/catalog/labels.js';
import { isRemoteCatalog, locationText, parseLocation } from '../../src/catalog/remote-dest.js';
import { parseDump } from '../../src/catalog/remote.js';
import type { BackupMeta } from '../../src/catalog/store.js';
import { SafetyRefusal, UsageError } from '../../src/errors.js';
import { judgeExisting } from '../../src/procedures/copy.js';

describe('parseLocation', () => {
  it.each([
    ['root@10.0.0.5:/var/tmp/offsite', { kind: 'ssh', user: 'root', host: '10.0.0.5', path: '/var/tmp/offsite' }],
    ['nas:/srv/zk//backups/', { kind: 'ssh', user: undefined, host: 'nas', path: '/srv/zk/backups' }],
    ['backup@[fd00::7]:/srv/zk', { kind: 'ssh', user: 'backup', host: 'fd00::7', path: '/srv/zk' }],
    ['ops.team@nas-1.example.com:/a', { kind: 'ssh', user: 'ops.team', host: 'nas-1.example.com', path: '/a' }],
  ])('%s is a remote catalog', (text, expected) => {
    expect(isRemoteCatalog(text)).toBe(true);
    expect(parseLocation(text)).toEqual(expected);
  });

  it.each([['./zk-backups'], ['/mnt/share/zk'], ['./a:b'], ['/x/host:/y'], ['zk-backups']])('%s is a local directory', (text) => {
    expect(isRemoteCatalog(text)).toBe(false);
    expect(parseLocation(text)).toMatchObject({ kind: 'dir' });
  });

  it.each([
    ['nas:', 'the remote directory must be an absolute path'],
    ['nas:relative/dir', 'the remote directory must be an absolute path'],
    ['nas:/', 'cannot be "/"'],
    ['nas:/srv/../etc', 'must not have "." or ".." components'],
    ['nas:/srv/zk backups', 'may hold only letters, digits'],
    ['nas:/srv/$(reboot)', 'may hold only letters, digits'],
    ['-oProxyCommand=x:/srv', 'is not a host'],
    ['bad user@nas:/srv', 'is not a user name'],
    ['a@b@c:/srv', 'is neither a directory nor user@host:/path'],
    [':/srv', 'is not a host'],
  ])('%s: %s (exit 2)', (text, message) => {
    let err: unknown;
    try {
      parseLocation(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(message);
  });

  it('locationText: the form recorded in copies, with the user resolved', () => {
    const l = parseLocation('nas:/srv/zk');
    expect(locationText(l, 'backup')).toBe('backup@nas:/srv/zk');
    expect(locationText(parseLocation('[fd00::7]:/srv'), 'root')).toBe('root@[fd00::7]:/srv');
    expect(locationText(parseLocation('/mnt/x/'))).toBe('/mnt/x');
  });
});

const b64 = (s: string) => Buffer.from(s).toString('base64');

function meta(over: Partial<BackupMeta> = {}): BackupMeta {
  const id = over.id ?? newBackupId('nightly');
  return {
    id, label: 'nightly', cluster: 'c1', status: 'STATUS_READY', error: null, remoteArchive: null, sourceMaster: 'm1',
    created: '2026-01-01T00:00:00.000Z', finished: '2026-01-01T00:01:00.000Z', size: 10, sha256: 'a'.repeat(64), zxidRange: null,
    files: [], leaderZxid: null, masterZxid: null, zookeeperVersion: '3.8.4', dcosVersion: null, stopWindowMs: 0, zkopsVersion: '0.1.0', runId: null, ...over,
  };
}

describe('parseDump: the framed remote read', () => {
  const older = meta({ created: '2026-01-01T00:00:00.000Z' });
  const newer = meta({ created: '2026-02-01T00:00:00.000Z' });
  const bad = newBackupId('broken');
  const link = newBackupId('linked');
  const where = 'root@nas:/srv/zk';
  const out = [
    'zkops-dir ok',
    `F ${b64(`${older.id}.json`)} ${b64(JSON.stringify(older))}`,
    `F ${b64(`${newer.id}.json`)} ${b64(JSON.stringify(newer))}`,
    `F ${b64(`${bad}.json`)} ${b64('{"id":')}`,
    `L ${b64(`${link}.json`)} ${b64('/etc/shadow')}`,
    `F ${b64('notes.json')} ${b64('{}')}`,
    `X ${b64(`${newBackupId('odd')}.json`)}`,
    `B ${b64(`${newBackupId('huge')}.json`)}`,
    'A file 1234',
  ].join('\n');

  it('every entry validated as the local catalog validates it; names that are not ids left out', () => {
    const d = parseDump(out, where);
    expect(d.dir).toBe('ok');
    expect(d.archive).toEqual({ kind: 'file', size: 1234 });
    expect(d.entries.map((e) => e.status)).toEqual(['STATUS_READY', 'STATUS_READY', 'CORRUPT', 'CORRUPT', 'CORRUPT', 'CORRUPT']);
    expect(d.entries[2]).toMatchObject({ id: bad, reason: expect.stringMatching(/^not JSON/), file: `${where}/${bad}.json` });
    expect(d.entries[3]).toMatchObject({ id: link, reason: 'it is a symbolic link (to /etc/shadow); zkops does not follow links in the catalog' });
    expect(d.entries[4]).toMatchObject({ reason: expect.stringMatching(/not a regular file/) });
    expect(d.entries[5]).toMatchObject({ reason: expect.stringMatching(/larger than/) });
  });

  it('a label filters; a missing directory has nothing', () => {
    expect(parseDump(out, where, 'broken').entries.map((e) => e.id)).toEqual([bad]);
    expect(parseDump('zkops-dir missing\n', where)).toEqual({ dir: 'missing', entries: [], archive: undefined });
  });

  it('metadata whose id is not its file name is CORRUPT', () => {
    const other = meta();
    const name = `${newBackupId('nightly')}.json`;
    const d = parseDump(`F ${b64(name)} ${b64(JSON.stringify(other))}`, where);
    expect(d.entries[0]).toMatchObject({ status: 'CORRUPT', reason: expect.stringMatching(/is not the file's/) });
  });
});

describe('judgeExisting: what the destination holds under the id', () => {
  const m = meta({ size: 10 });
  const where = 'backup@nas:/srv/zk';
  const refused = (f: () => unknown, message: RegExp) => {
    let err: unknown;
    try {
      f();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SafetyRefusal);
    expect((err as Error).message).toMatch(message);
  };

  it('nothing there, or an archive without metadata (replaced): copy', () => {
    expect(judgeExisting(undefined, { kind: 'none' }, m, where)).toBe('absent');
    expect(judgeExisting(undefined, { kind: 'file', size: 3 }, m, where)).toBe('absent');
  });

  it('the same sha256 and its archive whole: nothing to do', () => {
    expect(judgeExisting({ ...m }, { kind: 'file', size: 10 }, m, where)).toBe('present');
  });

  it.each([
    ['another sha256', { ...m, sha256: 'b'.repeat(64) }, { kind: 'file', size: 10 } as const, /already holds .* with another sha256 \(b{64} there, a{64} here\): refusing to replace it/],
    ['CORRUPT metadata', { id: m.id, label: 'nightly', status: 'CORRUPT', reason: 'not JSON', file: 'x' } as const, { kind: 'file', size: 10 } as const, /with CORRUPT metadata \(not JSON\): refusing to write over it/],
    ['no archive', { ...m }, { kind: 'none' } as const, /holds the metadata of .* but no archive: refusing/],
    ['a short archive', { ...m }, { kind: 'file', size: 4 } as const, /but an archive of 4 bytes, not 10/],
    ['a link', { ...m }, { kind: 'odd', what: 'a symbolic link' } as const, /but an archive that is a symbolic link/],
  ])('%s: refused', (_what, entry, archive, message) => {
    refused(() => judgeExisting(entry as never, archive, m, where), message);
  });
});
