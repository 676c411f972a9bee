// What is inside a backup: zkops inspect ID|FILE [--ls PATH] [--get PATH], and zkops diff A B
// between two backups or A --live against the running cluster. The archive is read as it
// streams (catalog/inspect.ts), never unpacked to disk; only --live connects (read only).

import { existsSync } from 'node:fs';
import { inspectArchive, type Inspection } from '../../catalog/inspect.js';
import { resolveTarget } from '../../catalog/target.js';
import { OperationFailed, UsageError } from '../../errors.js';
import { formatTable } from '../../ui/table.js';
import { forTerminal } from '../../ui/text.js';
import { diffTrees, hex, ownerKind, type TreeDiff, type ZkTree } from '../../zk-files/index.js';
import type { ZkCommand } from '../command.js';
import { loadInventory } from '../../inventory/load.js';
import { readClusterTree } from '../../procedures/live.js';
import { realDeps } from '../deps.js';
import { DIR_OPTION, requireInventory } from '../options.js';

interface InspectArgs {
  dir: string;
  target: string;
  ls?: string;
  get?: string;
  root: string;
}

interface DiffArgs {
  dir: string;
  a: string;
  b?: string;
  live: boolean;
  master?: string;
  root: string;
}

function out(line: string): void {
  process.stdout.write(`${forTerminal(line)}\n`);
}

/** The archive a backup id or a path means, and the sha256 the catalog expects of it. */
export async function archiveOf(target: string, dir: string): Promise<{ file: string; expected: string | undefined }> {
  const t = await resolveTarget(target, dir);
  if (t.kind === 'catalog' && !existsSync(t.file)) throw new OperationFailed(`backup ${target} has no archive (${t.file}); its status is ${t.meta.status}`);
  return { file: t.file, expected: t.kind === 'catalog' ? (t.meta.sha256 ?? undefined) : undefined };
}

/** An archive of the catalog or a file, checked and read; its sha256 checked against the catalog's. */
export async function readTarget(target: string, dir: string, root = '/'): Promise<{ inspection: Inspection; tree: ZkTree | undefined }> {
  const { file, expected } = await archiveOf(target, dir);
  return inspectArchive(file, expected, root);
}

