// zkops restore ID|FILE -i INV [--yes] [--force] [--dry-run]

import type { CommandModule } from 'yargs';
import { dcosZkHint } from '../../exhibitor/dcos-zk.js';
import { failedRestores, historyOf, prepareRestore, restoreTable, runRestore, type RestoreRow } from '../../procedures/restore.js';
import type { RunResult } from '../../engine/run.js';
import type { Loaded } from '../playbook-run.js';
import type { MasterHealth } from '../../exhibitor/status.js';
import { formatPlan, planOf } from '../playbook-run.js';
import { printJson, requireInventory, say, type GlobalOptions } from '../options.js';
import { formatTable } from '../table.js';

interface RestoreArgs extends GlobalOptions {
  target: string;
  dir: string;
  yes: boolean;
  force: boolean;
  'dry-run': boolean;
  playbook?: string;
}

export const restoreCommand: CommandModule<GlobalOptions, RestoreArgs> = {
  command: 'restore <target>',
  describe: 'restore ZooKeeper on every master from a backup id or an archive file',
  builder: (y) =>
    y.positional('target', { type: 'string', demandOption: true, describe: 'backup id (see zkops list) or archive path' }).options({
      dir: { type: 'string', default: './zk-backups', describe: 'catalog directory' },
      yes: { alias: 'y', type: 'boolean', default: false, describe: 'do not ask for confirmation' },
      force: { type: 'boolean', default: false, describe: 'restore an archive from another ZooKeeper major.minor' },
      'dry-run': { type: 'boolean', default: false, describe: 'print the plan; run nothing' },
      playbook: { type: 'string', describe: 'a changed copy of playbooks/restore.yaml' },
    }) as never,
  handler: async (argv) => {
    const o = { target: argv.target, inventory: requireInventory(argv), dir: argv.dir, yes: argv.yes, force: argv.force, playbook: argv.playbook, global: argv };
    const loaded = await prepareRestore(o);
    if (argv['dry-run']) {
      const plan = planOf(loaded);
      if (argv.json) printJson(plan);
      else process.stdout.write(`${formatPlan(plan)}\n`);
      return;
    }
    // SIGHUP (the operator's SSH session to the bastion drops) is taken as SIGTERM by
    // trapSignals for every command: the start steps run, then exit 130.
    const result: RunResult = await runRestore(o, loaded);
    const masters = loaded.inventory.masters.map((m) => m.name);
    const table = restoreTable(result, masters);
    const health = (result.error?.details as { rows?: MasterHealth[] } | undefined)?.rows;
    const leader = (result.registered.health as { leader?: string } | undefined)?.leader ?? health?.find((r) => r.leader)?.master;
    const history = historyOf(table, leader);
    if (result.error) explainFailure(result, table, loaded, history.text);
    if (argv.json) {
      printJson({ ok: result.ok, exitCode: result.error?.exitCode ?? 0, error: result.error?.message ?? null, hint: result.error?.hint ?? null, history: history.history, historyText: history.text, masters: table, health: health ?? null });
    } else if (result.ok) {
      say(`restored ${loaded.extra.backup_id} on ${masters.length} masters; cluster healthy`);
    } else if (table.some((r) => r.restore !== '-')) {
      say(formatTable(table));
      if (health) say(formatTable(health.map((r) => ({ master: r.master, state: r.state, leader: r.leader ? 'yes' : '' }))));
    }
    if (result.error) throw Object.assign(result.error, { jsonPrinted: argv.json });
  },
};

/** Name the masters whose restore failed, which history the cluster has, and where kept copies are. */
function explainFailure(result: RunResult, table: RestoreRow[], loaded: Loaded, history: string): void {
  const error = result.error;
  if (!error) return;
  const failed = failedRestores(table);
  if (failed.length > 0) error.message += `\ndcos-zk restore did not succeed on ${failed.join(', ')}`;
  const jobs = (result.registered.restored ?? {}) as Record<string, { stdout?: string } | undefined>;
  for (const m of failed) {
    const hint = dcosZkHint(jobs[m]?.stdout ?? '');
    if (hint) error.message += `\n${m}: ${hint}`;
  }
  if (table.some((r) => r.decision !== '-')) error.message += `\n${history}`;
  const cleanup = result.registered.cleanup_out as Record<string, { stdout?: string }> | undefined;
  const kept = Object.entries(cleanup ?? {}).filter(([, v]) => v?.stdout?.includes('kept ')).map(([m]) => m);
  if (kept.length > 0) {
    const copy = `${loaded.inventory.dcos.zkDir}.zkops-pre-${loaded.runId}`;
    Object.assign(error, { hint: `the pre-restore copies ${copy} are kept on ${kept.join(', ')}; remove them once the cluster is healthy (zkops status -i ${loaded.inventory.file} --wait)` });
  }
}
