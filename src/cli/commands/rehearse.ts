// zkops rehearse ID|FILE [--masters 1|3] [--addr 127.0.60.1] [--heap 512m] [--keep] [--force]
// zkops rehearse --all [--again]
//
// A disaster-recovery rehearsal of one archive: a fresh sandbox (src/sandbox, built here since
// procedures/ may not import it), the production restore into it, the tree it serves read back
// and compared (procedures/rehearse.ts). Results on stdout, progress on stderr.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { SafetyRefusal, UsageError, ZkopsError } from '../../errors.js';
import { rehearse, rehearseAll, type RehearsalReport, type RehearsalSandbox, type SandboxBuilder } from '../../procedures/rehearse.js';
import { down, ensurePrerequisites, masterAddresses, sandboxPids, up } from '../../sandbox/sandbox.js';
import { heapNeeded } from '../../sandbox/seed.js';
import { heapMb } from '../../sandbox/sizes.js';
import { DEFAULT_HEAP_MB } from '../../sandbox/up.js';
import { formatTable } from '../../ui/table.js';
import { forTerminal } from '../../ui/text.js';
import type { ZkCommand } from '../command.js';
import { realDeps } from '../deps.js';
import { DIR_OPTION, say, type GlobalOptions } from '../options.js';

/**
 * Where a rehearsal sandbox lives unless --addr says otherwise: a range no other default uses
 * (`sandbox up` 127.0.50.1, the demo 127.0.40.1, the benches 127.0.7x, the fixtures 127.0.9x).
 */
export const REHEARSAL_BASE_IP = '127.0.60.1';

interface RehearseArgs {
  target?: string;
  all: boolean;
  again: boolean;
  dir: string;
  masters: number;
  addr: string;
  heap?: string;
  keep: boolean;
  force: boolean;
}

const MiB = 1024 * 1024;

/**
 * The heap for an archive's tree when --heap is not given: what `sandbox seed` would ask for
 * that many znodes of that much data, twice (a member syncing holds a second tree) plus 64 MB,
 * in steps of 32 MB, never below the sandbox's default. Read from the replayed tree, not the
 * unpacked bytes: ZooKeeper preallocates its logs, so 100 KB of znodes unpack to 64 MB.
 */
export function heapForTree(tree: { znodes: number; dataBytes: number }): number {
  const each = tree.znodes > 0 ? Math.ceil(tree.dataBytes / tree.znodes) : 0;
  const need = (2 * heapNeeded(tree.znodes, each)) / MiB + 64;
  return Math.max(DEFAULT_HEAP_MB, Math.ceil(need / 32) * 32);
}

