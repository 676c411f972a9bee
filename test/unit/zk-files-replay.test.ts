// Replay: each txn type applied as DataTree.processTxn applies it, sessions and their ephemerals,
// a fuzzy snapshot (ahead of its name) converging to the same tree, the snapshot ZooKeeper would
// choose, the logs it would read, and a missing log reported as a gap that names it.
import { describe, expect, it } from 'vitest';
import { applyTxn } from '../../src/zk-files/apply.js';
import { chooseSnapshot, logsFor, parseEpochFile, parseZkFileName } from '../../src/zk-files/files.js';
import { follows } from '../../src/zk-files/replay.js';
import { restoreFiles, type ZkFileSource } from '../../src/zk-files/restore.js';
import { ZkTree } from '../../src/zk-files/tree.js';
import type { Txn } from '../../src/zk-files/types.js';
import { znodeDigest } from '../../src/zk-files/zk-digest.js';
import { headerOf, logBytes, OPEN, snapshotBytes, type SnapNode, type TxnSpec } from '../helpers/zk-writer.js';

const S = 0x7200000000000001n; // a session
const T = 1_700_000_000_000;
const ACL = [{ perms: 1, scheme: 'world', id: 'anyone' }];
const b = (s: string) => Buffer.from(s);
const create = (path: string, data = path, parentCVersion = -1, ephemeral = false): Txn => ({ op: 'create', path, data: b(data), acl: OPEN, ephemeral, parentCVersion });

/** /a (child /a/b), /zookeeper/config, a session S with the ephemeral /a/e. */
function base(): ZkTree {
  const t = ZkTree.initial();
  const h = (zxid: bigint, clientId = 0x1n) => ({ clientId, cxid: 0, zxid, time: T, type: 0 });
  applyTxn(t, h(1n), create('/zookeeper/config', ''));
  applyTxn(t, h(2n), create('/a', 'a'));
  applyTxn(t, h(3n), create('/a/b', 'b'));
  applyTxn(t, h(4n, S), { op: 'createSession', timeout: 5000 });
  applyTxn(t, h(5n, S), create('/a/e', 'e', -1, true));
  return t;
}

/** What a case looks at: each node's data, owner and the stat fields that change. */
function look(t: ZkTree): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [p, n] of t.entries()) {
    const s = n.stat;
    out[p] = `${n.data} acl=${n.acl?.map((a) => a.perms).join('/')} v${s.version} cv${s.cversion} av${s.aversion} c${s.czxid} m${s.mzxid} p${s.pzxid} t${s.ctime}/${s.mtime} o${s.ephemeralOwner.toString(16)} k${n.children}`;
  }
  return out;
}

