// `zkops status`: Exhibitor's view of the cluster, and what zkops runs left on the masters (a
// lock, an unfinished job's events after a crash); `status --wait` polls until healthy with the
// engine's own health wait, as a one-step run.

import type { Inventory } from '../inventory/types.js';
import { SessionPool } from '../transport/session-pool.js';
import { CertificateError, StatusFetcher } from '../exhibitor/fetch.js';
import { CERT_HINT, hostsOf, refusedCertificate } from '../exhibitor/health.js';
import { judgeHealth, type MasterHealth } from '../exhibitor/status.js';
import { parsePlaybook } from '../playbook/load.js';
import { leftoversCommand, newRunId, parseLeftovers, runParent, type RunLeftovers } from '../playbook/run-dir.js';
import type { RunReport } from '../engine/report.js';
import { findCause, OperationFailed, SafetyRefusal, type ZkopsError } from '../errors.js';
import type { Deps } from './deps.js';
import { planOf, runPlan } from './run.js';

export interface StatusReport {
  healthy: boolean;
  /** Why not healthy ("" when healthy). */
  reason: string;
  /** The master whose Exhibitor answered. */
  from: string;
  serving: number;
  masters: MasterHealth[];
  /** Per master: what zkops runs left there, or why it could not be read. */
  leftovers: Record<string, RunLeftovers | string>;
}

/** One look at the cluster. Throws SafetyRefusal when every Exhibitor's certificate was refused, OperationFailed when none answered. */
export async function clusterStatus(inventory: Inventory, deps: Pick<Deps, 'transport' | 'warn'>): Promise<StatusReport> {
  const pool = new SessionPool(deps.transport, deps.warn);
  try {
    // what zkops runs left on the masters, read beside the status
    const leftovers = readLeftovers(inventory, pool);
    let got: Awaited<ReturnType<StatusFetcher['fetch']>>;
    try {
      got = await new StatusFetcher(inventory, pool).fetch();
    } catch (err) {
      const cert = refusedCertificate(err);
      if (cert) throw certificateRefusal(cert);
      throw new OperationFailed(`cannot read Exhibitor's status: ${(err as Error).message}`, { hint: `run \`zkops check -i ${inventory.file}\``, cause: err });
    } finally {
      await leftovers.catch(() => undefined);
    }
    const verdict = judgeHealth(got.entries, hostsOf(inventory));
    return { healthy: verdict.healthy, reason: verdict.reason, from: got.from, serving: verdict.serving, masters: verdict.rows, leftovers: await leftovers };
  } finally {
    await pool.closeAll();
  }
}

/** Each master's leftovers, or why they could not be read. */
async function readLeftovers(inventory: Inventory, pool: SessionPool): Promise<Record<string, RunLeftovers | string>> {
  const parent = runParent(inventory.dcos.remoteTmpDir);
  const all = await Promise.all(
    inventory.masters.map(async (m): Promise<[string, RunLeftovers | string]> => {
      try {
        const res = await (await pool.session(m)).exec(leftoversCommand(parent), { become: true, timeoutMs: 20_000 });
        return [m.name, res.exitCode === 0 ? parseLeftovers(res.stdout) : `cannot read ${parent}: ${res.stderr.trim() || `exit ${res.exitCode}`}`];
      } catch (err) {
        return [m.name, `cannot read ${parent}: ${(err as Error).message}`];
      }
    }),
  );
  return Object.fromEntries(all);
}

export interface WaitReport {
  run: RunReport;
  /** What the health wait registered: rows, polls, ms, leader. */
  health: { rows?: MasterHealth[]; polls?: number; ms?: number; leader?: string } | undefined;
  error: ZkopsError | undefined;
}

/** Poll until every master serves and one leads, `stablePolls` in a row, for at most `timeoutMs`. */
export async function waitUntilHealthy(inventory: Inventory, timeoutMs: number, deps: Deps): Promise<WaitReport> {
  const playbook = parsePlaybook(
    '(zkops status --wait)',
    `name: status\nsteps:\n  - id: healthy\n    name: Wait until all masters serve and one leads\n    kind: wait_healthy\n    timeout: ${timeoutMs}ms\n    register: health\n`,
  );
  const plan = planOf({ inventory, playbook, extra: {}, runId: newRunId(new Date(deps.now())) }, new Date(deps.now()));
  const run = await runPlan(plan, inventory, deps, { command: 'status --wait' });
  const cert = findCause(run.error, CertificateError);
  return { run, health: run.registered.health as WaitReport['health'], error: cert ? certificateRefusal(cert) : run.error };
}

/** A certificate that does not verify is refused (exit 3), as an unknown host key is. */
function certificateRefusal(cert: CertificateError): SafetyRefusal {
  return new SafetyRefusal(`refused Exhibitor's TLS certificate on every master: ${cert.message}`, { hint: CERT_HINT, cause: cert });
}
