// What a hot backup meets on a 3-master sandbox with `--snap-count 40`: under a write load a
// follower's data dir keeps gaining snapshots and logs; `fault tear-log` leaves its live newest
// log torn exactly where it says (and ZooKeeper serving), `fault flip-log` leaves it corrupt at
// the record it names; `clear` makes both logs end cleanly again. The logs are read on the host
// (master-<i>/dcos is the master's /var/lib/dcos) with zk-files' reader. Addresses 127.0.43.1-3.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zookeeper, { type Client } from 'node-zookeeper-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseZkFileName, TxnLogReader, type LogResult, type ZkFileName } from '../../src/zk-files/index.js';
import { json, zkops, type CliResult } from '../helpers/cli.js';
import { eventually, exhibitorStatus } from '../helpers/sandbox.js';
import { startWriteLoad } from '../helpers/write-load.js';

const BASE_IP = '127.0.43.1';
const ZK_DIR = '/var/lib/dcos/exhibitor/zookeeper';

let work: string;
let dir: string;
let masters: { name: string; address: string; home: string }[] = [];
/** A follower (by Exhibitor's status) and the leader. */
let follower: { name: string; address: string; home: string };
let leader: { name: string; address: string; home: string };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'zkops-hot-faults-'));
  dir = join(work, 'sandbox');
  const up = await zkops(['sandbox', 'up', '--masters', '3', '--base-ip', BASE_IP, '--dir', dir, '--snap-count', '40', '--json'], { timeoutMs: 300_000 });
  if (up.code !== 0) throw new Error(`zkops sandbox up failed (exit ${up.code}):\n${up.stderr}`);
  expect(json<{ snapCount: number }>(up).snapCount).toBe(40);
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { snapCount?: number; masters: { name: string; address: string; home: string }[] };
  expect(state.snapCount).toBe(40);
  masters = state.masters;
  const status = await exhibitorStatus(BASE_IP);
  leader = masters.find((m) => status?.find((e) => e.hostname === m.address)?.isLeader) as typeof leader;
  follower = masters.find((m) => m !== leader) as typeof follower;
  if (!leader || !follower) throw new Error(`no leader in ${JSON.stringify(status)}`);
});

afterAll(async () => {
  if (dir) await zkops(['sandbox', 'down', '--dir', dir]);
  if (work) rmSync(work, { recursive: true, force: true });
});

const sandbox = (...args: string[]): Promise<CliResult> => zkops(['sandbox', ...args, '--dir', dir], { timeoutMs: 60_000 });

/** The line a fault printed (its --json document's `done`). */
async function fault(...args: string[]): Promise<string> {
  const r = await sandbox('fault', ...args, '--json');
  if (r.code !== 0) throw new Error(`fault ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}`);
  return json<{ done: string }>(r).done;
}

/** A master's version-2/ of snapshots or transactions, as this machine sees it. */
const versionDir = (m: { home: string }, kind: 'snapshot' | 'transactions'): string => join(m.home, 'dcos', 'exhibitor', 'zookeeper', kind, 'version-2');

/** A path of the master's own view under /var/lib/dcos, on the host. */
const onHost = (m: { home: string }, path: string): string => join(m.home, 'dcos', path.slice('/var/lib/dcos/'.length));

function zkFiles(m: { home: string }): { snapshots: number; logs: string[] } {
  const logs = readdirSync(versionDir(m, 'transactions'))
    .map((n) => parseZkFileName(n))
    .filter((f): f is ZkFileName => f?.kind === 'log')
    .sort((a, b) => (a.zxid < b.zxid ? -1 : 1))
    .map((f) => f.name);
  const snapshots = readdirSync(versionDir(m, 'snapshot')).filter((n) => parseZkFileName(n)?.kind === 'snapshot').length;
  return { snapshots, logs };
}

/** The master's newest log, read whole: how it ends and where each record starts. */
function readNewestLog(m: { home: string }): { file: string; result: LogResult; offsets: number[]; bytes: Buffer } {
  const name = zkFiles(m).logs.at(-1);
  if (!name) throw new Error('no log yet');
  const file = join(versionDir(m, 'transactions'), name);
  const bytes = readFileSync(file);
  const offsets: number[] = [];
  const reader = new TxnLogReader(file, (rec) => offsets.push(rec.offset));
  reader.write(bytes);
  return { file, result: reader.end(), offsets, bytes };
}

