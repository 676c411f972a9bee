// zkops sandbox up|down|status|seed|digest|wipe|fault: the practice cluster of SPEC section 6.

import type { Argv, CommandModule } from 'yargs';
import { OperationFailed, UsageError } from '../../errors.js';
import { DEFAULT_BASE_IP, DEFAULT_DIR, down, fault, FAULT_KINDS, memoryOf, requireRunning, seedSandbox, status, up, zkHosts, type MasterStatus } from '../../sandbox/sandbox.js';
import { digest, scribble, wipe, withZk } from '../../sandbox/znodes.js';
import { say, type GlobalOptions } from '../options.js';
import { formatTable } from '../../ui/table.js';
import { toYargs, type Outcome } from '../command.js';
import { durationProblem, parseDuration } from '../../util/duration.js';

interface SandboxArgs extends GlobalOptions {
  dir: string;
}

const mb = (bytes: number): string => `${Math.round(bytes / 1024 / 1024)} MB`;
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

function sub<T extends SandboxArgs>(command: string, describe: string, builder: (y: Argv<SandboxArgs>) => Argv<T>, run: (a: T) => Promise<Outcome | void>): CommandModule<GlobalOptions, T & GlobalOptions> {
  return toYargs<T>({ command, describe, builder: builder as never, run: (a) => run(a as unknown as T) });
}

const upCmd = sub(
  'up',
  'start N masters (sshd, ZooKeeper, status endpoint, backup service on :8443) on loopback and write DIR/inventory.yaml',
  (y) =>
    y.options({
      masters: { type: 'number', default: 3, describe: 'how many masters: 1, 3, 5 or 7' },
      'base-ip': { type: 'string', default: DEFAULT_BASE_IP, describe: 'address of master-1; the others follow' },
      'ssh-port': { type: 'number', default: 22, describe: "the masters' sshd port" },
      heap: { type: 'string', alias: 'zk-heap-mb', default: '96m', describe: 'ZooKeeper heap per master: 512m, 1g, or a number of MB (--zk-heap-mb is the same); ZooKeeper holds all its data in memory, and seed refuses what would not fit' },
      init: {
        choices: ['plain', 'systemd'] as const,
        default: 'plain' as const,
        describe: 'what runs each master: plain (shell scripts behind a fake systemctl) or systemd (real systemd as pid 1 of the master, so zkops jobs take the systemd-run path)',
      },
      'snap-count': { type: 'number', describe: "ZooKeeper's snapCount on every master (default ZooKeeper's 100000): with a small one (20-100) each member rolls to a new log and takes a snapshot every snapCount/2 to snapCount transactions" },
      'service-backup-duration': { type: 'string', describe: "how long a backup or a restore of each master's backup service stand-in (https on :8443, DC/OS's documented API) stays in progress: 500ms, 2s (default 1500ms)" },
    }),
  async (a) => {
    const serviceBackupDurationMs = serviceDuration(a['service-backup-duration']);
    const r = await up({
      masters: a.masters,
      dir: a.dir,
      baseIp: a['base-ip'],
      sshPort: a['ssh-port'],
      heap: a.heap,
      init: a.init,
      ...(a['snap-count'] === undefined ? {} : { snapCount: a['snap-count'] }),
      ...(serviceBackupDurationMs === undefined ? {} : { serviceBackupDurationMs }),
      log: a.json ? undefined : say,
    });
    if (a.json) {
      return { json: { dir: r.state.dir, init: r.state.init ?? 'plain', heapMb: r.state.zkHeapMb ?? null, snapCount: r.state.snapCount ?? null, serviceBackupDurationMs: r.state.serviceBackupDurationMs ?? null, inventory: r.inventory, alreadyRunning: r.alreadyRunning, healthyAfterMs: r.healthyAfterMs, rssBytes: r.rssBytes, masters: r.state.masters.map((m) => ({ name: m.name, address: m.address })) }, raw: true };
    }
    if (r.alreadyRunning) {
      say(`inventory: ${r.inventory}`);
      return;
    }
    say(`sandbox up: ${r.state.masters.length} masters healthy (all serving, one leader) after ${secs(r.healthyAfterMs)}; memory ${mb(r.rssBytes)} RSS`);
    say(`inventory: ${r.inventory}`);
    say(`try: zkops status -i ${r.inventory}`);
  },
);

/** The status table's cell of a master's backup service stand-in. */
function backupServiceCell(s: MasterStatus['backupService']): string {
  const pid = s.pid === null ? 'no recorded process' : `pid ${s.pid}`;
  return `${s.listening ? `:${s.port}` : 'refused'} (${pid})`;
}

/** `--service-backup-duration` as milliseconds (undefined when not given). */
function serviceDuration(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const problem = durationProblem(text);
  if (problem !== undefined) throw new UsageError(`--service-backup-duration ${problem}`);
  return parseDuration(text);
}