const Z = 0x10n;
const CASES: { name: string; txn: Txn; client?: bigint; err?: number; changes: Record<string, string | undefined>; sessions?: bigint[] }[] = [
  { name: 'create: a node with the txn’s zxid and time; the parent counts it', txn: create('/a/n', 'n', 3), changes: { '/a/n': `n acl=31 v0 cv0 av0 c${Z} m${Z} p${Z} t${T}/${T} o0 k0`, '/a': `a acl=31 v0 cv3 av0 c2 m2 p${Z} t${T}/${T} o0 k3` } },
  { name: 'create with parentCVersion -1 (pre-3.3): the parent’s cversion + 1', txn: create('/x'), changes: { '/x': `/x acl=31 v0 cv0 av0 c${Z} m${Z} p${Z} t${T}/${T} o0 k0`, '/': ` acl=31 v0 cv2 av0 c0 m0 p${Z} t0/0 o0 k3` } },
  { name: 'create, ephemeral: owned by the txn’s session', txn: create('/x', 'x', -1, true), client: S, changes: { '/x': `x acl=31 v0 cv0 av0 c${Z} m${Z} p${Z} t${T}/${T} o${S.toString(16)} k0`, '/': ` acl=31 v0 cv2 av0 c0 m0 p${Z} t0/0 o0 k3` } },
  { name: 'create2', txn: { op: 'create2', path: '/x', data: b('x'), acl: ACL, ephemeral: false, parentCVersion: 7 }, changes: { '/x': `x acl=1 v0 cv0 av0 c${Z} m${Z} p${Z} t${T}/${T} o0 k0`, '/': ` acl=31 v0 cv7 av0 c0 m0 p${Z} t0/0 o0 k3` } },
  { name: 'createContainer: owner 0x8000…', txn: { op: 'createContainer', path: '/x', data: b('x'), acl: OPEN, parentCVersion: 3 }, changes: { '/x': `x acl=31 v0 cv0 av0 c${Z} m${Z} p${Z} t${T}/${T} o-8000000000000000 k0`, '/': ` acl=31 v0 cv3 av0 c0 m0 p${Z} t0/0 o0 k3` } },
  { name: 'createTTL: owner 0xff… | ttl', txn: { op: 'createTTL', path: '/x', data: b('x'), acl: OPEN, parentCVersion: 3, ttl: 0x1234n }, changes: { '/x': `x acl=31 v0 cv0 av0 c${Z} m${Z} p${Z} t${T}/${T} o-ffffffffffedcc k0`, '/': ` acl=31 v0 cv3 av0 c0 m0 p${Z} t0/0 o0 k3` } },
  { name: 'createTTL with ttl 0: bad arguments, nothing applied', txn: { op: 'createTTL', path: '/x', data: b('x'), acl: OPEN, parentCVersion: 3, ttl: 0n }, err: -8, changes: {} },
  { name: 'create of a node already there: NodeExists; the parent’s cversion moves on to the txn’s', txn: create('/a/b', 'again', 5), err: -110, changes: { '/a': `a acl=31 v0 cv5 av0 c2 m2 p${Z} t${T}/${T} o0 k2` } },
  { name: 'create of a node already there with an older parentCVersion: nothing moves back', txn: create('/a/b', 'again', 1), err: -110, changes: {} },
  { name: 'create2 of a node already there: NodeExists, no cversion fix-up', txn: { op: 'create2', path: '/a/b', data: b('again'), acl: OPEN, ephemeral: false, parentCVersion: 5 }, err: -110, changes: {} },
  { name: 'create under a missing parent: NoNode', txn: create('/none/x'), err: -101, changes: {} },
  { name: 'delete: gone; the parent’s pzxid moves, its cversion does not', txn: { op: 'delete', path: '/a/b' }, changes: { '/a/b': undefined, '/a': `a acl=31 v0 cv2 av0 c2 m2 p${Z} t${T}/${T} o0 k1` } },
  { name: 'delete of an ephemeral: out of its session’s list', txn: { op: 'delete', path: '/a/e' }, changes: { '/a/e': undefined, '/a': `a acl=31 v0 cv2 av0 c2 m2 p${Z} t${T}/${T} o0 k1` } },
  { name: 'delete of a missing node: NoNode, the parent’s pzxid still moves (3.6+)', txn: { op: 'delete', path: '/a/none' }, err: -101, changes: { '/a': `a acl=31 v0 cv2 av0 c2 m2 p${Z} t${T}/${T} o0 k2` } },
  { name: 'deleteContainer', txn: { op: 'deleteContainer', path: '/a/b' }, changes: { '/a/b': undefined, '/a': `a acl=31 v0 cv2 av0 c2 m2 p${Z} t${T}/${T} o0 k1` } },
  { name: 'setData: data, version, mzxid, mtime', txn: { op: 'setData', path: '/a', data: b('a2'), version: 4 }, changes: { '/a': `a2 acl=31 v4 cv2 av0 c2 m${Z} p5 t${T}/${T} o0 k2` } },
  { name: 'setData of a missing node: NoNode', txn: { op: 'setData', path: '/none', data: b('x'), version: 1 }, err: -101, changes: {} },
  { name: 'reconfig: the new config into /zookeeper/config', txn: { op: 'reconfig', path: '/zookeeper/config', data: b('server.1=h:1:2'), version: 1 }, changes: { '/zookeeper/config': `server.1=h:1:2 acl=31 v1 cv0 av0 c1 m${Z} p1 t${T}/${T} o0 k0` } },
  { name: 'setACL: the list and aversion', txn: { op: 'setACL', path: '/a', acl: ACL, version: 3 }, changes: { '/a': `a acl=1 v0 cv2 av3 c2 m2 p5 t${T}/${T} o0 k2` } },
  { name: 'check: nothing', txn: { op: 'check', path: '/a', version: 0 }, changes: {} },
  { name: 'error: its code, nothing else', txn: { op: 'error', err: -103 }, err: -103, changes: {} },
  { name: 'createSession: the session and its timeout', txn: { op: 'createSession', timeout: 9000 }, client: 0x99n, changes: {}, sessions: [S, 0x99n] },
  { name: 'closeSession (3.4, no paths): its ephemerals go, and the session', txn: { op: 'closeSession', paths: undefined }, client: S, changes: { '/a/e': undefined, '/a': `a acl=31 v0 cv2 av0 c2 m2 p${Z} t${T}/${T} o0 k1` }, sessions: [] },
  { name: 'closeSession (3.6+): the paths it names, and its other ephemerals', txn: { op: 'closeSession', paths: ['/a/b'] }, client: S, changes: { '/a/e': undefined, '/a/b': undefined, '/a': `a acl=31 v0 cv2 av0 c2 m2 p${Z} t${T}/${T} o0 k0` }, sessions: [] },
  {
    name: 'multi: every sub-txn applied',
    txn: { op: 'multi', txns: [{ op: 'check', path: '/a', version: 0 }, create('/a/m', 'm', 3), { op: 'setData', path: '/a/b', data: b('b2'), version: 1 }, { op: 'delete', path: '/a/e' }] },
    changes: { '/a/m': `m acl=31 v0 cv0 av0 c${Z} m${Z} p${Z} t${T}/${T} o0 k0`, '/a/b': `b2 acl=31 v1 cv0 av0 c3 m${Z} p3 t${T}/${T} o0 k0`, '/a/e': undefined, '/a': `a acl=31 v0 cv3 av0 c2 m2 p${Z} t${T}/${T} o0 k2` },
  },
  { name: 'multi with an error sub-txn: nothing applied, the first error returned', txn: { op: 'multi', txns: [create('/a/m'), { op: 'error', err: -110 }, { op: 'delete', path: '/a/b' }] }, err: -110, changes: {} },
  { name: 'multi whose create finds its node: NodeExists, the rest still applied', txn: { op: 'multi', txns: [create('/a/b', 'b', 6), create('/a/n', 'n', 7)] }, err: -110, changes: { '/a/n': `n acl=31 v0 cv0 av0 c${Z} m${Z} p${Z} t${T}/${T} o0 k0`, '/a': `a acl=31 v0 cv7 av0 c2 m2 p${Z} t${T}/${T} o0 k3` } },
];

