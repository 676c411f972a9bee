// zkops check -i INV: what works on every master, before an operator relies on it.

import type { CommandModule } from 'yargs';
import { loadInventory } from '../../inventory/load.js';
import { createSshTransport } from '../../transport/index.js';
import { checkCluster, formatCheckTable } from '../../procedures/check.js';
import { OperationFailed } from '../../errors.js';
import { forTerminal } from '../../ui/text.js';
import { printJson, requireInventory, say, type GlobalOptions } from '../options.js';

export const checkCommand: CommandModule<GlobalOptions, GlobalOptions> = {
  command: 'check',
  describe: 'connect to every master: host key, login, sudo, dcos-zk, free disk, Exhibitor health',
  handler: async (argv) => {
    const inv = await loadInventory(requireInventory(argv));
    const reports = await checkCluster(inv, createSshTransport(), argv.concurrency, (m) => say(`warning: ${m}`));
    const failed = reports.flatMap((r) => r.checks.filter((c) => c.status === 'fail').map((c) => `${r.master}: ${c.name}`));
    if (argv.json) printJson({ ok: failed.length === 0, masters: reports });
    else process.stdout.write(`${forTerminal(formatCheckTable(reports))}\n`);
    if (failed.length > 0) {
      throw Object.assign(new OperationFailed(`${failed.length} check(s) failed: ${failed.join(', ')}`, { hint: 'fix them before a backup or restore' }), {
        jsonPrinted: argv.json,
      });
    }
  },
};
