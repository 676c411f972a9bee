// zkops status -i INV [--wait] [--timeout T]: Exhibitor's view of the cluster as a table.

import type { CommandModule } from 'yargs';
import { loadInventory } from '../../inventory/load.js';
import { createSshTransport } from '../../transport/index.js';
import { SessionPool } from '../../transport/session-pool.js';
import { CertificateError, StatusFetcher } from '../../exhibitor/fetch.js';
import { judgeHealth, type HealthVerdict } from '../../exhibitor/status.js';
import { CERT_HINT, hostsOf, refusedCertificate } from '../../exhibitor/health.js';
import { parsePlaybook } from '../../playbook/load.js';
import { parseDuration } from '../../util/duration.js';
import { HealthTimeout, OperationFailed, SafetyRefusal, UsageError } from '../../errors.js';
import { executeRun, type Loaded } from '../playbook-run.js';
import { newRunId, printJson, requireInventory, say, type GlobalOptions } from '../options.js';
import { formatTable } from '../table.js';
import { leftoversCommand, parseLeftovers, runParent, type RunLeftovers } from '../../playbook/run-dir.js';

interface StatusArgs extends GlobalOptions {
  wait: boolean;
  timeout?: string;
  dir: string;
}

export const statusCommand: CommandModule<GlobalOptions, StatusArgs> = {
  command: 'status',
  describe: "Exhibitor's cluster status; --wait polls until all masters serve and one leads",
  builder: (y) =>
    y.options({
      wait: { type: 'boolean', default: false, describe: 'poll until healthy (stablePolls in a row)' },
      timeout: { type: 'string', describe: 'with --wait: give up after this long (default: exhibitor.timeout)' },
      dir: { type: 'string', default: './zk-backups', describe: 'catalog directory (the journal is written there)' },
    }) as never,
  handler: async (argv) => {
    const inventory = await loadInventory(requireInventory(argv));
    if (argv.wait) return waitHealthy(argv, inventory);
    const pool = new SessionPool(createSshTransport(), (m) => say(`warning: ${m}`));
    let verdict: HealthVerdict;
    let from: string;
    let left: Record<string, RunLeftovers | string>;
    try {
      // what zkops runs left on the masters (a lock, a restore job's log after a crash), read beside the status
      const leftovers = readLeftovers(inventory, pool);
      try {
        const got = await new StatusFetcher(inventory, pool).fetch();
        verdict = judgeHealth(got.entries, hostsOf(inventory));
        from = got.from;
      } catch (err) {
        const cert = refusedCertificate(err);
        if (cert) throw refusal(cert);
        throw new OperationFailed(`cannot read Exhibitor's status: ${(err as Error).message}`, { hint: `run \`zkops check -i ${inventory.file}\`` });
      }
      left = await leftovers;
    } finally {
      await pool.closeAll();
    }
    if (argv.json) printJson({ healthy: verdict.healthy, reason: verdict.reason || null, from, masters: verdict.rows, leftovers: left });
    else {
      process.stdout.write(`${formatTable(verdict.rows.map((r) => ({ master: r.master, host: r.host, state: r.state, leader: r.leader ? 'leader' : '' })))}\n`);
      say(verdict.healthy ? `healthy: ${verdict.serving} serving, one leader (asked ${from})` : `NOT healthy: ${verdict.reason} (asked ${from})`);
      for (const line of describeLeftovers(left)) say(line);
    }
    if (!verdict.healthy) throw Object.assign(new HealthTimeout(`cluster not healthy: ${verdict.reason}`), { jsonPrinted: argv.json });
  },
};

/** Each master's leftovers, or why they could not be read. */
async function readLeftovers(inventory: Loaded['inventory'], pool: SessionPool): Promise<Record<string, RunLeftovers | string>> {
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

/** Human lines for the leftovers: the lock with its run, then what each unfinished job did, event by event. */
export function describeLeftovers(left: Record<string, RunLeftovers | string>): string[] {
  const lines: string[] = [];
  for (const [master, l] of Object.entries(left)) {
    if (typeof l === 'string') {
      lines.push(`${master}: ${l}`);
      continue;
    }
    if (l.lock) {
      const i = l.lock.info;
      lines.push(`${master}: the cluster lock is held by run ${i.run ?? '?'} (owner ${i.owner ?? '?'}, pid ${i.pid ?? '?'} on ${i.host ?? '?'}, since ${i.time ?? '?'}, ${l.lock.ageS}s ago); if that run is gone, remove ${i.tmp ? `${i.tmp.replace(/\/run-[^/]*$/, '')}/lock` : 'the lock'} on every master`);
    }
    for (const j of l.jobs) {
      lines.push(`${master}: job ${j.job.split('.')[0]} of run ${j.run} (not cleaned up: zkops did not finish that run):`);
      for (const e of j.events) lines.push(`  ${e}`);
    }
  }
  return lines;
}

async function waitHealthy(argv: StatusArgs, inventory: Loaded['inventory']): Promise<void> {
  const timeoutMs = argv.timeout === undefined ? inventory.exhibitor.timeoutMs : parseDuration(argv.timeout);
  if (timeoutMs === undefined) throw new UsageError(`--timeout ${argv.timeout} is not a duration: use 500ms, 10s or 5m`);
  const playbook = parsePlaybook('(zkops status --wait)', `name: status\nsteps:\n  - id: healthy\n    name: Wait until all masters serve and one leads\n    kind: wait_healthy\n    timeout: ${timeoutMs}ms\n    register: health\n`);
  const result = await executeRun({ inventory, playbook, extra: {}, runId: newRunId() }, { global: argv, dir: argv.dir, command: 'status --wait' });
  const health = result.registered.health as { rows?: unknown; polls?: number; ms?: number } | undefined;
  if (argv.json) printJson({ healthy: result.ok, error: result.error?.message ?? null, ...(health ?? {}), details: result.error?.details ?? null });
  else if (result.ok) say(`healthy after ${health?.polls} polls (${health?.ms} ms)`);
  if (result.error?.cause instanceof CertificateError) throw Object.assign(refusal(result.error.cause), { jsonPrinted: argv.json });
  if (result.error) throw Object.assign(result.error, { jsonPrinted: argv.json });
}

/** A certificate that does not verify is refused (exit 3), as an unknown host key is. */
function refusal(cert: CertificateError): SafetyRefusal {
  return new SafetyRefusal(`refused Exhibitor's TLS certificate on every master: ${cert.message}`, { hint: CERT_HINT, cause: cert });
}
