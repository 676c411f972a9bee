// The digest zkops compares trees by: sha256 over every znode of a subtree, sorted by path with
// JavaScript's default sort, each hashed as path, NUL, data, NUL. The same bytes as
// src/sandbox/znodes.ts digest() reads from a live ensemble, so a backup's tree and a running
// cluster's can be compared; digestEntries is the part the sandbox can share.

import { createHash } from 'node:crypto';
import type { ZkTree } from './tree.js';

export interface TreeDigest {
  /** Hex sha256, or "absent" when no znode is in scope (as the sandbox reports a missing tree). */
  sha256: string;
  znodes: number;
  bytes: number;
}

/** sha256 over [path, data] pairs in any order: sorted by path, each path "\0" data "\0". */
export function digestEntries(entries: Iterable<readonly [string, Buffer]>): TreeDigest {
  const data = new Map<string, Buffer>(entries);
  if (data.size === 0) return { sha256: 'absent', znodes: 0, bytes: 0 };
  const h = createHash('sha256');
  let bytes = 0;
  for (const path of [...data.keys()].sort()) {
    const d = data.get(path) as Buffer;
    h.update(path).update('\0').update(d).update('\0');
    bytes += d.length;
  }
  return { sha256: h.digest('hex'), znodes: data.size, bytes };
}

/**
 * Is `path` in the scope of `root`: for "/", every znode but "/" itself and /zookeeper with
 * its children (ZooKeeper's own); otherwise `root` and everything under it.
 */
export function inScope(path: string, root = '/'): boolean {
  if (root === '/') return path !== '/' && path !== '/zookeeper' && !path.startsWith('/zookeeper/');
  return path === root || path.startsWith(`${root}/`);
}

/** The digest of the znodes of `tree` in the scope of `root` (see inScope). */
export function treeDigest(tree: ZkTree, root = '/'): TreeDigest {
  const scoped = function* (): Generator<[string, Buffer]> {
    for (const [path, node] of tree.entries()) if (inScope(path, root)) yield [path, node.data];
  };
  return digestEntries(scoped());
}