/** The member's `srvr` reply: its mode and zxid (undefined mode: not serving). */
function srvr(address: string): Promise<{ mode: string | undefined; zxid: bigint | undefined }> {
  return new Promise((resolve, reject) => {
    let out = '';
    const s = connect({ host: address, port: 2181 });
    const t = setTimeout(() => s.destroy(new Error(`srvr at ${address}: no answer`)), 3000);
    s.on('connect', () => s.end('srvr'));
    s.on('data', (d: Buffer) => (out += d.toString()));
    s.on('error', (err) => {
      clearTimeout(t);
      reject(err);
    });
    s.on('close', () => {
      clearTimeout(t);
      const zxid = /^Zxid: (0x[0-9a-f]+)$/m.exec(out)?.[1];
      resolve({ mode: /^Mode: (\w+)$/m.exec(out)?.[1], zxid: zxid === undefined ? undefined : BigInt(zxid) });
    });
  });
}

/**
 * Until nothing more reaches the follower's log: its zxid is the leader's, unchanged for a
 * second, and its newest log ends cleanly with that zxid as its last record.
 */
async function settle(): Promise<void> {
  let last = '';
  let since = Date.now();
  await eventually(
    'the follower to catch up and its log to settle',
    async () => {
      const [f, l] = await Promise.all([srvr(follower.address), srvr(leader.address)]);
      const log = readNewestLog(follower).result;
      const now = `${f.zxid} ${l.zxid} ${log.lastZxid} ${log.tail.kind}`;
      if (now !== last) [last, since] = [now, Date.now()];
      return { same: f.zxid === l.zxid && log.lastZxid === f.zxid && log.tail.kind === 'end', quietMs: Date.now() - since, now };
    },
    (v) => v.same && v.quietMs >= 1000,
    20_000,
  );
}

/** A client on one member, connected. */
async function zkClient(address: string): Promise<Client> {
  const c = zookeeper.createClient(`${address}:2181`, { sessionTimeout: 10_000, spinDelay: 200 });
  const up = new Promise<void>((resolve) => c.once('connected', resolve));
  c.connect();
  await up;
  return c;
}

/** Close a client and wait (up to 2 s) for ZooKeeper to end its session. */
async function closeClient(c: Client): Promise<void> {
  const gone = new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 2000);
    c.once('disconnected', () => {
      clearTimeout(t);
      resolve();
    });
  });
  c.close();
  await gone;
}

