// --metrics-file on a 3-master sandbox (127.0.48.x): after a READY backup, an ERROR backup (the
// deep verify fails on a snapshot cut short) and a refused one (a master unreachable), the file
// node_exporter would read parses with the small Prometheus text parser below, and says what
// happened: exit codes 0, 1 and 3, the last success unchanged by the failures, the archive's
// bytes and znodes. `backup --prune` applies the inventory's policy after the READY backup
// only. `status --json` has the documented shape.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { STATUS_KEYS, STATUS_MASTER_KEYS } from '../../src/ui/json-shapes.js';
import { json, zkops } from '../helpers/cli.js';
import { inventoryCopy, startSandbox, stopSandbox, waitClusterHealthy, type TestSandbox } from '../helpers/sandbox.js';

// ---- a small parser of the text format, for this test only -----------------------------------

interface Parsed {
  help: Map<string, string>;
  type: Map<string, string>;
  /** `name{k="v",...}` as written (labels sorted) → value. */
  samples: Map<string, number>;
}

function parseProm(text: string): Parsed {
  const p: Parsed = { help: new Map(), type: new Map(), samples: new Map() };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? p.help : p.type).set(meta[2] as string, meta[3] as string);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_]\w*="(?:[^"\\]|\\.)*",?)*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels = [...(m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((l) => `${l[1]}="${l[2]}"`).sort();
    const value = Number(m[3]);
    if (Number.isNaN(value)) throw new Error(`not a value: ${line}`);
    const key = `${m[1]}{${labels.join(',')}}`;
    if (p.samples.has(key)) throw new Error(`a series twice: ${key}`);
    p.samples.set(key, value);
  }
  for (const name of new Set([...p.samples.keys()].map((k) => k.slice(0, k.indexOf('{'))))) {
    if (p.type.get(name) !== 'gauge' || !p.help.get(name)) throw new Error(`${name} has no HELP or TYPE gauge`);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------

interface Meta {
  id: string;
  label: string;
  status: string;
  created: string;
  finished: string;
  size: number;
  stopWindowMs: number;
  tree: { znodes: number } | null;
}

const ZK = '/var/lib/dcos/exhibitor/zookeeper';
let sb: TestSandbox;
let catalog: string;
let inventory: string;
let cluster: string;
let metrics: string;

const read = () => parseProm(readFileSync(metrics, 'utf8'));
const series = (name: string, method = 'copy') => `${name}{cluster="${cluster}",label="nightly",method="${method}"}`;
const pruneSeries = (name: string) => `${name}{cluster="${cluster}",label="nightly"}`;
const backup = (...extra: string[]) => zkops(['backup', '-i', inventory, '--dir', catalog, '--label', 'nightly', '--method', 'copy', '--prune', '--metrics-file', metrics, '--json', ...extra], { timeoutMs: 300_000 });

/** An older READY backup of the same cluster and label, as a catalog entry, for the prune to find. */
function plantOld(daysAgo: number): string {
  const id = `nightly-${randomUUID()}`;
  const created = new Date(Date.now() - daysAgo * 86_400_000).toISOString();
  const meta = { id, label: 'nightly', cluster, status: 'STATUS_READY', error: null, remoteArchive: null, sourceMaster: 'master-2', created, finished: created, size: 3, sha256: null, zxidRange: null, files: [], leaderZxid: null, masterZxid: null, zookeeperVersion: null, dcosVersion: null, stopWindowMs: 0, zkopsVersion: '0', runId: null };
  writeFileSync(join(catalog, `${id}.json`), JSON.stringify(meta));
  writeFileSync(join(catalog, `${id}.tar.gz`), 'old');
  return id;
}
const inCatalog = (id: string) => statSync(join(catalog, `${id}.json`), { throwIfNoEntry: false }) !== undefined;

beforeAll(async () => {
  sb = await startSandbox({ masters: 3, baseIp: '127.0.48.1', name: 'metrics' });
  catalog = join(sb.work, 'catalog');
  mkdirSync(catalog, { mode: 0o700 });
  metrics = join(sb.work, 'zkops.prom');
  cluster = (parseYaml(readFileSync(sb.inventory, 'utf8')) as { cluster: string }).cluster;
  inventory = inventoryCopy(sb, 'with-retention', (doc) => {
    (doc as Record<string, unknown>).retention = { keepLast: 1 };
  });
  expect((await sb.sandbox('seed', '--znodes', '150')).code).toBe(0);
});
afterAll(async () => {
  await sb?.sandbox('fault', 'master-2', 'sshd-start');
  await stopSandbox(sb);
});

describe('--metrics-file after a READY, an ERROR and a refused backup', () => {
  let ready: Meta;
  let firstSuccess: number;

  it('status --json has the documented keys', async () => {
    const r = await zkops(['status', '-i', inventory, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = json<Record<string, unknown> & { masters: Record<string, unknown>[] }>(r);
    expect(Object.keys(doc)).toEqual([...STATUS_KEYS]);
    for (const m of doc.masters) expect(Object.keys(m)).toEqual([...STATUS_MASTER_KEYS]);
  });

  it('READY: exit code 0, the archive bytes, znodes, stop window, success and attempt times; the policy pruned the older backup', async () => {
    const old = plantOld(3);
    const r = await backup();
    expect(r.code, r.stderr).toBe(0);
    ready = json<{ backup: Meta }>(r).backup;
    expect(ready.status).toBe('STATUS_READY');
    const m = read().samples;
    expect(m.get(series('zkops_backup_exit_code'))).toBe(0);
    expect(m.get(series('zkops_backup_archive_bytes'))).toBe(statSync(join(catalog, `${ready.id}.tar.gz`)).size);
    expect(m.get(series('zkops_backup_archive_bytes'))).toBe(ready.size);
    expect(ready.tree?.znodes).toBeGreaterThan(150);
    expect(m.get(series('zkops_backup_znodes'))).toBe(ready.tree?.znodes);
    expect(m.get(series('zkops_backup_stop_window_seconds'))).toBe(ready.stopWindowMs / 1000);
    expect(ready.stopWindowMs).toBeGreaterThan(0);
    firstSuccess = m.get(series('zkops_backup_last_success_timestamp_seconds')) as number;
    expect(Math.abs(firstSuccess - Date.parse(ready.finished) / 1000)).toBeLessThan(5);
    const attempt = m.get(series('zkops_backup_last_attempt_timestamp_seconds')) as number;
    expect(attempt).toBeLessThanOrEqual(Date.parse(ready.created) / 1000 + 1);
    expect(firstSuccess - attempt).toBeCloseTo(m.get(series('zkops_backup_duration_seconds')) as number, 0);
    // keepLast 1: the planted older backup went, the new one stays
    expect(inCatalog(old)).toBe(false);
    expect(inCatalog(ready.id)).toBe(true);
    expect(m.get(pruneSeries('zkops_prune_removed_backups'))).toBe(1);
    expect(m.get(pruneSeries('zkops_prune_exit_code'))).toBe(0);
    expect(statSync(metrics).mode & 0o777).toBe(0o644);
  });

  it('ERROR (the deep verify fails): exit code 1, the last success and its archive facts unchanged, no prune', async () => {
    await waitClusterHealthy(sb);
    const old = plantOld(2);
    const pruneBefore = read().samples.get(pruneSeries('zkops_prune_last_attempt_timestamp_seconds'));
    // a snapshot newer than the real ones, cut short: ZooKeeper passes over it, the deep verify names it
    const bogus = `${ZK}/snapshot/version-2/snapshot.ffffff`;
    expect((await sb.ssh('master-3', `printf 'ZKSN\\000\\000\\000\\002garbage' > ${bogus}`)).code).toBe(0);
    try {
      const r = await backup('--master', 'master-3');
      expect(r.code).toBe(1);
      expect(json<{ backup: Meta }>(r).backup.status).toBe('STATUS_ERROR');
    } finally {
      await sb.ssh('master-3', `rm -f ${bogus}; rm -rf /var/tmp/zkops*`);
    }
    const m = read().samples;
    expect(m.get(series('zkops_backup_exit_code'))).toBe(1);
    expect(m.get(series('zkops_backup_last_success_timestamp_seconds'))).toBe(firstSuccess);
    expect(m.get(series('zkops_backup_archive_bytes'))).toBe(ready.size);
    expect(m.get(series('zkops_backup_znodes'))).toBe(ready.tree?.znodes);
    expect(m.get(series('zkops_backup_last_attempt_timestamp_seconds'))).toBeGreaterThan(firstSuccess);
    // no prune after an ERROR
    expect(inCatalog(old)).toBe(true);
    expect(m.get(pruneSeries('zkops_prune_last_attempt_timestamp_seconds'))).toBe(pruneBefore);
  });

  it('refused (a master unreachable): exit code 3, the last success still the first one', async () => {
    await waitClusterHealthy(sb);
    expect((await sb.sandbox('fault', 'master-2', 'sshd-stop')).code).toBe(0);
    try {
      const r = await backup();
      expect(r.code).toBe(3);
    } finally {
      expect((await sb.sandbox('fault', 'master-2', 'sshd-start')).code).toBe(0);
    }
    const m = read().samples;
    expect(m.get(series('zkops_backup_exit_code'))).toBe(3);
    expect(m.get(series('zkops_backup_last_success_timestamp_seconds'))).toBe(firstSuccess);
    expect(m.get(series('zkops_backup_archive_bytes'))).toBe(ready.size);
    // one series per family and label set: the file stays what node_exporter accepts
    expect([...read().samples.keys()].filter((k) => k.startsWith('zkops_backup_exit_code'))).toEqual([series('zkops_backup_exit_code')]);
  });
});