const downCmd = sub(
  'down',
  'stop every sandbox process by pid (their mount namespaces go with them)',
  (y) => y,
  async (a) => {
    const r = await down(a.dir);
    if (a.json) return { json: r, raw: true };
    say(r.wasRunning ? `sandbox down: ${r.stopped} processes stopped` : `no sandbox in ${a.dir}`);
  },
);

const statusCmd = sub(
  'status',
  "each master's sshd, unit, ZooKeeper mode, status endpoint and backup service",
  (y) => y,
  async (a) => {
    const s = await status(a.dir);
    if (!s) return { json: { running: false }, raw: true, error: new OperationFailed(`no sandbox is running in ${a.dir}`, { hint: 'zkops sandbox up' }) };
    const rss = memoryOf(s.state);
    if (a.json) return { json: { running: true, dir: s.state.dir, healthy: s.health?.healthy ?? false, rssBytes: rss, masters: s.masters }, raw: true };
    process.stdout.write(`${formatTable(s.masters.map((m) => ({ master: m.name, address: m.address, sshd: m.sshd, unit: m.unit, zookeeper: m.zookeeper, zxid: m.zxid ?? '', endpoint: m.endpoint, 'backup service': backupServiceCell(m.backupService) })))}\n`);
    say(s.health?.healthy ? `healthy: all serving, one leader; memory ${mb(rss)} RSS` : `not healthy: ${s.health?.reason ?? 'no status endpoint answers'}; memory ${mb(rss)} RSS`);
  },
);

const seedCmd = sub(
  'seed',
  'write a known tree of znodes under /zkops-sandbox (replacing it)',
  (y) =>
    y.options({
      znodes: { type: 'number', default: 100, describe: 'how many leaf znodes' },
      size: { type: 'string', describe: 'bytes of data in each leaf: 1024, 4k, 512k (at most 1 MiB less 1 KiB, jute.maxbuffer); default a short line' },
    }),
  async (a) => {
    const d = await seedSandbox(a.dir, { znodes: a.znodes, ...(a.size !== undefined ? { size: a.size } : {}) });
    if (a.json) return { json: d, raw: true };
    process.stdout.write(`seeded ${d.znodes} znodes (${a.znodes} leaves, ${d.bytes} bytes of data); digest ${d.sha256}\n`);
  },
);

const digestCmd = sub(
  'digest',
  'sha256 over every znode path and data under /zkops-sandbox',
  (y) => y,
  async (a) => {
    const d = await withZk(zkHosts(requireRunning(a.dir)), 20_000, (c) => digest(c));
    if (a.json) return { json: d, raw: true };
    process.stdout.write(`${d.sha256} ${d.znodes} znodes\n`);
  },
);

const wipeCmd = sub(
  'wipe',
  'delete the /zkops-sandbox tree (or, with --change, alter one znode)',
  (y) => y.options({ change: { type: 'boolean', default: false, describe: 'change one znode instead of deleting the tree' } }),
  async (a) => {
    const hosts = zkHosts(requireRunning(a.dir));
    if (a.change) {
      await withZk(hosts, 20_000, (c) => scribble(c));
      say('changed one znode');
      return;
    }
    const n = await withZk(hosts, 20_000, (c) => wipe(c));
    if (a.json) return { json: { deleted: n }, raw: true };
    say(`deleted ${n} znodes`);
  },
);

const faultCmd = sub(
  'fault <master> <kind> [arg]',
  `inject a fault on one master: ${Object.keys(FAULT_KINDS).join(', ')}`,
  (y) =>
    y
      .positional('master', { type: 'string', demandOption: true, describe: 'master-N, its address or N' })
      .positional('kind', { type: 'string', demandOption: true, choices: Object.keys(FAULT_KINDS), describe: Object.entries(FAULT_KINDS).map(([k, v]) => `${k}: ${v}`).join('; ') })
      .positional('arg', { type: 'string', describe: 'seconds, size, record number or reason, per kind' }) as never,
  async (a: SandboxArgs & { master: string; kind: string; arg?: string }) => {
    const msg = await fault(a.dir, a.master, a.kind, a.arg);
    if (a.json) return { json: { done: msg }, raw: true };
    say(msg);
  },
);

export const sandboxCommand: CommandModule<GlobalOptions, SandboxArgs> = {
  command: 'sandbox <command>',
  describe: 'a practice cluster on this machine (root): up, down, status, seed, digest, wipe, fault',
  builder: (y) =>
    y
      .option('dir', { type: 'string', default: process.env.ZKOPS_SANDBOX_DIR ?? DEFAULT_DIR, describe: 'sandbox directory (state, keys, inventory.yaml)' })
      .command(upCmd as never)
      .command(downCmd as never)
      .command(statusCmd as never)
      .command(seedCmd as never)
      .command(digestCmd as never)
      .command(wipeCmd as never)
      .command(faultCmd as never)
      .demandCommand(1, 'which sandbox command? up, down, status, seed, digest, wipe or fault') as never,
  handler: () => undefined,
};
