// zkops status -i INV [--wait] [--timeout T]: Exhibitor's view of the cluster as a table.

import { loadInventory } from '../../inventory/load.js';
import { durationProblem, parseDuration } from '../../util/duration.js';
import { HealthTimeout, UsageError } from '../../errors.js';
import { clusterStatus, waitUntilHealthy } from '../../procedures/status.js';
import type { RunLeftovers } from '../../playbook/run-dir.js';
import { formatTable } from '../../ui/table.js';
import type { ZkCommand } from '../command.js';
import { realDeps } from '../deps.js';
import { DIR_OPTION, requireInventory, say } from '../options.js';

interface StatusArgs {
  wait: boolean;
  timeout?: string;
  dir: string;
}

export const statusCommand: ZkCommand<StatusArgs> = {
  command: 'status',
  describe: "Exhibitor's cluster status; --wait polls until all masters serve and one leads",
  builder: (y) =>
    y.options({
      wait: { type: 'boolean', default: false, describe: 'poll until healthy (stablePolls in a row and for stableFor)' },
      timeout: { type: 'string', describe: 'with --wait: give up after this long (default: exhibitor.timeout)' },
      ...DIR_OPTION,
    }) as never,
  run: async (argv) => {
    const inventory = await loadInventory(requireInventory(argv));
    const deps = realDeps(argv, { dir: argv.dir });
    if (argv.wait) {
      const problem = argv.timeout === undefined ? undefined : durationProblem(argv.timeout, 'a wait needs time to see the cluster');
      if (problem !== undefined) throw new UsageError(`--timeout ${problem}`);
      const timeoutMs = argv.timeout === undefined ? inventory.exhibitor.timeoutMs : (parseDuration(argv.timeout) as number);
      const w = await waitUntilHealthy(inventory, timeoutMs, deps);
      if (!argv.json && w.run.ok) say(`healthy after ${w.health?.polls} polls (${w.health?.ms} ms)`);
      return { json: { healthy: w.run.ok, ...(w.health ?? {}), details: w.run.error?.details ?? null }, error: w.error };
    }
    const s = await clusterStatus(inventory, deps);
    if (!argv.json) {
      process.stdout.write(`${formatTable(s.masters.map((r) => ({ master: r.master, host: r.host, state: r.state, leader: r.leader ? 'leader' : '' })))}\n`);
      say(s.healthy ? `healthy: ${s.serving} serving, one leader (asked ${s.from})` : `NOT healthy: ${s.reason} (asked ${s.from})`);
      for (const line of describeLeftovers(s.leftovers)) say(line);
    }
    const error = s.healthy ? undefined : new HealthTimeout(`cluster not healthy: ${s.reason}`);
    return { json: { healthy: s.healthy, reason: s.reason || null, from: s.from, masters: s.masters, leftovers: s.leftovers }, error };
  },
};

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
