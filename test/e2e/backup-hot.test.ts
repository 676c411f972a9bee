// `zkops backup --method hot` on a 3-master sandbox whose ZooKeeper takes a snapshot and rolls
// its log every 30-60 txns (snapCount 60), under a steady write load: nothing is stopped (every
// ZooKeeper pid and Exhibitor unit unchanged), the archive replays to at least the zxid noted
// before the copy and holds every znode written before the backup began, with its data; the
// follower rolled its files during the backup; `rehearse` and `restore` of it bring back the
// tree inspect reads. A copy that tears the newest log's last record (the sandbox's tear-log
// fault writes half a record after the last one, as a copy cut mid-write sees it) is trimmed
// and says so; a flipped byte in an earlier record is STATUS_ERROR. Addresses: 127.0.44.x,
// the rehearsal sandbox 127.0.45.x.

import { connect as connectTcp } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectArchive } from '../../src/catalog/inspect.js';
import { json, zkops, type CliResult } from '../helpers/cli.js';
import { eventually, exhibitorStatus, exhibitorUnits, startSandbox, stopSandbox, waitClusterHealthy, zkPids, type TestSandbox } from '../helpers/sandbox.js';
import { startWriteLoad } from '../helpers/write-load.js';

interface Meta {
  id: string;
  status: string;
  error: string | null;
  sourceMaster: string;
  stopWindowMs: number;
  method: string;
  hot: { notedZxid: string; reachedZxid: string; trimmed: { file: string; offset: number; reason: string } | null } | null;
  tree: { lastZxid: string; znodes: number; digest: { sha256: string; znodes: number } } | null;
}

const ZK = '/var/lib/dcos/exhibitor/zookeeper';

let sb: TestSandbox;
let catalog: string;
let connect: string;
/** The backup of the load test, rehearsed and restored after it. */
let loaded: Meta | undefined;

const hotBackup = (...extra: string[]): Promise<CliResult> => zkops(['backup', '-i', sb.inventory, '--dir', catalog, '--method', 'hot', '--json', ...extra], { timeoutMs: 300_000 });

/** A serving follower's name, by Exhibitor. */
async function follower(): Promise<string> {
  const s = await eventually('exhibitor status', () => exhibitorStatus(sb.masters[0]?.address as string), (v) => !!v && v.some((e) => e.isLeader));
  const f = s?.find((e) => !e.isLeader && e.code === 3);
  const m = sb.masters.find((x) => x.address === f?.hostname || x.name === f?.hostname);
  if (!m) throw new Error(`no follower in ${JSON.stringify(s)}`);
  return m.name;
}

/** The ensemble's zxid, by `srvr` to master-1 from this machine. */
function srvrZxid(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const s = connectTcp(2181, sb.masters[0]?.address as string, () => s.end('srvr'));
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.on('error', reject);
    s.on('close', () => resolve(/^Zxid: (0x[0-9a-f]+)$/m.exec(text)?.[1] ?? ''));
  });
}

/** Until the zxid has not moved for 3 s: no txn in flight (a closed session's is one). */
async function quiet(): Promise<void> {
  let last = '';
  let since = Date.now();
  await eventually('no txn for 3 s', async () => {
    const z = await srvrZxid();
    if (z !== last) [last, since] = [z, Date.now()];
    return Date.now() - since;
  }, (ms) => ms >= 3000, 60_000);
}

/** The zxids of a master's snapshot and log files, by kind. */
async function zkFiles(master: string): Promise<{ snapshots: bigint[]; logs: bigint[] }> {
  const r = await sb.ssh(master, `ls ${ZK}/snapshot/version-2 ${ZK}/transactions/version-2`);
  const zx = (prefix: string) => [...r.stdout.matchAll(new RegExp(`^${prefix}\\.([0-9a-f]+)$`, 'gm'))].map((m) => BigInt(`0x${m[1]}`));
  return { snapshots: zx('snapshot'), logs: zx('log') };
}

beforeAll(async () => {
  sb = await startSandbox({ masters: 3, baseIp: '127.0.44.1', name: 'backup-hot', snapCount: 60 });
  catalog = join(sb.work, 'catalog');
  connect = sb.masters.map((m) => `${m.address}:2181`).join(',');
  expect((await sb.sandbox('seed', '--znodes', '300')).code).toBe(0);
});
afterAll(async () => {
  await stopSandbox(sb);
});

