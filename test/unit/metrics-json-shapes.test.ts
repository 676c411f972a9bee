// The stable --json shapes a monitoring script reads (ui/json-shapes.ts): `list --json` and
// `status --json`. The key lists are pinned here as written in the README; changing one is a
// change of a documented interface, made here, in the type and in the README together. The
// built CLI's `list --json` is checked against them (status's real output: e2e/metrics.test.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Catalog, type BackupMeta } from '../../src/catalog/store.js';
import {
  LIST_CORRUPT_KEYS,
  LIST_ENTRY_KEYS,
  LIST_ENTRY_OPTIONAL_KEYS,
  STATUS_KEYS,
  STATUS_MASTER_KEYS,
  STATUS_WAIT_KEYS,
  STATUS_WAIT_OPTIONAL_KEYS,
} from '../../src/ui/json-shapes.js';
import { json, zkops } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'zkops-shapes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the documented --json shapes', () => {
  it('list --json: an array of entries with these keys', () => {
    expect([...LIST_ENTRY_KEYS]).toEqual([
      'id', 'label', 'cluster', 'status', 'error', 'remoteArchive', 'sourceMaster', 'created', 'finished', 'size', 'sha256', 'zxidRange', 'files',
      'leaderZxid', 'masterZxid', 'zookeeperVersion', 'dcosVersion', 'stopWindowMs', 'zkopsVersion', 'runId',
    ]);
    expect([...LIST_ENTRY_OPTIONAL_KEYS]).toEqual(['jobLauncher', 'method', 'hot', 'rehearsed', 'tree', 'copies', 'service']);
    expect([...LIST_CORRUPT_KEYS]).toEqual(['id', 'label', 'status', 'reason', 'file']);
  });
  it('status --json and status --wait --json: the envelope, then these keys', () => {
    expect([...STATUS_KEYS]).toEqual(['ok', 'exitCode', 'error', 'healthy', 'reason', 'from', 'masters', 'leftovers']);
    expect([...STATUS_MASTER_KEYS]).toEqual(['master', 'host', 'state', 'code', 'leader']);
    expect([...STATUS_WAIT_KEYS]).toEqual(['ok', 'exitCode', 'error', 'healthy', 'details']);
    expect([...STATUS_WAIT_OPTIONAL_KEYS]).toEqual(['rows', 'polls', 'ms', 'leader']);
  });

  it('the built CLI prints list --json in that shape: a READY entry as zkops writes it, and a CORRUPT one', async () => {
    const meta: BackupMeta = {
      id: 'nightly-5b0c7c3e-2a4f-4a53-9c1e-0f5c3d2b1a09',
      label: 'nightly',
      cluster: 'prod-east',
      status: 'STATUS_READY',
      error: null,
      remoteArchive: null,
      sourceMaster: 'master-2',
      created: '2026-11-29T02:00:00.000Z',
      finished: '2026-11-29T02:00:12.000Z',
      size: 87_300,
      sha256: 'a'.repeat(64),
      zxidRange: { from: '0x0', to: '0x1000001fd' },
      files: ['./zookeeper/'],
      leaderZxid: '0x1000001fd',
      masterZxid: '0x1000001fd',
      zookeeperVersion: '3.8.4',
      dcosVersion: '2.2.0',
      stopWindowMs: 0,
      method: 'hot',
      zkopsVersion: '0.1.0',
      runId: 'r1',
    };
    await new Catalog(dir).write(meta);
    writeFileSync(join(dir, 'nightly-6b0c7c3e-2a4f-4a53-9c1e-0f5c3d2b1a09.json'), '{');
    const r = await zkops(['list', '--dir', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const [ready, corrupt, ...more] = json<Record<string, unknown>[]>(r);
    expect(more).toEqual([]);
    const keys = Object.keys(ready ?? {});
    expect(keys.filter((k) => !(LIST_ENTRY_OPTIONAL_KEYS as readonly string[]).includes(k)).sort()).toEqual([...LIST_ENTRY_KEYS].sort());
    expect(Object.keys(corrupt ?? {}).sort()).toEqual([...LIST_CORRUPT_KEYS].sort());
    expect(corrupt?.status).toBe('CORRUPT');
  });
});
