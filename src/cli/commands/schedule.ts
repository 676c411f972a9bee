// zkops schedule print --every daily|hourly|CRON -i INV [--dir D] [--label L] [--prune]
//                      [--metrics-file PATH] [--only service|timer|crontab]
// A systemd service + timer pair and a crontab line that run `zkops backup` on a schedule
// (procedures/schedule.ts builds them); absolute paths throughout, this node and this zkops.

import { accessSync, constants, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Argv, CommandModule } from 'yargs';
import { assertLabel } from '../../catalog/labels.js';
import { UsageError } from '../../errors.js';
import { loadInventory } from '../../inventory/load.js';
import { buildSchedule } from '../../procedures/schedule.js';
import { toYargs } from '../command.js';
import { DIR_OPTION, requireInventory, say, type GlobalOptions } from '../options.js';

interface ScheduleArgs {
  every: string;
  dir: string;
  label?: string;
  prune: boolean;
  'metrics-file'?: string;
  only?: 'service' | 'timer' | 'crontab';
}

/** The CLI the units run: this file's main.js, as installed. */
const CLI_MAIN = fileURLToPath(new URL('../main.js', import.meta.url));

/** Debian's prometheus-node-exporter reads *.prom files here (--collector.textfile.directory). */
export const TEXTFILE_DIR = '/var/lib/prometheus/node-exporter';

/** Why a metrics file will not be written, or undefined. */
function metricsDirProblem(file: string): string | undefined {
  try {
    accessSync(dirname(file), constants.W_OK);
    return undefined;
  } catch (err) {
    return `${dirname(file)} cannot be written (${(err as NodeJS.ErrnoException).code}): install prometheus-node-exporter or give --metrics-file in its textfile directory`;
  }
}

const printCmd = toYargs<ScheduleArgs>({
  command: 'print',
  describe: 'print a systemd service + timer pair (and a crontab line) that run zkops backup on a schedule',
  builder: (y) =>
    y.options({
      every: { type: 'string', demandOption: true, describe: 'daily, hourly, or five cron fields ("30 2 * * *"), translated to OnCalendar=' },
      ...DIR_OPTION,
      label: { type: 'string', describe: 'the backups\' label (default: zk-YYYYMMDD-HHMM each run, pruned and monitored as one series "zk-*")' },
      prune: { type: 'boolean', default: false, describe: "after each READY backup, apply the inventory's retention: policy" },
      'metrics-file': { type: 'string', describe: `the Prometheus text file (default ${TEXTFILE_DIR}/zkops-<cluster>[-<label>].prom)` },
      only: { choices: ['service', 'timer', 'crontab'] as const, describe: 'print only this part, as it goes into its file' },
    }) as never,
  run: async (argv) => {
    const inventory = await loadInventory(requireInventory(argv));
    if (argv.label !== undefined) assertLabel(argv.label);
    if (argv.prune && !inventory.retention) {
      throw new UsageError(`--prune needs a \`retention:\` policy in the inventory ${inventory.file}`, { hint: 'add e.g. `retention: { keepDaily: 7, keepWeekly: 4, keepMonthly: 6 }`' });
    }
    const dir = resolve(argv.dir);
    const suffix = `${inventory.cluster}${argv.label ? `-${argv.label}` : ''}`;
    const metricsFile = resolve(argv['metrics-file'] ?? `${TEXTFILE_DIR}/zkops-${suffix}.prom`);
    const s = buildSchedule({
      every: argv.every,
      node: process.execPath,
      cli: CLI_MAIN,
      inventory: inventory.file,
      dir,
      metricsFile,
      cluster: inventory.cluster,
      label: argv.label,
      prune: argv.prune,
      user: userInfo().username,
    });
    const problem = metricsDirProblem(metricsFile);
    if (problem) say(`warning: the metrics file ${metricsFile} will not be written: ${problem}`);
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) say(`warning: the catalog ${dir} does not exist yet: create it (install -d -m 700 ${dir}); the crontab line's lock file is in it`);
    if (argv.json) return { json: { name: s.name, every: argv.every, onCalendar: s.onCalendar, cron: s.cron, service: { file: `/etc/systemd/system/${s.name}.service`, text: s.service }, timer: { file: `/etc/systemd/system/${s.name}.timer`, text: s.timer }, crontab: s.crontab, lockFile: s.lockFile, metricsFile } };
    if (argv.only) {
      process.stdout.write(argv.only === 'service' ? s.service : argv.only === 'timer' ? s.timer : `${s.crontab}\n`);
      return;
    }
    process.stdout.write(
      [
        `# /etc/systemd/system/${s.name}.service`,
        s.service,
        `# /etc/systemd/system/${s.name}.timer`,
        s.timer,
        `# then: systemctl daemon-reload && systemctl enable --now ${s.name}.timer`,
        `# (systemctl list-timers ${s.name}.timer: the next run; journalctl -u ${s.name}: the runs)`,
        '#',
        `# or, without systemd: this line in the crontab of ${userInfo().username} (crontab -e)`,
        s.crontab,
        '',
      ].join('\n'),
    );
  },
});

export const scheduleCommand: CommandModule<GlobalOptions, ScheduleArgs> = {
  command: 'schedule <command>',
  describe: 'print the units (systemd timer, or a crontab line) that run zkops backup on a schedule',
  builder: (y: Argv<GlobalOptions>) => y.command(printCmd as never).demandCommand(1, 'which schedule command? print') as never,
  handler: () => undefined,
};
