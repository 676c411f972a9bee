// SPEC rule 12: verify checks an archive member by member, as Python's tarfile (what
// `dcos-zk restore` extracts with, as root) will read it. The hostile archives and the
// message each must give are the table in test/helpers/tar-writer.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { verifyArchive } from '../../src/catalog/verify.js';
import { printable } from '../../src/catalog/tar-reader.js';
import { dcosMembers, hostileArchives, paxRecords, tarBytes, writeArchive, type TarEntry } from '../helpers/tar-writer.js';

let dir: string;
let n = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-members-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function archive(members: TarEntry[], options = {}): string {
  const file = join(dir, `a${n++}.tar.gz`);
  writeArchive(file, members, options);
  return file;
}

const hasPython = spawnSync('python3', ['-c', 'import tarfile'], { stdio: 'ignore' }).status === 0;
/** The names Python's tarfile reads from each archive (what dcos-zk restore would extract); one python for all. */
function tarfileNames(files: string[]): string[][] {
  const script = 'import json, sys, tarfile\nprint(json.dumps([tarfile.open(f).getnames() for f in sys.argv[1:]]))';
  return JSON.parse(execFileSync('python3', ['-c', script, ...files], { encoding: 'utf8' })) as string[][];
}
const bare = (name: string) => name.replace(/^\.\//, '').replace(/\/$/, '');

describe('verifyArchive refuses each hostile archive, naming the member and the rule', () => {
  it('the table has unique names, and its base archive verifies', async () => {
    const names = hostileArchives().map((h) => h.name);
    expect(new Set(names).size).toBe(names.length);
    const r = await verifyArchive(archive(dcosMembers()));
    expect(r.problems).toEqual([]);
    expect(r.files).toContain('./zookeeper/snapshot/version-2/snapshot.100000000');
  });

  it.each(hostileArchives())('$name: $why', async (h) => {
    const r = await verifyArchive(archive(h.members, h.options));
    expect(r.ok).toBe(false);
    expect(r.problems.join('\n')).toMatch(h.expected);
    // a printed problem never carries a raw control character to the terminal
    for (const p of r.problems) expect(p).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
  });

  it.skipIf(!hasPython)('the header tricks are real: tarfile reads the hidden names', () => {
    const tricks = hostileArchives().filter((h) => h.tarfileSees);
    expect(tricks.length).toBeGreaterThan(3);
    const seen = tarfileNames(tricks.map((h) => archive(h.members, h.options)));
    tricks.forEach((h, i) => expect(seen[i], h.name).toContain(h.tarfileSees));
  });

  it('lists twenty member problems and counts the rest', async () => {
    const many = Array.from({ length: 50 }, (_, i): TarEntry => ({ name: `./zookeeper/snapshot/version-2/s${i}`, mode: 0o4755, data: 'x' }));
    const r = await verifyArchive(archive([...dcosMembers(), ...many]));
    expect(r.refusedMembers).toBe(50);
    expect(r.problems).toHaveLength(21);
    expect(r.problems[20]).toBe('… and 30 more problems with members');
  });
});

describe('verifyArchive accepts what DC/OS and GNU tar write', () => {
  const longName = `./zookeeper/transactions/version-2/${'l'.repeat(110)}`;
  const accepted: { name: string; members: TarEntry[]; file: string }[] = [
    { name: 'a long name in a pax header', members: [...dcosMembers(), { name: longName, data: 'x' }], file: longName },
    { name: 'a long name in a GNU L header', members: [...dcosMembers(), { name: longName, data: 'x', longName: 'gnu' }], file: longName },
    { name: 'a long name split into the ustar prefix', members: [...dcosMembers(), { name: 'l'.repeat(90), prefix: './zookeeper/transactions/version-2', data: 'x' }], file: `./zookeeper/transactions/version-2/${'l'.repeat(90)}` },
    { name: 'names without "./"', members: dcosMembers().map((m) => ({ ...m, name: m.name.slice(2) })), file: './zookeeper/snapshot/version-2/acceptedEpoch' },
    { name: 'an old regular file (type NUL) and an old directory (NUL and "/")', members: [...dcosMembers(), { name: './zookeeper/old/', type: '\0' }, { name: './zookeeper/old/file', type: '\0', data: 'x' }], file: './zookeeper/old/' },
    { name: 'a global pax header with a comment (git archive writes one)', members: [{ name: 'pax_global_header', type: 'g', data: paxRecords({ comment: 'abc' }) }, ...dcosMembers()], file: './zookeeper/' },
    { name: 'a pax header with times and owner names', members: [...dcosMembers(), { name: './zookeeper/timed', data: 'x', pax: { mtime: '1700000000.5', uname: 'dcos_exhibitor' } }], file: './zookeeper/timed' },
  ];

  it.each(accepted)('$name', async (a) => {
    const r = await verifyArchive(archive(a.members));
    expect(r.problems).toEqual([]);
    expect(r.files).toContain(a.file);
  });

  it.skipIf(!hasPython)('verify lists the members tarfile reads, for each of them', async () => {
    const files = accepted.map((a) => archive(a.members));
    const seen = tarfileNames(files);
    for (const [i, file] of files.entries()) {
      const r = await verifyArchive(file);
      expect(r.files.map(bare).sort(), accepted[i]?.name).toEqual((seen[i] as string[]).map(bare).sort());
    }
  });

  function zookeeperTree(root: string, longLeaf: boolean): void {
    const snap = join(root, 'zookeeper/snapshot/version-2');
    const logs = join(root, 'zookeeper/transactions/version-2');
    mkdirSync(snap, { recursive: true });
    mkdirSync(logs, { recursive: true });
    writeFileSync(join(snap, 'snapshot.100000000'), Buffer.alloc(70_000, 1));
    writeFileSync(join(snap, 'acceptedEpoch'), '1');
    writeFileSync(join(logs, 'log.100000001'), Buffer.alloc(3000, 2));
    if (longLeaf) writeFileSync(join(logs, `log.2${'0'.repeat(105)}`), 'x');
  }

  const writers: { name: string; make: (src: string, file: string) => void; python?: boolean }[] = [
    { name: 'GNU tar as dcos-zk runs it (tar -C dir -czf x ./zookeeper), with a >100 character name', make: (src, file) => execFileSync('tar', ['-C', src, '-czf', file, './zookeeper']) },
    { name: 'GNU tar --format=posix (pax long names)', make: (src, file) => execFileSync('tar', ['-C', src, '--format=posix', '-czf', file, './zookeeper']) },
    { name: 'GNU tar given "zookeeper" (names without ./)', make: (src, file) => execFileSync('tar', ['-C', src, '-czf', file, 'zookeeper']) },
    ...(['PAX_FORMAT', 'GNU_FORMAT'] as const).map((format) => ({
      name: `Python tarfile x:gz, ${format}, arcname ./zookeeper (dcos-zk backup)`,
      python: true,
      make: (src: string, file: string) => execFileSync('python3', ['-c', `import sys, tarfile\nwith tarfile.open(sys.argv[2], 'x:gz', format=tarfile.${format}) as t: t.add(sys.argv[1] + '/zookeeper', arcname='./zookeeper')`, src, file]),
    })),
  ];

  it.each(writers)('$name', async (w) => {
    if (w.python && !hasPython) return;
    const src = join(dir, `tree${n++}`);
    zookeeperTree(src, true);
    const file = join(dir, `w${n++}.tar.gz`);
    w.make(src, file);
    const r = await verifyArchive(file);
    expect(r.problems).toEqual([]);
    expect(r.files).toContain(`./zookeeper/transactions/version-2/log.2${'0'.repeat(105)}`);
    expect(r.zxidRange?.to).toBe(`0x2${'0'.repeat(105)}`);
    if (w.python) expect((tarfileNames([file])[0] as string[]).map(bare).sort()).toEqual(r.files.map(bare).sort());
  });
});

describe('verifyArchive reads only regular files', () => {
  it('refuses a FIFO at once instead of waiting for a writer', async () => {
    const fifo = join(dir, 'pipe.tar.gz');
    execFileSync('mkfifo', [fifo]);
    const r = await verifyArchive(fifo);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([`${fifo} is a FIFO (named pipe), not a regular file: refusing to read it`]);
  });

  it('refuses a directory', async () => {
    const r = await verifyArchive(dir);
    expect(r.problems[0]).toMatch(/is a directory, not a regular file/);
  });
});

describe('printable', () => {
  it.each([
    ['./zookeeper/a', './zookeeper/a'],
    ['a\nb', 'a\\x0ab'],
    ['\u001b[2J', '\\x1b[2J'],
    ['\u009b', '\\x9b'],
    ['back\\slash', 'back\\\\slash'],
    ['\u202e', '\\u{202e}'],
    ['', '""'],
  ])('%j prints as %s', (name, shown) => {
    expect(printable(name)).toBe(shown);
  });

  it('keeps both ends of a long name', () => {
    const shown = printable(`./zookeeper/${'a'.repeat(500)}/../../etc/x`);
    expect(shown).toMatch(/^\.\/zookeeper\/a+…a+\/\.\.\/\.\.\/etc\/x$/);
  });
});

describe('verifyArchive reports a tar stream cut short inside a whole gzip', () => {
  it.each([
    { name: 'no end-of-archive blocks', options: { endBlocks: 0 }, cut: 0, expected: /the tar stream has no end-of-archive block/ },
    { name: 'cut inside a member', options: {}, cut: 2048 + 600, expected: /the tar stream is truncated at byte/ },
  ])('$name', async (c) => {
    const whole = tarBytes(dcosMembers(), c.options);
    const file = join(dir, `cut${n++}.tar.gz`);
    writeFileSync(file, gzipSync(c.cut ? whole.subarray(0, whole.length - c.cut) : whole));
    const r = await verifyArchive(file);
    expect(r.ok).toBe(false);
    expect(r.problems.join('\n')).toMatch(c.expected);
  });
});