describe('what the copy of a running ZooKeeper may meet in its newest log', () => {
  it('a last record torn by the copy is cut off, and the backup says where', async () => {
    const f = await follower();
    // the fault needs a log nobody appends to (a session that ends is a txn too): these tests run
    // before the restore below, whose restored sessions expire later
    let torn: CliResult | undefined;
    for (let i = 0; i < 3 && torn?.code !== 0; i++) {
      await quiet();
      torn = await sb.sandbox('fault', f, 'tear-log');
    }
    if (!torn) throw new Error('no tear-log');
    expect(torn.code, torn.stderr).toBe(0);
    const at = Number(/at byte (\d+)/.exec(`${torn.stdout}${torn.stderr}`)?.[1]);
    expect(at).toBeGreaterThan(16);
    try {
      // without --json: the lines an operator reads
      const r = await zkops(['backup', '-i', sb.inventory, '--dir', catalog, '--method', 'hot', '--master', f], { timeoutMs: 300_000 });
      expect(r.code, r.stderr).toBe(0);
      const meta = json<Meta>(await zkops(['show', r.stdout.trim(), '--dir', catalog, '--json']));
      expect(meta.status).toBe('STATUS_READY');
      expect(meta.hot?.trimmed?.offset).toBe(at);
      expect(meta.hot?.trimmed?.file).toMatch(/\/transactions\/version-2\/log\.[0-9a-f]+$/);
      expect(r.stderr).toMatch(/the copy tore the last record of .*log\.[0-9a-f]+: cut off at byte \d+/);
      const { inspection } = await inspectArchive(join(catalog, `${meta.id}.tar.gz`));
      expect(inspection.problems).toEqual([]);
      expect(inspection.files.find((x) => x.name === meta.hot?.trimmed?.file)).toMatchObject({ status: 'end', bytes: at });
    } finally {
      expect((await sb.sandbox('fault', f, 'clear')).code).toBe(0);
    }
  });

  it('a flipped byte in an earlier record is STATUS_ERROR, naming the log; nothing was stopped', async () => {
    const f = await follower();
    let flipped: CliResult | undefined;
    // the newest log needs 3 records or more (a roll may have just started a new one)
    for (let i = 0; i < 10 && flipped?.code !== 0; i++) {
      const load = startWriteLoad(connect, { root: '/zkops-flip' });
      await eventually('a few writes', async () => load.written().acked().length, (n) => n >= 5, 30_000);
      await load.stop();
      flipped = await sb.sandbox('fault', f, 'flip-log');
    }
    expect(flipped?.code, flipped?.stderr).toBe(0);
    const pids = zkPids(sb.dir);
    try {
      const r = await hotBackup('--master', f);
      expect(r.code).toBe(1);
      const meta = json<{ backup: Meta }>(r).backup;
      expect(meta.status).toBe('STATUS_ERROR');
      expect(meta.error).toMatch(/log\.[0-9a-f]+: corrupt/);
      expect(meta.hot?.trimmed ?? null).toBeNull();
      expect(zkPids(sb.dir)).toEqual(pids);
    } finally {
      expect((await sb.sandbox('fault', f, 'clear')).code).toBe(0);
    }
  });
});

describe('a hot backup under a steady write load, while the follower snapshots and rolls its log', () => {
  it('stops nothing, replays to at least the noted zxid, and holds every znode written before it began', async () => {
    const load = startWriteLoad(connect, { dataBytes: 200 });
    try {
      await eventually('the load writing', async () => load.written().acked().length, (n) => n >= 300, 60_000);
      const pids = zkPids(sb.dir);
      const units = await exhibitorUnits(sb);
      const began = Date.now();
      const r = await hotBackup();
      const during = load.wroteSince(began);
      expect(r.code, r.stderr).toBe(0);
      const meta = json<{ backup: Meta }>(r).backup;
      loaded = meta;
      expect(meta).toMatchObject({ status: 'STATUS_READY', method: 'hot', stopWindowMs: 0 });
      // the load went on the whole time, and no member was restarted or stopped
      expect(during).toBeGreaterThan(50);
      expect(zkPids(sb.dir)).toEqual(pids);
      expect(pids.every((p) => p > 0)).toBe(true);
      expect(await exhibitorUnits(sb)).toEqual(units);
      const noted = BigInt(meta.hot?.notedZxid as string);
      expect(BigInt(meta.hot?.reachedZxid as string)).toBeGreaterThanOrEqual(noted);
      expect(meta.tree?.lastZxid).toBe(meta.hot?.reachedZxid);
      // the follower took a snapshot and rolled its log after the zxid noted before the copy
      const after = await zkFiles(meta.sourceMaster);
      expect(after.snapshots.some((z) => z > noted)).toBe(true);
      expect(after.logs.some((z) => z > noted)).toBe(true);

      // every znode the load had written before the backup began, with its data as of then
      const log = load.written();
      const before = log.asOf(began);
      expect(before.size).toBeGreaterThan(100);
      const { tree, inspection } = await inspectArchive(join(catalog, `${meta.id}.tar.gz`));
      expect(inspection.problems).toEqual([]);
      const missing: string[] = [];
      for (const [path, want] of before) {
        const got = tree?.get(path);
        // a write in flight when the backup began may have landed since: later data is fine, older is not
        if (!got) missing.push(`${path}: missing`);
        else if (!got.data.equals(want.data) && !log.writes.some((w) => w.path === path && w.data.equals(got.data) && w.sentAt >= want.ackedAt)) missing.push(`${path}: data older than at the start`);
      }
      expect(missing).toEqual([]);
    } finally {
      await load.stop();
    }
  });

  it('rehearse of it restores it into a fresh sandbox that serves the tree inspect reads', async () => {
    expect(loaded).toBeDefined();
    const r = await zkops(['rehearse', loaded?.id as string, '--dir', catalog, '--addr', '127.0.45.1'], { timeoutMs: 600_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(`${r.stdout}${r.stderr}`).toContain(loaded?.tree?.digest.sha256 as string);
  });

  it('restore of it brings back the tree inspect reports', async () => {
    const r = await zkops(['restore', loaded?.id as string, '-i', sb.inventory, '--dir', catalog, '--yes'], { timeoutMs: 600_000 });
    expect(r.code, r.stderr).toBe(0);
    await waitClusterHealthy(sb);
    // the whole tree (the seed and the load's znodes), compared with the archive's
    const diff = json<{ same: boolean; created: unknown[]; deleted: unknown[]; changed: unknown[] }>(await zkops(['diff', loaded?.id as string, '--live', '-i', sb.inventory, '--dir', catalog, '--json']));
    expect(diff).toMatchObject({ same: true, created: [], deleted: [], changed: [] });
  });
});
