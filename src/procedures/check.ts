// `zkops check`: connect to every master and say, per master, what works: reachable, host
// key, login, sudo, dcos-zk present, free space for a backup, master_count, Exhibitor health.
// A check that cannot apply says so ("n/a", "skipped") rather than passing.

import pLimit from 'p-limit';
import type { Inventory, Master } from '../inventory/types.js';
import type { Session } from '../transport/types.js';
import { TransportError } from '../errors.js';
import { shellQuote } from '../util/shell-quote.js';
import { SessionPool } from '../transport/session-pool.js';
import { StatusFetcher } from '../exhibitor/fetch.js';
import { judgeHealth, parseStatus } from '../exhibitor/status.js';
import { hostsOf } from '../exhibitor/health.js';
import type { Deps } from './deps.js';

export type CheckStatus = 'ok' | 'fail' | 'n/a' | 'skipped';
export interface CheckItem {
  name: string;
  status: CheckStatus;
  detail: string;
}
export interface MasterReport {
  master: string;
  checks: CheckItem[];
}

export const CHECK_NAMES = ['reachable', 'host key', 'login', 'sudo', 'dcos-zk', 'free space', 'master_count', 'exhibitor'] as const;

/** Run every check on every master. Never throws for a failed check. */
export async function checkCluster(inv: Inventory, deps: Pick<Deps, 'transport' | 'concurrency' | 'warn'>): Promise<MasterReport[]> {
  const pool = new SessionPool(deps.transport, deps.warn);
  const fetcher = new StatusFetcher(inv, pool);
  const limit = pLimit(Math.max(1, deps.concurrency));
  try {
    return await Promise.all(inv.masters.map((m) => limit(() => checkMaster(inv, m, pool, fetcher))));
  } finally {
    await pool.closeAll();
  }
}

async function checkMaster(inv: Inventory, m: Master, pool: SessionPool, fetcher: StatusFetcher): Promise<MasterReport> {
  const checks: CheckItem[] = [];
  const add = (name: string, status: CheckStatus, detail: string) => checks.push({ name, status, detail });
  let session: Session;
  try {
    session = await pool.session(m);
    add('reachable', 'ok', `${m.host}:${m.port}${m.jump ? ` via ${m.jump.host}` : ''}`);
    add('host key', 'ok', `matches ${m.knownHosts}${m.hostKeyPolicy === 'off' ? ' (policy off: NOT checked)' : ''}`);
    add('login', 'ok', `as ${m.user}`);
  } catch (err) {
    const e = err as TransportError;
    const kind = err instanceof TransportError ? e.kind : 'connect';
    const msg = (err as Error).message;
    add('reachable', kind === 'connect' || kind === 'timeout' ? 'fail' : 'ok', kind === 'connect' || kind === 'timeout' ? msg : '');
    add('host key', kind.startsWith('hostkey') ? 'fail' : kind === 'auth' ? 'ok' : 'skipped', kind.startsWith('hostkey') ? msg : '');
    add('login', kind === 'auth' ? 'fail' : 'skipped', kind === 'auth' ? msg : '');
    for (const name of CHECK_NAMES.slice(3)) add(name, 'skipped', 'no connection');
    return { master: m.name, checks };
  }
  const become = m.become === 'sudo';
  if (become) {
    const r = await session.exec('true', { become: true, timeoutMs: 15_000 });
    add('sudo', r.exitCode === 0 ? 'ok' : 'fail', r.exitCode === 0 ? 'sudo -n works' : r.stderr.trim() || `exit ${r.exitCode}`);
  } else {
    add('sudo', 'n/a', 'become: none (logging in as a privileged user)');
  }
  const q = shellQuote;
  const zk = await session.exec(`${q(inv.dcos.dcosShell)} sh -c 'command -v dcos-zk'`, { become, timeoutMs: 15_000 });
  add('dcos-zk', zk.exitCode === 0 ? 'ok' : 'fail', zk.exitCode === 0 ? zk.stdout.trim() : `not found via ${inv.dcos.dcosShell}: ${zk.stderr.trim() || `exit ${zk.exitCode}`}`);

  const disk = await session.exec(`df -Pk ${q(inv.dcos.remoteTmpDir)} | tail -n 1 | awk '{print $4}' && du -sk ${q(inv.dcos.zkDir)} | cut -f1`, { become, timeoutMs: 60_000 });
  const [freeKb, zkKb] = disk.stdout.trim().split('\n').map(Number);
  if (disk.exitCode !== 0 || freeKb === undefined || zkKb === undefined || Number.isNaN(freeKb) || Number.isNaN(zkKb)) {
    add('free space', 'fail', `cannot measure: ${disk.stderr.trim() || `exit ${disk.exitCode}`}`);
  } else {
    const ok = freeKb >= 2 * zkKb;
    add('free space', ok ? 'ok' : 'fail', `${mb(freeKb)} free in ${inv.dcos.remoteTmpDir}, ZooKeeper ${mb(zkKb)} (needs ≥ 2×)`);
  }

  const count = await session.exec('cat /opt/mesosphere/etc/master_count', { timeoutMs: 15_000 });
  const n = Number(count.stdout.trim());
  if (count.exitCode !== 0 || !Number.isInteger(n)) add('master_count', 'n/a', 'no /opt/mesosphere/etc/master_count');
  else add('master_count', n === inv.masters.length ? 'ok' : 'fail', `${n} on the master, ${inv.masters.length} in the inventory`);

  try {
    const v = judgeHealth(parseStatus(await fetcher.fetchFrom(m)), hostsOf(inv));
    add('exhibitor', v.healthy ? 'ok' : 'fail', v.healthy ? `${v.serving} serving, leader ${v.rows.find((r) => r.leader)?.master}` : v.reason);
  } catch (err) {
    add('exhibitor', 'fail', `unreachable: ${(err as Error).message}`);
  }
  return { master: m.name, checks };
}

function mb(kb: number): string {
  return kb >= 1024 * 1024 ? `${(kb / 1024 / 1024).toFixed(1)} GiB` : `${(kb / 1024).toFixed(1)} MiB`;
}