describe('applyTxn applies each txn type as DataTree does', () => {
  it.each(CASES)('$name', (c) => {
    const t = base();
    const before = look(t);
    const err = applyTxn(t, { clientId: c.client ?? 0x1n, cxid: 0, zxid: Z, time: T, type: 0 }, c.txn);
    expect(err).toBe(c.err ?? 0);
    const after: Record<string, string | undefined> = { ...before, ...c.changes };
    for (const [k, v] of Object.entries(after)) if (v === undefined) delete after[k];
    expect(look(t)).toEqual(after);
    expect([...t.sessions.keys()]).toEqual(c.sessions ?? [S]);
    let sum = 0n;
    for (const [p, n] of t.entries()) sum += BigInt(znodeDigest(p, n.data, n.stat));
    expect(t.zkDigest).toBe(BigInt.asIntN(64, sum));
  });
});

/** A history of 24 txns over three sessions, as three logs, and the trees along the way. */
const HISTORY: TxnSpec[] = ([
  { op: 'createSession', timeout: 4000 },
  create('/app', 'app'),
  create('/app/x', 'x', 1),
  create('/app/e1', 'e1', 2, true),
  { op: 'setData', path: '/app/x', data: b('x2'), version: 1 },
  create('/app/tmp', 'tmp', 3),
  { op: 'delete', path: '/app/tmp' },
  create('/app/tmp', 'tmp again', 4),
  { op: 'multi', txns: [create('/app/m', 'm', 5), { op: 'setData', path: '/app', data: b('app2'), version: 1 }] },
  { op: 'setACL', path: '/app/x', acl: ACL, version: 1 },
  { op: 'createSession', timeout: 6000 },
  create('/app/e2', 'e2', 6, true),
  { op: 'closeSession', paths: undefined },
  { op: 'multi', txns: [create('/app/z', 'z', 7), { op: 'error', err: -110 }] },
  create('/other', 'o'),
  { op: 'delete', path: '/app/x' },
  create('/app/x', 'x back', 8),
  { op: 'setData', path: '/other', data: b('o2'), version: 1 },
  { op: 'createContainer', path: '/c', data: b('c'), acl: OPEN, parentCVersion: 3 },
  create('/c/k', 'k', 1),
  { op: 'delete', path: '/c/k' },
  { op: 'deleteContainer', path: '/c' },
  create('/last', 'last'),
  { op: 'setData', path: '/last', data: b('last2'), version: 1 },
] as Txn[]).map((txn, i) => ({ zxid: BigInt(i + 1), txn, clientId: i < 10 ? 0x11n : i < 12 ? 0x12n : 0x13n }));
// the close at zxid 13 closes session 0x12 (whose ephemeral is /app/e2)
HISTORY[12]!.clientId = 0x12n;
// parentCVersion as PrepRequestProcessor writes it (the parent's cversion + 1), not the pre-3.3 -1
{
  const scratch = ZkTree.initial();
  const fix = (t: Txn): Txn => {
    if ('parentCVersion' in t && t.parentCVersion === -1) return { ...t, parentCVersion: scratch.get(t.path.slice(0, t.path.lastIndexOf('/')))!.stat.cversion + 1 };
    return t.op === 'multi' ? { ...t, txns: t.txns.map(fix) } : t;
  };
  for (const h of HISTORY) {
    h.txn = fix(h.txn);
    applyTxn(scratch, headerOf(h), h.txn);
  }
}

