// The hot copy's shell function (playbook/zk-hot-copy.ts) run by /bin/sh on a made-up data
// directory: which files it takes, and what it does when ZooKeeper writes new files or purges
// old ones during the copy (a shell function named cp stands in for ZooKeeper acting between
// two copies; the real one runs against a live ZooKeeper in test/e2e/backup-hot.test.ts).

import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HOT_COPY_FUNCTION } from '../../src/playbook/zk-hot-copy.js';

const work = mkdtempSync(join(tmpdir(), 'zkops-hot-copy-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A complete snapshot ends with the trailer: checksum, int 1, "/". */
const WHOLE = Buffer.concat([Buffer.from('snapshot body'), Buffer.alloc(8, 7), Buffer.from([0, 0, 0, 1, 0x2f])]);
let n = 0;

function dataDir(snapshots: Record<string, Buffer>, logs: string[]): string {
  const zk = join(work, `d${++n}`, 'zookeeper');
  mkdirSync(join(zk, 'snapshot', 'version-2'), { recursive: true });
  mkdirSync(join(zk, 'transactions', 'version-2'), { recursive: true });
  chmodSync(join(zk, 'snapshot'), 0o700);
  writeFileSync(join(zk, 'snapshot', 'myid'), '2\n');
  writeFileSync(join(zk, 'snapshot', 'version-2', 'currentEpoch'), '3');
  writeFileSync(join(zk, 'snapshot', 'version-2', 'acceptedEpoch'), '3');
  for (const [name, body] of Object.entries(snapshots)) writeFileSync(join(zk, 'snapshot', 'version-2', name), body);
  for (const name of logs) writeFileSync(join(zk, 'transactions', 'version-2', name), `${name} records`);
  return zk;
}

/** Run zkops_hot_copy under `set -e` as the job does; `before` is shell run first (a cp function). */
function hotCopy(zk: string, before = ''): { out: string; dest: string; files: string[] } {
  const dest = join(zk, '..', 'copy', 'zookeeper');
  mkdirSync(join(dest, '..'), { recursive: true });
  const out = execFileSync('/bin/sh', ['-ec', `${HOT_COPY_FUNCTION}\n${before}\nzkops_hot_copy "$1" "$2"`, 'sh', zk, dest], { encoding: 'utf8' });
  const files = ['snapshot', 'transactions'].flatMap((d) => (existsSync(join(dest, d)) ? readdirSync(join(dest, d), { recursive: true, encoding: 'utf8' }).map((f) => `${d}/${f}`) : []));
  return { out, dest, files: files.sort() };
}

describe('zkops_hot_copy', () => {
  it('takes the newest complete snapshot and every log from the one that starts at or before it; no myid', () => {
    const zk = dataDir({ 'snapshot.10': WHOLE, 'snapshot.2a': WHOLE, 'snapshot.40': Buffer.from('half written') }, ['log.1', 'log.f', 'log.25', 'log.30', 'log.45']);
    const { out, files } = hotCopy(zk);
    expect(files).toEqual([
      'snapshot/version-2',
      'snapshot/version-2/acceptedEpoch',
      'snapshot/version-2/currentEpoch',
      'snapshot/version-2/snapshot.2a',
      'transactions/version-2',
      'transactions/version-2/log.25',
      'transactions/version-2/log.30',
      'transactions/version-2/log.45',
    ]);
    expect(out).toMatch(/hot copy: snapshot\.2a \(zxid 0x2a\) and the logs after it, in 2 passes/);
  });

  it('keeps the directories\' modes, and compares zxids as numbers, not as text', () => {
    const zk = dataDir({ 'snapshot.ff': WHOLE, 'snapshot.100': WHOLE }, ['log.f0', 'log.100', 'log.9ff']);
    const { files, dest } = hotCopy(zk);
    expect(files.filter((f) => /\.[0-9a-f]+$/.test(f))).toEqual(['snapshot/version-2/snapshot.100', 'transactions/version-2/log.100', 'transactions/version-2/log.9ff']);
    expect(statSync(join(dest, 'snapshot')).mode & 0o777).toBe(0o700);
  });

  it('a log and a snapshot that appear during the copy are taken, and the log that was the newest is copied again whole', () => {
    const zk = dataDir({ 'snapshot.10': WHOLE }, ['log.1', 'log.20']);
    const logs = join(zk, 'transactions', 'version-2');
    // ZooKeeper between two copies: the first time, log.20 gains a record, rolls to log.50 and a snapshot is written
    const roll = `cp() { command cp "$@"; if [ ! -e ${logs}/log.50 ]; then echo more >> ${logs}/log.20; echo new > ${logs}/log.50; printf 'x' > ${zk}/snapshot/version-2/snapshot.4f; cat ${zk}/snapshot/version-2/snapshot.10 >> ${zk}/snapshot/version-2/snapshot.4f; fi; }`;
    const { out, files, dest } = hotCopy(zk, roll);
    expect(files).toContain('transactions/version-2/log.50');
    expect(files).toContain('snapshot/version-2/snapshot.4f');
    expect(readFileSync(join(dest, 'transactions', 'version-2', 'log.20'), 'utf8')).toBe('log.20 recordsmore\n');
    expect(out).toMatch(/in 3 passes/);
  });

  it('ZooKeeper rolling its log during every pass: three passes, each log but the last copied after it was complete', () => {
    const zk = dataDir({ 'snapshot.10': WHOLE }, ['log.1', 'log.20']);
    const logs = join(zk, 'transactions', 'version-2');
    // every copy of the newest log: it gains a record and ZooKeeper rolls to the next one
    const roll = `cp() { command cp "$@"; n=$(ls ${logs} | sed 's/log\\.//' | while read h; do echo $((0x$h)); done | sort -n | tail -n 1); case "$3" in */log.$(printf %x $n)) echo done >> "$3"; printf 'log.%x\\n' $((n + 16)) > ${logs}/log.$(printf %x $((n + 16))) ;; esac; }`;
    const { out, files, dest } = hotCopy(zk, roll);
    expect(out).toMatch(/in 3 passes/);
    const copied = files.filter((f) => f.startsWith('transactions/version-2/log.')).map((f) => f.slice('transactions/version-2/'.length));
    const newest = copied.reduce((a, b) => (parseInt(b.slice(4), 16) > parseInt(a.slice(4), 16) ? b : a));
    for (const name of copied) {
      // the newest was copied before its roll; every other one that was written to once it was complete (log.1 never was)
      const text = readFileSync(join(dest, 'transactions', 'version-2', name), 'utf8');
      if (name !== newest && name !== 'log.1') expect(text, name).toMatch(/done\n$/);
    }
    expect(copied.length).toBeGreaterThanOrEqual(4);
  });

  it('a file the purge removes during the copy is skipped, not an error', () => {
    const zk = dataDir({ 'snapshot.10': WHOLE }, ['log.1', 'log.5', 'log.20']);
    const purge = `cp() { case "$3" in */log.1) rm -f "$3"; esac; command cp "$@"; }`;
    const { files } = hotCopy(zk, purge);
    expect(files).toContain('transactions/version-2/log.5');
    expect(files).not.toContain('transactions/version-2/log.1');
  });

  it('refuses a directory without a complete snapshot, saying so', () => {
    const zk = dataDir({ 'snapshot.10': Buffer.from('half') }, ['log.1']);
    expect(() => hotCopy(zk)).toThrow(/no complete snapshot in .*snapshot\/version-2/);
  });
});