/** The practice cluster of a rehearsal: a fresh directory, `sandbox up`, and `down` that removes it. */
function sandboxBuilder(a: RehearseArgs & GlobalOptions): SandboxBuilder {
  const log = a.quiet ? undefined : (line: string) => say(`sandbox: ${line}`);
  return {
    async build({ masters, tree }): Promise<RehearsalSandbox> {
      const heap = a.heap !== undefined ? heapMb(a.heap) : heapForTree(tree);
      const machine = Math.floor(totalmem() / MiB);
      if (heap * masters > machine) {
        throw new SafetyRefusal(`the rehearsal sandbox cannot be built here: ${masters} ZooKeeper members of ${heap} MB heap (for ${tree.znodes} znodes, ${tree.dataBytes} bytes of data) need more than this machine's ${machine} MB`, {
          hint: a.masters > 1 ? 'rehearse with --masters 1, or on a machine with more memory' : 'rehearse on a machine with more memory, or give a smaller --heap',
        });
      }
      try {
        ensurePrerequisites(log ?? (() => undefined));
      } catch (err) {
        const e = err as ZkopsError;
        throw new SafetyRefusal(`the rehearsal sandbox cannot be built here: ${e.message}`, {
          hint: e.hint?.replace('zkops sandbox up', 'zkops rehearse') ?? 'zkops rehearse builds a practice cluster on this machine: it needs root and the Debian packages openssh-server, zookeeper, iproute2, util-linux',
          cause: err,
        });
      }
      const dir = mkdtempSync(join(tmpdir(), 'zkops-rehearse-'));
      log?.(`a ${masters}-master practice cluster on ${a.addr} in ${dir} (ZooKeeper heap ${heap} MB)`);
      let r: Awaited<ReturnType<typeof up>>;
      try {
        r = await up({ masters, dir, baseIp: a.addr, heap: heap, ...(log ? { log } : {}) });
      } catch (err) {
        // `up` stops what it started; its directory goes too
        rmSync(dir, { recursive: true, force: true });
        const message = (err as Error).message;
        const hint = /already in use/.test(message)
          ? 'pick other addresses with --addr, or stop what listens there (a sandbox left up by `rehearse --keep`: zkops sandbox down --dir DIR)'
          : ((err instanceof ZkopsError ? err.hint : undefined) ?? "its masters' logs went with its directory: `zkops sandbox up --dir DIR` by hand keeps them for a look");
        throw new SafetyRefusal(`the rehearsal sandbox could not be built: ${message}`, { hint, cause: err });
      }
      return {
        dir,
        inventory: r.inventory,
        masters: r.state.masters.map((m) => ({ name: m.name, address: m.address })),
        heapMb: r.state.zkHeapMb ?? heap,
        pids: sandboxPids(r.state),
        down: async () => {
          await down(dir);
          // the masters' directories hold the restored ZooKeeper files: secrets, as the archive
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

/** A human line on stdout. */
function out(line: string): void {
  process.stdout.write(`${forTerminal(line)}\n`);
}

/** The three trees in a table, the verdict, and what differs. */
function printReport(r: RehearsalReport): void {
  const sb = r.sandbox;
  out(`rehearsal of ${r.id ?? r.file}${sb ? `: restored into a ${sb.masters.length}-master sandbox on ${sb.masters[0]?.address ?? '?'} (ZooKeeper heap ${sb.heapMb ?? '?'} MB)` : ''}`);
  const row = (tree: string, t: { sha256: string; znodes: number } | null, none: string) => ({ tree, digest: t?.sha256 ?? none, znodes: t ? String(t.znodes) : '-' });
  const rows = [row('archive now', r.archive, 'not read'), ...(r.id !== null ? [row('recorded at backup', r.recorded, 'not recorded (a backup older than the deep verify)')] : []), row('restored sandbox', r.restored, 'never served')];
  process.stdout.write(`${formatTable(rows)}\n`);
  if (r.ok) out(`OK: the restored sandbox serves the archive's tree${r.recorded ? ', the one recorded at backup time' : ''}`);
  else out(`DIFFERENT: ${r.detail ?? 'unknown'}`);
  const d = r.difference;
  if (d) {
    const lines = [...d.removed.map((p) => `- ${p}`), ...d.changed.map((c) => `~ ${c.path} (${c.what.join(', ')})`), ...d.added.map((p) => `+ ${p}`)];
    for (const l of lines.slice(0, 20)) out(`  ${l}`);
    const total = d.counts.removed + d.counts.changed + d.counts.added;
    if (total > Math.min(20, lines.length)) out(`  … ${total - Math.min(20, lines.length)} more (- in the archive, not served; + served, not in the archive)`);
  }
  if (sb?.kept) out(`the rehearsal sandbox is still up in ${sb.dir} (inventory ${sb.inventory}); take it down with: zkops sandbox down --dir ${sb.dir}`);
}

/** One line per backup of --all. */
function printLine(r: RehearsalReport): void {
  if (r.ok) out(`ok      ${r.id ?? r.file}  digest ${r.restored?.sha256 ?? '-'} (${r.restored?.znodes ?? '-'} znodes)`);
  else out(`FAILED  ${r.id ?? r.file}  ${r.detail ?? r.error?.message ?? ''}`);
}

/** The --json body of one rehearsal (the error goes in the document's own `error`). */
function reportJson(r: RehearsalReport): Record<string, unknown> {
  const { error: _error, ...rest } = r;
  return rest;
}

export const rehearseCommand: ZkCommand<RehearseArgs> = {
  command: 'rehearse [target]',
  describe: 'restore a backup into a fresh local sandbox (root), read back the tree it serves and compare it with the archive and with what was recorded at backup time',
  builder: (y) =>
    y
      .positional('target', { type: 'string', describe: 'backup id (see zkops list) or archive path; or --all' })
      .options({
        ...DIR_OPTION,
        all: { type: 'boolean', default: false, describe: 'every READY backup of the catalog not rehearsed yet, one after another' },
        again: { type: 'boolean', default: false, describe: 'with --all: the backups rehearsed already too' },
        masters: { type: 'number', choices: [1, 3], default: 1, describe: 'masters of the rehearsal sandbox' },
        addr: { type: 'string', alias: 'base-ip', default: REHEARSAL_BASE_IP, describe: "address of the rehearsal sandbox's master-1 (loopback; the others follow)" },
        heap: { type: 'string', describe: "ZooKeeper heap per master: 512m, 1g (default: sized for the archive's tree, at least 96m)" },
        keep: { type: 'boolean', default: false, describe: 'leave the sandbox up afterwards for a look (not with --all)' },
        force: { type: 'boolean', default: false, describe: "restore an archive of another ZooKeeper major.minor than the sandbox's (Debian's 3.8), as restore --force" },
      }) as never,
  run: async (argv) => {
    if (argv.all === (argv.target !== undefined)) throw new UsageError(argv.all ? '--all rehearses every backup of the catalog: give no backup with it' : 'give a backup id or an archive file to rehearse, or --all', { hint: 'zkops rehearse ID, or zkops rehearse --all' });
    if (argv.again && !argv.all) throw new UsageError('--again goes with --all (one backup is rehearsed whether it was before or not)');
    if (argv.keep && argv.all) throw new UsageError('--keep leaves one sandbox up: not with --all, whose rehearsals use the same addresses one after another', { hint: 'zkops rehearse ID --keep' });
    // the options checked before anything is read or built (exit 2)
    try {
      masterAddresses(argv.addr, argv.masters);
    } catch (err) {
      throw err instanceof UsageError ? new UsageError(err.message.replace('--base-ip', '--addr'), { ...(err.hint ? { hint: err.hint } : {}) }) : err;
    }
    if (argv.heap !== undefined) heapMb(argv.heap);
    const deps = realDeps(argv, { dir: argv.dir, yes: true });
    const builder = sandboxBuilder(argv);
    const common = { dir: argv.dir, masters: argv.masters, force: argv.force };
    if (argv.all) {
      const r = await rehearseAll({ ...common, again: argv.again, onEach: argv.json ? undefined : printLine }, deps, builder);
      if (!argv.json && r.rehearsals.length === 0 && !r.error) out(`nothing to rehearse in ${argv.dir}${r.skipped.length ? ` (${r.skipped.length} READY backups rehearsed already; --again rehearses them too)` : ''}`);
      return { json: { rehearsals: r.rehearsals.map(reportJson), skipped: r.skipped }, error: r.error };
    }
    const r = await rehearse({ ...common, target: argv.target as string, keep: argv.keep }, deps, builder);
    if (!argv.json) printReport(r);
    return { json: reportJson(r), error: r.error };
  },
};