const call = <T>(fn: (cb: (err: Error | zookeeper.Exception | null, v: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));

describe('hot-backup faults on a sandbox with --snap-count 40', () => {
  it('under a write load the follower gains snapshots and logs, and the load knows every znode it wrote', async () => {
    const cfg = readFileSync(join(follower.home, 'opt', 'zkops-sandbox', 'zoo.cfg'), 'utf8');
    expect(cfg).toMatch(/^snapCount=40$/m);
    const before = zkFiles(follower);
    const started = Date.now();
    const load = startWriteLoad(masters.map((m) => `${m.address}:2181`).join(','), { dataBytes: 100 });
    try {
      await eventually(
        'snapshots and logs to pile up',
        async () => ({ ...zkFiles(follower), ms: Date.now() - started }),
        (v) => v.ms >= 3000 && v.snapshots >= before.snapshots + 3 && v.logs.length >= before.logs.length + 3,
        30_000,
      );
      expect(load.wroteSince()).toBeGreaterThan(100);
    } catch (err) {
      await load.stop().catch(() => undefined);
      throw err;
    }
    const log = await load.stop();
    const after = zkFiles(follower);
    console.log(`${log.writes.length} writes in ${Date.now() - started} ms (${log.retried.length} retried); ${follower.name}: snapshots ${before.snapshots} → ${after.snapshots}, logs ${before.logs.length} → ${after.logs.length}`);
    expect(after.snapshots).toBeGreaterThan(before.snapshots);
    expect(after.logs.length).toBeGreaterThan(before.logs.length);

    // every znode the load says it wrote is there with its latest data, on the leader
    const latest = log.latest();
    expect(latest.size).toBeGreaterThan(50);
    expect(log.writes.filter((w) => w.op === 'setData' && w.ackedAt !== undefined).length).toBeGreaterThan(50);
    const midway = log.writes[Math.floor(log.writes.length / 2)]?.ackedAt as number;
    expect(log.asOf(midway).size).toBeLessThan(latest.size);
    const c = await zkClient(leader.address);
    try {
      const children = await call<string[]>((cb) => c.getChildren(log.root, cb));
      expect(children.map((n) => `${log.root}/${n}`).sort()).toEqual([...latest.keys()].sort());
      const paths = [...latest.keys()];
      for (let i = 0; i < paths.length; i += 200) {
        const datas = await Promise.all(paths.slice(i, i + 200).map((p) => call<Buffer>((cb) => c.getData(p, cb))));
        datas.forEach((d, j) => expect(d.equals(latest.get(paths[i + j] as string)?.data as Buffer)).toBe(true));
      }
    } finally {
      await closeClient(c);
    }
  });

  it('tear-log: the live newest log reads torn where the fault wrote, ZooKeeper still serves, clear ends it cleanly again', async () => {
    await settle();
    const clean = readNewestLog(follower);
    const zxid = (await srvr(follower.address)).zxid;
    const said = await fault(follower.name, 'tear-log');
    const m = /tear-log: wrote (\d+) bytes at byte (\d+) of (\S+): .*last record \(at byte (\d+)\)/.exec(said);
    expect(m, said).not.toBeNull();
    const [n, at, path, last] = [Number(m?.[1]), Number(m?.[2]), m?.[3] as string, Number(m?.[4])];
    expect(onHost(follower, path)).toBe(clean.file);
    expect(path.startsWith(`${ZK_DIR}/transactions/version-2/log.`)).toBe(true);
    expect(at).toBe(clean.result.tail.offset);
    expect(last).toBe(clean.offsets.at(-1));

    const torn = readNewestLog(follower);
    expect(torn.file).toBe(clean.file);
    expect(torn.result.tail).toMatchObject({ kind: 'torn', offset: at });
    expect(torn.result.records).toBe(clean.result.records);
    // the first n bytes of a copy of the last record (checksum, length, half the body), then zeros
    const len = clean.bytes.readInt32BE(last + 8);
    expect(n).toBe(12 + Math.floor(len / 2));
    expect(torn.bytes.subarray(at, at + n).equals(clean.bytes.subarray(last, last + n))).toBe(true);
    expect(torn.bytes.subarray(at + n, at + 12 + len + 1).every((b) => b === 0)).toBe(true);
    expect(await srvr(follower.address)).toEqual({ mode: 'follower', zxid });

    const cleared = await fault(follower.name, 'clear');
    expect(cleared).toContain(`tear-log undone (${n} bytes at byte ${at} of ${path} put back)`);
    const again = readNewestLog(follower);
    expect(again.result.tail).toEqual({ kind: 'end', offset: at });
    expect(again.bytes.equals(clean.bytes)).toBe(true);
  });

  it('flip-log: the newest log reads corrupt at the record it names, the last record is refused, clear ends it cleanly again', async () => {
    // the newest log needs 3 records: a few more writes whenever a roll has just happened
    for (;;) {
      await settle();
      if (readNewestLog(follower).result.records >= 3) break;
      const c = await zkClient(leader.address);
      await call<string>((cb) => c.create('/zkops-flip-filler', Buffer.from('x'), zookeeper.CreateMode.PERSISTENT, cb)).catch(() => undefined);
      await call<unknown>((cb) => c.setData('/zkops-flip-filler', Buffer.from('y'), -1, cb));
      await closeClient(c);
    }
    const clean = readNewestLog(follower);
    const count = clean.result.records;
    const last = await sandbox('fault', follower.name, 'flip-log', String(count));
    expect(last.code).toBe(2);
    expect(last.stderr).toContain(`flip-log takes a record number from 1 to ${count - 1}`);

    const said = await fault(follower.name, 'flip-log');
    const m = /flip-log: flipped byte (\d+) of (\S+) from 0x([0-9a-f]{2}) to 0x([0-9a-f]{2}): the middle of the body of record (\d+) of (\d+), which starts at byte (\d+)$/.exec(said);
    expect(m, said).not.toBeNull();
    const [pos, path, from, to, rec, of, start] = [Number(m?.[1]), m?.[2] as string, parseInt(m?.[3] as string, 16), parseInt(m?.[4] as string, 16), Number(m?.[5]), Number(m?.[6]), Number(m?.[7])];
    expect(onHost(follower, path)).toBe(clean.file);
    expect([rec, of]).toEqual([Math.ceil(count / 2), count]);
    expect(start).toBe(clean.offsets[rec - 1]);
    expect(clean.bytes[pos]).toBe(from);
    expect(to).toBe(from ^ 0xff);

    const bad = readNewestLog(follower);
    expect(bad.result.tail).toMatchObject({ kind: 'corrupt', offset: start });
    expect(bad.bytes[pos]).toBe(to);
    expect((await srvr(follower.address)).mode).toBe('follower');

    const cleared = await fault(follower.name, 'clear');
    expect(cleared).toContain(`flip-log undone (1 byte at byte ${pos} of ${path} put back)`);
    const again = readNewestLog(follower);
    expect(again.result.tail).toEqual(clean.result.tail);
    expect(again.result.records).toBe(count);
  });
});
