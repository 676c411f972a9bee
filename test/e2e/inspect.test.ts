// What is inside a backup, read from ZooKeeper's own files, against a 3-master sandbox on
// 127.0.40.1-3: a tree with an ephemeral of a session that stays open, ACLs, a multi, deletes
// and setData on top of the seed is backed up; the backup's metadata, `show`, `inspect` and
// `verify --deep` give the znode count and the digest the live ensemble gives; `diff` between
// two backups lists exactly the changes made between them; a restore says what it will change
// (the live tree read through SSH) before it asks, and in --dry-run.

import zookeeper from 'node-zookeeper-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { json, onTerminal, zkops } from '../helpers/cli.js';
import { startSandbox, stopSandbox, waitClusterHealthy, zkPids, type TestSandbox } from '../helpers/sandbox.js';

const ROOT = '/zkops-sandbox';

interface Tree {
  znodes: number;
  ephemerals: number;
  lastZxid: string;
  digest: { sha256: string; znodes: number; bytes: number };
}

let sb: TestSandbox;
let catalog: string;
let client: zookeeper.Client;

const OPEN = [new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id('world', 'anyone'))];
const call = <T>(fn: (cb: (err: unknown, v: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
const create = (path: string, data: string, mode: number = zookeeper.CreateMode.PERSISTENT, acl = OPEN) =>
  call<string>((cb) => client.create(path, Buffer.from(data), acl, mode, (e, p) => cb(e, p)));
const setData = (path: string, data: string) => call<unknown>((cb) => client.setData(path, Buffer.from(data), -1, (e, s) => cb(e, s)));
const remove = (path: string) => call<void>((cb) => client.remove(path, -1, (e) => cb(e, undefined)));

async function backup(): Promise<{ id: string; tree: Tree | null }> {
  const r = await zkops(['backup', '-i', sb.inventory, '--dir', catalog, '--json'], { timeoutMs: 300_000 });
  expect(r.code, r.stderr).toBe(0);
  await waitClusterHealthy(sb);
  return json<{ backup: { id: string; tree: Tree | null } }>(r).backup;
}

/** The digest of the live ensemble under ROOT, as `zkops sandbox digest` computes it: sha256, znodes, bytes. */
async function liveDigest(): Promise<{ sha256: string; znodes: number }> {
  const r = await zkops(['sandbox', 'digest', '--dir', sb.dir, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return json<{ sha256: string; znodes: number }>(r);
}

beforeAll(async () => {
  sb = await startSandbox({ masters: 3, baseIp: '127.0.40.1', name: 'inspect' });
  catalog = join(sb.work, 'catalog');
  expect((await sb.sandbox('seed', '--znodes', '300')).code).toBe(0);
  client = zookeeper.createClient(sb.masters.map((m) => `${m.address}:2181`).join(','), { sessionTimeout: 30_000 });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no ZooKeeper session in 30 s')), 30_000);
    client.once('connected', () => {
      clearTimeout(t);
      resolve();
    });
    client.connect();
  });
  // what a DC/OS tree has beside plain znodes: an ephemeral of a live session, an ACL, a multi,
  // a znode deleted and one changed after the seed
  await create(`${ROOT}/leader-lock`, 'held by this test', zookeeper.CreateMode.EPHEMERAL);
  await create(`${ROOT}/secret`, 'digest-acl', zookeeper.CreateMode.PERSISTENT, [new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id('digest', 'ops:YmFzZTY0aGFzaA==')), new zookeeper.ACL(zookeeper.Permission.READ, new zookeeper.Id('world', 'anyone'))]);
  await call<unknown>((cb) =>
    client
      .transaction()
      .create(`${ROOT}/multi-a`, Buffer.from('a'))
      .create(`${ROOT}/multi-b`, Buffer.from('b'))
      .commit((e, r) => cb(e, r)),
  );
  await create(`${ROOT}/gone`, 'soon deleted');
  await remove(`${ROOT}/gone`);
  await setData(`${ROOT}/multi-a`, 'a, changed');
}, 180_000);

afterAll(async () => {
  client?.close();
  await stopSandbox(sb);
});

describe('a backup knows what it holds', () => {
  let first: { id: string; tree: Tree | null };

  it('the metadata records the znode count and digest of the live ensemble, with the live ephemeral', async () => {
    const live = await liveDigest();
    first = await backup();
    expect(first.tree).not.toBeNull();
    const inspected = await zkops(['inspect', first.id, '--dir', catalog, '--root', ROOT, '--json']);
    expect(inspected.code, inspected.stderr).toBe(0);
    const i = json<{ ok: boolean; tree: Tree; subtrees: { path: string; znodes: number }[] }>(inspected);
    expect(i.ok).toBe(true);
    expect(i.tree.digest.sha256).toBe(live.sha256);
    expect(i.tree.digest.znodes).toBe(live.znodes);
    expect(i.tree.ephemerals).toBeGreaterThanOrEqual(1);
    // recorded at backup time over the whole tree (only ROOT is under / but /zookeeper, which is left out)
    expect(first.tree?.digest.sha256).toBe(live.sha256);
    expect(BigInt(first.tree?.lastZxid ?? 0)).toBeGreaterThan(0n);

    const show = await zkops(['show', first.id, '--dir', catalog]);
    expect(show.stdout).toMatch(new RegExp(`^digest\\s+${live.sha256}$`, 'm'));
    expect(show.stdout).toMatch(/^znodes\s+\d+ \(/m);
    const deep = await zkops(['verify', '--deep', first.id, '--dir', catalog]);
    expect(deep.code, deep.stderr).toBe(0);
    expect(deep.stdout).toContain(`digest ${live.sha256}`);

    const get = await zkops(['inspect', first.id, '--dir', catalog, '--get', `${ROOT}/secret`, '--json']);
    expect(json<{ data: string; acl: { scheme: string; id: string }[] }>(get)).toMatchObject({ data: 'digest-acl', acl: [{ scheme: 'digest', id: 'ops:YmFzZTY0aGFzaA==' }, { scheme: 'world', id: 'anyone' }] });
    const eph = await zkops(['inspect', first.id, '--dir', catalog, '--get', `${ROOT}/leader-lock`, '--json']);
    expect(json<{ stat: { kind: string } }>(eph).stat.kind).toBe('ephemeral');
  });

  it('diff between two backups lists exactly the changes made between them', async () => {
    await setData(`${ROOT}/multi-b`, 'b, changed');
    await remove(`${ROOT}/multi-a`);
    await create(`${ROOT}/new-one`, 'created between the backups');
    const second = await backup();
    const r = await zkops(['diff', first.id, second.id, '--dir', catalog, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const d = json<{ created: string[]; deleted: string[]; changed: { path: string; what: string[] }[] }>(r);
    expect(d.created).toEqual([`${ROOT}/new-one`]);
    expect(d.deleted).toEqual([`${ROOT}/multi-a`]);
    // the parent's children changed too, which is not a change of its data, ACL or version
    expect(d.changed.map((c) => c.path)).toEqual([`${ROOT}/multi-b`]);
    const same = await zkops(['diff', second.id, second.id, '--dir', catalog]);
    expect(same.stdout.trim()).toBe('no difference');
  });

  it('diff --live: nothing right after a backup; then exactly the znodes changed since', async () => {
    const fresh = await backup();
    const empty = await zkops(['diff', fresh.id, '--live', '-i', sb.inventory, '--dir', catalog, '--json']);
    expect(empty.code, empty.stderr).toBe(0);
    expect(json<{ same: boolean }>(empty).same).toBe(true);
    await setData(`${ROOT}/new-one`, 'changed after the backup');
    await create(`${ROOT}/newer`, 'created after the backup');
    const r = await zkops(['diff', fresh.id, '--live', '-i', sb.inventory, '--dir', catalog, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const d = json<{ created: string[]; deleted: string[]; changed: { path: string; what: string[] }[] }>(r);
    expect(d).toMatchObject({ created: [`${ROOT}/newer`], deleted: [] });
    expect(d.changed).toEqual([{ path: `${ROOT}/new-one`, what: ['data', 'version'] }]);
    await remove(`${ROOT}/newer`);
    await setData(`${ROOT}/new-one`, 'created between the backups');
  });

  it('a restore says what it will change before it asks, and --dry-run says it too', async () => {
    // the live tree is the second backup's: restoring the first adds multi-a back, removes new-one, changes multi-b
    const line = /compared with the live cluster \(read on master-\d\): the restore removes 1 znode \(1 under \/zkops-sandbox\), changes 1 \(1 under \/zkops-sandbox\), adds 1 \(1 under \/zkops-sandbox\)/;
    const pids = zkPids(sb.dir);
    const asked = await onTerminal(['restore', first.id, '-i', sb.inventory, '--dir', catalog], 'n');
    expect(asked.stdout).toMatch(line);
    expect(asked.stdout).toContain('not confirmed; nothing was changed');
    const dry = await zkops(['restore', first.id, '-i', sb.inventory, '--dir', catalog, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).toMatch(line);
    const dryJson = json<{ preview: { counts: { adds: number; removes: number; changes: number } } }>(await zkops(['restore', first.id, '-i', sb.inventory, '--dir', catalog, '--dry-run', '--json']));
    expect(dryJson.preview.counts).toMatchObject({ adds: 1, removes: 1, changes: 1 });
    expect(zkPids(sb.dir)).toEqual(pids);
  });
});