const mb = (n: number) => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KB` : `${n} B`);

/** The human text of an inspection. */
export function printInspection(i: Inspection): void {
  out(`${i.ok ? 'OK' : 'BAD'} ${i.file}`);
  out(`  sha256 ${i.sha256}, ${mb(i.bytes)} (${mb(i.unpackedBytes)} unpacked)`);
  const t = i.tree;
  if (t) {
    out(`  snapshot ${t.snapshot ?? 'none'} (zxid ${t.snapshotZxid}), last zxid ${t.lastZxid}, epoch ${t.epoch}`);
    out(`  ${t.znodes} znodes, ${mb(t.dataBytes)} of data, ${t.sessions} sessions, ${t.ephemerals} ephemerals`);
    out(`  digest ${t.digest.sha256} (${t.digest.znodes} znodes, /zookeeper left out)`);
  }
  if (i.subtrees.length > 0) {
    out('');
    process.stdout.write(`${formatTable(i.subtrees.slice(0, 10).map((s) => ({ subtree: s.path, znodes: String(s.znodes), data: mb(s.dataBytes), ephemerals: String(s.ephemerals) })))}\n`);
  }
  out('');
  process.stdout.write(
    `${formatTable(i.files.map((f) => ({ file: f.name.replace(/^\.\/zookeeper\//, ''), bytes: String(f.bytes), status: f.status, zxids: f.firstZxid ? `${f.firstZxid}${f.lastZxid ? `..${f.lastZxid}` : ''}` : '-', records: f.records === undefined ? '-' : String(f.records) })))}\n`,
  );
  for (const p of i.problems) out(`problem: ${p}`);
}

/** One znode as `--get` shows it: data, stat, ACL. */
function znodeJson(tree: ZkTree, path: string): Record<string, unknown> {
  const n = tree.get(path);
  if (!n) throw new UsageError(`no znode ${path} in the backup`, { hint: 'see `zkops inspect ID --ls /`' });
  const s = n.stat;
  const text = n.data.toString('utf8');
  const printable = Buffer.from(text, 'utf8').equals(n.data) && !/[\u0000-\u0008\u000e-\u001f]/.test(text);
  return {
    path,
    data: printable ? text : null,
    dataBase64: printable ? null : n.data.toString('base64'),
    stat: {
      czxid: hex(s.czxid),
      mzxid: hex(s.mzxid),
      pzxid: hex(s.pzxid),
      ctime: new Date(s.ctime).toISOString(),
      mtime: new Date(s.mtime).toISOString(),
      version: s.version,
      cversion: s.cversion,
      aversion: s.aversion,
      ephemeralOwner: hex(s.ephemeralOwner),
      kind: ownerKind(s.ephemeralOwner),
      dataLength: n.data.length,
      numChildren: n.children,
    },
    acl: n.acl ?? null,
  };
}

/** The children of `path`, sorted, with their sizes. */
function children(tree: ZkTree, path: string): { name: string; znodes: number; data: number }[] {
  if (!tree.get(path)) throw new UsageError(`no znode ${path} in the backup`);
  const prefix = path === '/' ? '/' : `${path}/`;
  const out = new Map<string, { name: string; znodes: number; data: number }>();
  for (const [p, n] of tree.entries()) {
    if (!p.startsWith(prefix) || p === path) continue;
    const name = p.slice(prefix.length).split('/')[0] as string;
    const e = out.get(name) ?? { name, znodes: 0, data: 0 };
    e.znodes++;
    e.data += n.data.length;
    out.set(name, e);
  }
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

export const inspectCommand: ZkCommand<InspectArgs> = {
  command: 'inspect <target>',
  describe: "what a backup holds, read from ZooKeeper's own files: zxids, znodes, data, sessions, subtrees, files, digest",
  builder: (y) =>
    y
      .positional('target', { type: 'string', demandOption: true, describe: 'backup id or archive path' })
      .options({
        ...DIR_OPTION,
        ls: { type: 'string', describe: 'list the children of this znode (with the znodes and data under each)' },
        get: { type: 'string', describe: 'print one znode: data, stat, ACL' },
        root: { type: 'string', default: '/', describe: 'the subtree the digest and the subtree table cover' },
      }) as never,
  run: async (argv) => {
    const { inspection, tree } = await readTarget(argv.target, argv.dir, argv.root);
    const error = inspection.ok ? undefined : new OperationFailed(`${inspection.file} does not verify: ${inspection.problems.join('; ')}`);
    if (argv.get !== undefined || argv.ls !== undefined) {
      if (!tree) throw error ?? new OperationFailed(`${inspection.file}: no tree could be read`);
      if (argv.get !== undefined) {
        const z = znodeJson(tree, argv.get);
        if (!argv.json) {
          out(z.data !== null ? String(z.data) : `(binary, base64) ${String(z.dataBase64)}`);
          for (const [k, v] of Object.entries(z.stat as object)) out(`  ${k.padEnd(15)} ${String(v)}`);
          out(`  acl            ${JSON.stringify(z.acl)}`);
        }
        return { json: z, raw: true, error };
      }
      const list = children(tree, argv.ls as string);
      if (!argv.json) process.stdout.write(list.length ? `${formatTable(list.map((c) => ({ name: c.name, znodes: String(c.znodes), data: mb(c.data) })))}\n` : '');
      return { json: { path: argv.ls, children: list }, raw: true, error };
    }
    if (!argv.json) printInspection(inspection);
    return { json: inspection, raw: true, error };
  },
};

/** The human text of a diff: counts per top-level subtree, then the changes (at most `limit`). */
export function printDiff(d: TreeDiff, limit = 50): void {
  if (d.same) return out('no difference');
  out(`${d.created.length} created, ${d.deleted.length} deleted, ${d.changed.length} changed`);
  process.stdout.write(`${formatTable(d.bySubtree.map((s) => ({ subtree: s.subtree, created: String(s.created), deleted: String(s.deleted), changed: String(s.changed) })))}\n`);
  const lines = [...d.created.map((p) => `+ ${p}`), ...d.deleted.map((p) => `- ${p}`), ...d.changed.map((c) => `~ ${c.path} (${c.what.join(', ')})`)];
  for (const l of lines.slice(0, limit)) out(l);
  if (lines.length > limit) out(`… and ${lines.length - limit} more (--json lists them all)`);
}

export const diffCommand: ZkCommand<DiffArgs> = {
  command: 'diff <a> [b]',
  describe: 'the znodes created, deleted and changed from backup A to backup B, or (--live -i INV) from backup A to the running cluster',
  builder: (y) =>
    y
      .positional('a', { type: 'string', demandOption: true, describe: 'backup id or archive path' })
      .positional('b', { type: 'string', describe: 'backup id or archive path (not with --live)' })
      .options({
        ...DIR_OPTION,
        live: { type: 'boolean', default: false, describe: "compare with the running cluster, read through SSH on one master (read only)" },
        master: { type: 'string', describe: 'with --live: the master whose ZooKeeper is read (default: a serving follower)' },
        root: { type: 'string', default: '/', describe: 'compare only this subtree' },
      }) as never,
  run: async (argv) => {
    if (argv.live === (argv.b !== undefined)) throw new UsageError(argv.live ? '--live compares one backup with the cluster: give one backup, not two' : 'give two backups, or one and --live -i INV');
    const a = await readTarget(argv.a, argv.dir);
    if (!a.tree || !a.inspection.ok) throw new OperationFailed(`${argv.a} does not verify: ${a.inspection.problems.join('; ')}`, { hint: `zkops inspect ${argv.a}` });
    let other: ZkTree;
    let b: string;
    if (argv.live) {
      const inventory = await loadInventory(requireInventory(argv));
      const live = await readClusterTree(inventory, realDeps(argv, { dir: argv.dir }), { ...(argv.master ? { master: argv.master } : {}) });
      other = live.tree;
      b = `live (${live.master})`;
    } else {
      const r = await readTarget(argv.b as string, argv.dir);
      if (!r.tree || !r.inspection.ok) throw new OperationFailed(`${argv.b} does not verify: ${r.inspection.problems.join('; ')}`, { hint: `zkops inspect ${argv.b}` });
      other = r.tree;
      b = argv.b as string;
    }
    // a live read hides digest hashes from a client without ADMIN: compare those ids by user
    const d = diffTrees(a.tree, other, argv.root, { digestUsersOnly: argv.live });
    if (!argv.json) printDiff(d);
    return { json: { a: argv.a, b, ...d }, raw: true };
  },
};
