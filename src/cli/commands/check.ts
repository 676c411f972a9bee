// zkops check -i INV: what works on every master, before an operator relies on it.

import { loadInventory } from '../../inventory/load.js';
import { checkCluster } from '../../procedures/check.js';
import { OperationFailed } from '../../errors.js';
import { formatCheckTable } from '../../ui/table.js';
import type { ZkCommand } from '../command.js';
import { realDeps } from '../deps.js';
import { requireInventory } from '../options.js';

export const checkCommand: ZkCommand<object> = {
  command: 'check',
  describe: 'connect to every master: host key, login, sudo, dcos-zk, free disk, Exhibitor health',
  run: async (argv) => {
    const inv = await loadInventory(requireInventory(argv));
    const reports = await checkCluster(inv, realDeps(argv));
    const failed = reports.flatMap((r) => r.checks.filter((c) => c.status === 'fail').map((c) => `${r.master}: ${c.name}`));
    if (!argv.json) process.stdout.write(`${formatCheckTable(reports)}\n`);
    const error = failed.length > 0 ? new OperationFailed(`${failed.length} check(s) failed: ${failed.join(', ')}`, { hint: 'fix them before a backup or restore' }) : undefined;
    return { json: { masters: reports }, error };
  },
};