/** The tree after applying HISTORY[0..n). */
function treeAfter(n: number): ZkTree {
  const t = ZkTree.initial();
  for (const s of HISTORY.slice(0, n)) applyTxn(t, headerOf(s), s.txn);
  return t;
}
const snapOf = (t: ZkTree): SnapNode[] => [...t.entries()].sort(([x], [y]) => (x < y ? -1 : 1)).map(([path, n]) => ({ path, data: n.data, stat: n.stat }));
const sessionsOf = (t: ZkTree): [bigint, number][] => [...t.sessions];
const LOGS: ZkFileSource[] = [
  { name: 'log.1', chunks: [logBytes(HISTORY.slice(0, 8))] },
  { name: 'log.9', chunks: [logBytes(HISTORY.slice(8, 16))] },
  { name: 'log.11', chunks: [logBytes(HISTORY.slice(16))] },
];
const snapshotFile = (zxid: number, t: ZkTree): ZkFileSource => ({ name: `snapshot.${zxid.toString(16)}`, chunks: [snapshotBytes({ nodes: snapOf(t), sessions: sessionsOf(t) })] });
const FINAL = treeAfter(HISTORY.length);

describe('restoreFiles replays the logs after the snapshot', () => {
  it('from no snapshot: every log from zxid 1, to the same tree', () => {
    const r = restoreFiles(LOGS);
    expect(r.snapshot).toBeUndefined();
    expect(look(r.tree)).toEqual(look(FINAL));
    expect(r.report).toMatchObject({ applied: 24, skipped: 0, lastZxid: 24n, contiguous: true, sessions: 1, ephemerals: 1, znodes: FINAL.size });
    expect([...r.tree.sessions.keys()]).toEqual([0x11n]);
    expect(r.tree.get('/app/e2')).toBeUndefined();
  });

  // A fuzzy snapshot: named for zxid k, but written while txns up to m went on (here all of them
  // reached it). Replaying k+1.. again must converge on the same tree, stats included.
  const FUZZY = [0, 3, 5, 8, 12].flatMap((k) => [k, k + 1, k + 3, k + 7].filter((m) => m <= 24).map((m) => [k, m] as const));
  it.each(FUZZY)('from snapshot.%i holding the txns up to %i: the same tree, the overlap tolerated', (k, m) => {
    const r = restoreFiles([snapshotFile(k, treeAfter(m)), ...LOGS]);
    expect(r.snapshot?.file).toBe(`snapshot.${k.toString(16)}`);
    expect(look(r.tree)).toEqual(look(FINAL));
    expect(r.tree.zkDigest).toBe(FINAL.zkDigest);
    expect(r.report).toMatchObject({ applied: 24 - k, skipped: k > 16 ? k - 16 : k > 8 ? k - 8 : k, contiguous: true });
    expect([...r.tree.sessions.keys()]).toEqual([...FINAL.sessions.keys()]);
  });

  it('the newest snapshot cut short: the one before it is used', () => {
    const cut = snapshotFile(20, treeAfter(20));
    const r = restoreFiles([{ ...cut, chunks: [[...cut.chunks][0]!.subarray(0, 100)] }, snapshotFile(12, treeAfter(12)), snapshotFile(5, treeAfter(5)), ...LOGS]);
    expect(r.snapshot?.file).toBe('snapshot.c');
    expect(r.skippedSnapshots.map((s) => [s.file, s.status])).toEqual([['snapshot.14', 'truncated']]);
    expect(r.report.logs).toEqual(['log.9', 'log.11']);
    expect(look(r.tree)).toEqual(look(FINAL));
  });

  it('a missing log: a gap naming the zxids and the log that should hold them', () => {
    const r = restoreFiles([snapshotFile(3, treeAfter(3)), LOGS[0]!, LOGS[2]!]);
    expect(r.report.contiguous).toBe(false);
    expect(r.report.gaps).toHaveLength(1);
    expect(r.report.gaps[0]).toMatchObject({ after: 8n, next: 17n, afterLog: 'log.1', nextLog: 'log.11' });
    expect(r.report.gaps[0]?.message).toMatch(/after 0x8 up to 0x11 are missing.*log\.1 .*log\.11.*log\.9/);
  });

  it('no log reaching back to the snapshot: a gap right after it', () => {
    const r = restoreFiles([snapshotFile(3, treeAfter(3)), LOGS[1]!, LOGS[2]!]);
    expect(r.report.gaps.map((g) => [g.after, g.next, g.afterLog])).toEqual([[3n, 9n, undefined]]);
    expect(r.report.gaps[0]?.message).toMatch(/snapshot\.3 \(zxid 0x3\)/);
  });

  it('files that are not snapshots or logs, and compressed snapshots, are passed over', () => {
    const r = restoreFiles([...LOGS, { name: 'acceptedEpoch', chunks: [b('1')] }, { name: 'snapshot.30.gz', chunks: [] }]);
    expect(r.ignored).toEqual(['acceptedEpoch', 'snapshot.30.gz']);
  });
});

