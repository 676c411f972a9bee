// zkops service-backup create --label L | list [PREFIX] | show ID | delete ID | restore ID [--no-wait]
// `dcos backup`'s verbs, labels, ids, states and columns, against one master's backup service
// (Marathon's state): procedures/service-backup.ts opens it (tunnel, CA, token).

import type { Argv, CommandModule } from 'yargs';
import { loadInventory } from '../../inventory/load.js';
import type { Inventory } from '../../inventory/types.js';
import { OperationFailed } from '../../errors.js';
import { assertServiceId, assertServiceLabel, type BackupStatus } from '../../exhibitor/service-backup.js';
import { promptHidden } from '../../transport/auth.js';
import { createServiceBackup, openService, restoreServiceBackup, type OpenService, type ServiceDeps } from '../../procedures/service-backup.js';
import type { Deps } from '../../procedures/deps.js';
import { formatTable } from '../../ui/table.js';
import { toYargs } from '../command.js';
import { realDeps } from '../deps.js';
import { requireInventory, say, type GlobalOptions } from '../options.js';

interface ServiceArgs {
  master?: string;
  label?: string;
  prefix?: string;
  id?: string;
  wait: boolean;
}

const MASTER_OPTION = {
  master: { type: 'string', describe: "the master whose backup service to address (backups live on its disk; default dcos.api.master, else the first)" },
} as const;

/** The service's dependencies: SSH for the tunnel, a prompt for a login's password. */
export function serviceDeps(argv: GlobalOptions): ServiceDeps & Pick<Deps, 'interrupts'> {
  return { ...realDeps(argv), askSecret: promptHidden };
}

/** Open the chosen master's service, run fn, close the tunnel. */
async function withService<T>(argv: GlobalOptions & ServiceArgs, fn: (open: OpenService, inventory: Inventory, deps: ReturnType<typeof serviceDeps>) => Promise<T>): Promise<T> {
  const inventory = await loadInventory(requireInventory(argv));
  const deps = serviceDeps(argv);
  const open = await openService(inventory, deps, argv.master);
  try {
    return await fn(open, inventory, deps);
  } finally {
    await open.close();
  }
}

/**
 * A live line while a backup or restore runs: rewritten every second on a terminal, one line
 * per new state otherwise (a log, a CI job).
 */
export function liveLine(what: string): { onState(status: BackupStatus): void; note(line: string): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  const started = Date.now();
  let state = 'starting';
  const draw = () => process.stderr.write(`\r\x1b[K${what}: ${state} (${Math.round((Date.now() - started) / 1000)}s)`);
  let timer = tty ? setInterval(draw, 1000) : undefined;
  return {
    onState(status) {
      state = status;
      if (tty) draw();
      else say(`${what}: ${status} (${Math.round((Date.now() - started) / 1000)}s)`);
    },
    /** A line of its own above the live one. */
    note(line) {
      if (tty) process.stderr.write('\r\x1b[K');
      say(line);
      if (tty && timer) draw();
    },
    done() {
      if (timer) clearInterval(timer);
      timer = undefined;
      if (tty) process.stderr.write('\r\x1b[K');
    },
  };
}

/** `dcos backup list`'s columns. */
function listRows(list: { id: string; dcos_version: string; status: string; timestamp: string }[]): Record<string, string>[] {
  return list.map((b) => ({ id: b.id, version: b.dcos_version, status: b.status, timestamp: b.timestamp }));
}

const createCmd = toYargs<ServiceArgs>({
  command: 'create',
  describe: "back up Marathon's state with the DC/OS backup service and follow it until READY or ERROR",
  builder: (y) =>
    y.options({
      label: { type: 'string', demandOption: true, describe: 'the backup label, 3-25 of [A-Za-z0-9_.-], the first two not "." or "-"' },
      wait: { type: 'boolean', default: true, describe: 'follow the backup until STATUS_READY or STATUS_ERROR (--no-wait: print the id and return)' },
      ...MASTER_OPTION,
    }) as never,
  run: async (argv) => {
    // refused here, before any request (the login included)
    const label = assertServiceLabel(argv.label ?? '');
    return withService(argv, async (open, inventory, { interrupts }) => {
      if (!argv.wait) {
        const b = await open.client.create(label);
        if (!argv.json) process.stdout.write(`${b.id}\n`);
        return { json: b.raw, raw: true };
      }
      const live = liveLine(`service backup ${label} on ${open.target.master.name}`);
      // a signal ends the wait, not the backup: its id is printed as soon as it exists
      const release = interrupts.onSignal(() => undefined);
      let result: Awaited<ReturnType<typeof createServiceBackup>>;
      try {
        result = await createServiceBackup(open, inventory, label, {
          onCreated: (b) => live.note(`service backup ${b.id} started on ${open.target.master.name}`),
          onState: live.onState,
          signal: interrupts.signal,
        });
      } finally {
        live.done();
        release();
      }
      const { half, metadata } = result;
      if (!argv.json) {
        process.stdout.write(`${half.id}\n`);
        say(`service backup ${half.id} on ${half.master}: ${half.status}${half.error ? `: ${half.error}` : ''}`);
      }
      const error =
        half.status === 'STATUS_READY'
          ? undefined
          : (result.error ?? new OperationFailed(`service backup ${half.id} is ${half.status}`)).with({ hint: `zkops service-backup show ${half.id}${argv.master ? ` --master ${argv.master}` : ''}` });
      return { json: metadata.raw, raw: true, error };
    });
  },
});

