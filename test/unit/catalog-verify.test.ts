import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { verifyArchive } from '../../src/catalog/verify.js';

// Archives made with the system tar exactly as dcos-zk makes them: members start ./zookeeper/.
let dir: string;
function makeArchive(name: string, opts: { myid?: boolean; snapshot?: boolean; logs?: boolean; prefix?: string } = {}): string {
  const root = join(dir, `${name}-src`);
  const snap = join(root, 'zookeeper/snapshot/version-2');
  const logs = join(root, 'zookeeper/transactions/version-2');
  mkdirSync(snap, { recursive: true });
  if (opts.logs !== false) mkdirSync(logs, { recursive: true });
  if (opts.snapshot !== false) writeFileSync(join(snap, 'snapshot.100000000'), randomBytes(64 * 1024));
  writeFileSync(join(snap, 'acceptedEpoch'), '1');
  writeFileSync(join(snap, 'currentEpoch'), '1');
  if (opts.logs !== false) writeFileSync(join(logs, 'log.100000001'), randomBytes(32 * 1024));
  if (opts.logs !== false) writeFileSync(join(logs, 'log.2000000a0'), randomBytes(1024));
  if (opts.myid) writeFileSync(join(root, 'zookeeper/snapshot/myid'), '1\n');
  const file = join(dir, `${name}.tar.gz`);
  execFileSync('tar', ['-czf', file, '-C', root, opts.prefix ?? './zookeeper']);
  return file;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-verify-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('verifyArchive', () => {
  it('accepts a DC/OS-shaped archive and reports sha256, files and the zxid range', async () => {
    const file = makeArchive('good');
    const sha = createHash('sha256').update(readFileSync(file)).digest('hex');
    const r = await verifyArchive(file, sha);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.sha256).toBe(sha);
    expect(r.files).toContain('./zookeeper/snapshot/version-2/snapshot.100000000');
    expect(r.snapshots).toHaveLength(1);
    expect(r.logs).toHaveLength(2);
    expect(r.zxidRange).toEqual({ from: '0x100000000', to: '0x2000000a0' });
  });

  it('rejects a flipped byte (checksum, and gzip CRC without one)', async () => {
    const file = makeArchive('flip');
    const sha = createHash('sha256').update(readFileSync(file)).digest('hex');
    const bytes = readFileSync(file);
    const mid = Math.floor(bytes.length / 2);
    bytes[mid] = (bytes[mid] as number) ^ 0xff;
    writeFileSync(file, bytes);
    const withSum = await verifyArchive(file, sha);
    expect(withSum.ok).toBe(false);
    expect(withSum.problems.join('\n')).toMatch(/sha256 is [0-9a-f]{64}, expected/);
    const without = await verifyArchive(file);
    expect(without.ok).toBe(false);
    expect(without.problems.join('\n')).toMatch(/not a readable gzip tar/);
  });

  it('rejects a truncated archive', async () => {
    const file = makeArchive('trunc');
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const r = await verifyArchive(file);
    expect(r.ok).toBe(false);
    expect(r.problems.join('\n')).toMatch(/unexpected end of file|not a readable gzip tar/);
  });

  it('rejects an archive that holds myid', async () => {
    const r = await verifyArchive(makeArchive('myid', { myid: true }));
    expect(r.ok).toBe(false);
    expect(r.problems.join('\n')).toContain('myid');
  });

  it('rejects an archive without a snapshot (ZooKeeper 3.5+ would refuse the data dir)', async () => {
    const r = await verifyArchive(makeArchive('nosnap', { snapshot: false }));
    expect(r.ok).toBe(false);
    expect(r.problems.join('\n')).toContain('no snapshot');
  });

  it('rejects an archive without the transactions dir', async () => {
    const r = await verifyArchive(makeArchive('nologs', { logs: false }));
    expect(r.ok).toBe(false);
    expect(r.problems.join('\n')).toContain('./zookeeper/transactions/version-2/');
  });

  it('rejects a file that is not gzip at all', async () => {
    const file = join(dir, 'plain.tar.gz');
    writeFileSync(file, 'hello, this is not an archive\n');
    const r = await verifyArchive(file);
    expect(r.ok).toBe(false);
    expect(r.problems.join('\n')).toMatch(/not a readable gzip tar/);
  });

  it('throws for a missing file (nothing to report on)', async () => {
    await expect(verifyArchive(join(dir, 'missing.tar.gz'))).rejects.toThrow(/ENOENT/);
  });
});
