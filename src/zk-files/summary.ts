// What `inspect` shows of a tree: totals, and the subtrees that hold the most (on DC/OS,
// /marathon, /mesos, /dcos …), so a backup that suddenly weighs more says where.

import { subtreeOf } from './diff.js';
import { ownerKind, type ZkTree } from './tree.js';

export interface SubtreeSummary {
  path: string;
  znodes: number;
  dataBytes: number;
  ephemerals: number;
}

export interface TreeSummary {
  znodes: number;
  dataBytes: number;
  sessions: number;
  ephemerals: number;
  containers: number;
  ttls: number;
  /** The znode with the most data. */
  largest: { path: string; bytes: number } | undefined;
}

/** Totals over every znode of the tree ("/" and /zookeeper included). */
export function summarizeTree(tree: ZkTree): TreeSummary {
  const s: TreeSummary = { znodes: tree.size, dataBytes: tree.dataBytes, sessions: tree.sessions.size, ephemerals: 0, containers: 0, ttls: 0, largest: undefined };
  for (const [path, n] of tree.entries()) {
    const kind = ownerKind(n.stat.ephemeralOwner);
    if (kind === 'ephemeral') s.ephemerals++;
    else if (kind === 'container') s.containers++;
    else if (kind === 'ttl') s.ttls++;
    if (!s.largest || n.data.length > s.largest.bytes) s.largest = { path, bytes: n.data.length };
  }
  return s;
}

/** Every child of `root` with the znodes and data under it (itself included), most data first. */
export function summarizeSubtrees(tree: ZkTree, root = '/'): SubtreeSummary[] {
  const groups = new Map<string, SubtreeSummary>();
  const prefix = root === '/' ? '/' : `${root}/`;
  for (const [path, n] of tree.entries()) {
    if (path === root || !path.startsWith(prefix)) continue;
    const top = subtreeOf(path, root);
    let g = groups.get(top);
    if (!g) groups.set(top, (g = { path: top, znodes: 0, dataBytes: 0, ephemerals: 0 }));
    g.znodes++;
    g.dataBytes += n.data.length;
    if (ownerKind(n.stat.ephemeralOwner) === 'ephemeral') g.ephemerals++;
  }
  return [...groups.values()].sort((a, b) => b.dataBytes - a.dataBytes || b.znodes - a.znodes || (a.path < b.path ? -1 : 1));
}