const listCmd = toYargs<ServiceArgs>({
  command: 'list [prefix]',
  describe: 'the backups of the chosen master, those whose id starts with PREFIX (a label) when given',
  builder: (y) => y.positional('prefix', { type: 'string', describe: 'an id prefix, such as a label' }).options({ ...MASTER_OPTION }) as never,
  run: async (argv) =>
    withService(argv, async (open) => {
      const list = await open.client.list(argv.prefix);
      if (argv.json) return { json: list.map((b) => b.raw), raw: true };
      if (list.length === 0) say(`no service backups${argv.prefix ? ` starting with ${argv.prefix}` : ''} on ${open.target.master.name}`);
      else process.stdout.write(`${formatTable(listRows(list))}\n`);
      return {};
    }),
});

const showCmd = toYargs<ServiceArgs>({
  command: 'show <id>',
  describe: "one backup's metadata as the service has it (JSON, with restores[])",
  builder: (y) => y.positional('id', { type: 'string', demandOption: true }).options({ ...MASTER_OPTION }) as never,
  run: async (argv) => {
    const id = assertServiceId(argv.id ?? '');
    return withService(argv, async (open) => {
      const b = await open.client.show(id);
      if (!argv.json) process.stdout.write(`${JSON.stringify(b.raw, null, 2)}\n`);
      return { json: b.raw, raw: true };
    });
  },
});

const deleteCmd = toYargs<ServiceArgs>({
  command: 'delete <id>',
  describe: 'delete a backup from the master that holds it',
  builder: (y) => y.positional('id', { type: 'string', demandOption: true }).options({ ...MASTER_OPTION }) as never,
  run: async (argv) => {
    const id = assertServiceId(argv.id ?? '');
    return withService(argv, async (open) => {
      const body = await open.client.delete(id);
      if (!argv.json) say(`deleted service backup ${id} on ${open.target.master.name}`);
      let parsed: unknown = body;
      try {
        parsed = body.trim() === '' ? {} : (JSON.parse(body) as unknown);
      } catch {
        // not JSON: passed through as text
      }
      return { json: parsed, raw: true };
    });
  },
});

const restoreCmd = toYargs<ServiceArgs>({
  command: 'restore <id>',
  describe: "restore Marathon's state from a backup and follow the restore until READY or ERROR (Marathon's leader abdicates; tasks started after the backup are killed)",
  builder: (y) =>
    y.positional('id', { type: 'string', demandOption: true }).options({
      wait: { type: 'boolean', default: true, describe: 'follow the restore until STATUS_READY or STATUS_ERROR (--no-wait: print the restore id and return)' },
      ...MASTER_OPTION,
    }) as never,
  run: async (argv) => {
    const id = assertServiceId(argv.id ?? '');
    return withService(argv, async (open, inventory) => {
      const live = argv.wait ? liveLine(`service restore of ${id} on ${open.target.master.name}`) : undefined;
      let r: Awaited<ReturnType<typeof restoreServiceBackup>>;
      try {
        r = await restoreServiceBackup(open, inventory, id, argv.wait, { ...(live ? { onState: live.onState } : {}) });
      } finally {
        live?.done();
      }
      if (!argv.json) {
        process.stdout.write(`${r.restoreId}\n`);
        say(argv.wait ? `service restore ${r.restoreId} of ${id}: ${r.restore?.status}` : `service restore ${r.restoreId} of ${id} started; follow it with zkops service-backup show ${id}`);
      }
      // the service's answer as it came; with the wait, the restore as last listed
      return { json: { ...r.raw, ...(r.restore ? { status: r.restore.status, component_status: r.restore.component_status } : {}) }, raw: true };
    });
  },
});

export const serviceBackupCommand: CommandModule<GlobalOptions, ServiceArgs> = {
  command: 'service-backup <command>',
  describe: "the DC/OS Enterprise backup service (Marathon's state, as `dcos backup`): create, list, show, delete, restore",
  builder: (y: Argv<GlobalOptions>) =>
    y
      .command(createCmd as never)
      .command(listCmd as never)
      .command(showCmd as never)
      .command(deleteCmd as never)
      .command(restoreCmd as never)
      .demandCommand(1, 'which service-backup command? create, list, show, delete, restore') as never,
  handler: () => undefined,
};
