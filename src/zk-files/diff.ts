// What changed between two trees (two backups, or a backup and its replayed logs): znodes
// created, deleted and changed, with the counts per top-level subtree so a large diff reads as
// "/marathon: 3 changed" before the paths. Pure; the scope is digest.ts's.

import { inScope } from './digest.js';
import type { ZkTree, ZNode } from './tree.js';
import type { Acl } from './types.js';

/** data: the bytes; acl: the ACL list; version: data or ACL version; recreated: another czxid; owner: ephemeral owner. */
export type ChangeKind = 'data' | 'acl' | 'version' | 'recreated' | 'owner';

export interface ZnodeChange {
  path: string;
  what: ChangeKind[];
}

export interface SubtreeDiff {
  subtree: string;
  created: number;
  deleted: number;
  changed: number;
}

export interface TreeDiff {
  same: boolean;
  created: string[];
  deleted: string[];
  changed: ZnodeChange[];
  /** Counts per subtree (the first path component under the root), largest change first. */
  bySubtree: SubtreeDiff[];
}

export interface DiffOptions {
  /**
   * Compare digest ACL ids by user only: a tree read live by a client without ADMIN on a
   * znode has its digest hashes hidden as "user:x" (ZooKeeper 3.4.14 and 3.5.5+, CVE-2019-0201),
   * which a snapshot's full "user:hash" would otherwise always differ from.
   */
  digestUsersOnly?: boolean;
}

const aclText = (acl: readonly Acl[] | undefined, usersOnly: boolean): string =>
  acl ? acl.map((a) => `${a.scheme}:${usersOnly && a.scheme === 'digest' ? a.id.slice(0, a.id.indexOf(':') >>> 0) : a.id}:${a.perms}`).join(',') : '?';

function changes(a: ZNode, b: ZNode, opts: DiffOptions): ChangeKind[] {
  const what: ChangeKind[] = [];
  if (!a.data.equals(b.data)) what.push('data');
  if (aclText(a.acl, opts.digestUsersOnly === true) !== aclText(b.acl, opts.digestUsersOnly === true)) what.push('acl');
  if (a.stat.version !== b.stat.version || a.stat.aversion !== b.stat.aversion) what.push('version');
  if (a.stat.czxid !== b.stat.czxid) what.push('recreated');
  if (a.stat.ephemeralOwner !== b.stat.ephemeralOwner) what.push('owner');
  return what;
}

/** The subtree a path counts under: "/marathon" for "/marathon/apps/x" (root "/"). */
export function subtreeOf(path: string, root = '/'): string {
  const base = root === '/' ? '' : root;
  if (path === root) return root;
  const next = path.indexOf('/', base.length + 1);
  return next === -1 ? path : path.slice(0, next);
}

/** The differences from `a` (before) to `b` (after) under `root` (default: everything but /zookeeper). */
export function diffTrees(a: ZkTree, b: ZkTree, root = '/', opts: DiffOptions = {}): TreeDiff {
  const created: string[] = [];
  const deleted: string[] = [];
  const changed: ZnodeChange[] = [];
  const groups = new Map<string, SubtreeDiff>();
  const count = (path: string, key: 'created' | 'deleted' | 'changed'): void => {
    const subtree = subtreeOf(path, root);
    let g = groups.get(subtree);
    if (!g) groups.set(subtree, (g = { subtree, created: 0, deleted: 0, changed: 0 }));
    g[key]++;
  };
  for (const [path, before] of a.entries()) {
    if (!inScope(path, root)) continue;
    const after = b.get(path);
    if (!after) {
      deleted.push(path);
      count(path, 'deleted');
      continue;
    }
    const what = changes(before, after, opts);
    if (what.length > 0) {
      changed.push({ path, what });
      count(path, 'changed');
    }
  }
  for (const [path] of b.entries()) {
    if (inScope(path, root) && !a.get(path)) {
      created.push(path);
      count(path, 'created');
    }
  }
  created.sort();
  deleted.sort();
  changed.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  const total = (g: SubtreeDiff): number => g.created + g.deleted + g.changed;
  const bySubtree = [...groups.values()].sort((x, y) => total(y) - total(x) || (x.subtree < y.subtree ? -1 : 1));
  return { same: created.length + deleted.length + changed.length === 0, created, deleted, changed, bySubtree };
}