describe('the files a restore reads', () => {
  it.each([
    ['snapshot.100000000', { kind: 'snapshot', zxid: 0x100000000n, compression: undefined }],
    ['./zookeeper/transactions/version-2/log.1a2B', { kind: 'log', zxid: 0x1a2bn, compression: undefined }],
    ['snapshot.5.gz', { kind: 'snapshot', zxid: 5n, compression: 'gz' }],
    ['snapshot.5.snappy', { kind: 'snapshot', zxid: 5n, compression: 'snappy' }],
    ['log.5.gz', undefined],
    ['snapshot.', undefined],
    ['snapshot.xyz', undefined],
    ['snapshot.8000000000000000', undefined],
    ['acceptedEpoch', undefined],
  ])('%s', (name, want) => {
    const got = parseZkFileName(name);
    expect(got && { kind: got.kind, zxid: got.zxid, compression: got.compression }).toEqual(want);
  });

  it('the snapshot: the newest valid one', () => {
    const s = (zxid: bigint, status: string) => ({ zxid, status });
    expect(chooseSnapshot([s(5n, 'valid'), s(9n, 'checksum'), s(7n, 'valid'), s(8n, 'truncated')])).toEqual(s(7n, 'valid'));
    expect(chooseSnapshot([s(9n, 'malformed')])).toBeUndefined();
  });

  it.each([
    [0x10n, [1n, 0x9n, 0x11n, 0x20n], [0x9n, 0x11n, 0x20n]],
    [0x11n, [0x20n, 1n, 0x11n, 0x9n], [0x11n, 0x20n]],
    [0x5n, [0x9n, 0x11n], [0x9n, 0x11n]],
    [0x50n, [1n, 0x9n], [0x9n]],
  ])('the logs for snapshot %s out of %s: %s', (snap, have, want) => {
    expect(logsFor(snap, have.map((zxid) => ({ zxid }))).map((l) => l.zxid)).toEqual(want);
  });

  it.each([
    [0x100000005n, 0x100000006n, true],
    [0x100000005n, 0x200000001n, true],
    [0x100000005n, 0x300000001n, true],
    [0x100000005n, 0x100000007n, false],
    [0x100000005n, 0x200000002n, false],
    [0x100000005n, 0x100000005n, false],
    [0x0n, 0x1n, true],
  ])('zxid %s then %s follows: %s', (last, next, want) => {
    expect(follows(last, next)).toBe(want);
  });

  it('epoch files', () => {
    expect(parseEpochFile('5')).toBe(5n);
    expect(parseEpochFile('12\n')).toBe(12n);
    expect(parseEpochFile('x')).toBeUndefined();
  });
});
