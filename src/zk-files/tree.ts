// The data tree of a ZooKeeper server as DataTree.java keeps it: znodes by path, the sessions
// with their timeouts, each session's ephemerals, and (3.6+) the digest kept up to date with
// every change. The mutations are DataTree's, with the results it returns as error codes; the
// replay (apply.ts) calls them as processTxn does. Root is stored under "/" (snapshots write it
// as "" and DataTree aliases the two).

import { ErrCode, type Acl, type ZStat } from './types.js';
import { znodeDigest } from './zk-digest.js';

export interface ZNode {
  data: Buffer;
  /** undefined: the snapshot names an ACL its ACL cache does not hold (a node created while the snapshot was written). */
  acl: readonly Acl[] | undefined;
  stat: ZStat;
  /** How many children it has (DataNode's children set, counted). */
  children: number;
  /** This node's term of ZooKeeper's digest (kept once the tree's digest has been asked for). */
  digest: number;
}

const CONTAINER_OWNER = -(2n ** 63n);

/** What ephemeralOwner makes a znode (EphemeralType.get with extended types on). */
export function ownerKind(owner: bigint): 'persistent' | 'ephemeral' | 'container' | 'ttl' {
  if (owner === 0n) return 'persistent';
  if (owner === CONTAINER_OWNER) return 'container';
  return BigInt.asUintN(64, owner) >> 40n === 0xff0000n ? 'ttl' : 'ephemeral';
}

/** The cversion a client sees: persisted cversion counts creations (DataNode.copyStat). */
export const clientCversion = (n: ZNode): number => n.stat.cversion * 2 - n.children;

const parentOf = (path: string): string | undefined => {
  const slash = path.lastIndexOf('/');
  if (slash < 0) return undefined;
  return slash === 0 ? '/' : path.slice(0, slash);
};

const emptyStat = (): ZStat => ({ czxid: 0n, mzxid: 0n, ctime: 0, mtime: 0, version: 0, cversion: 0, aversion: 0, ephemeralOwner: 0n, pzxid: 0n });

export class ZkTree {
  private readonly nodes = new Map<string, ZNode>();
  /** Session id → timeout (ms). */
  readonly sessions = new Map<bigint, number>();
  private readonly ephemerals = new Map<bigint, Set<string>>();
  private readonly aclLists = new Map<string, readonly Acl[]>();
  private readonly aclSeen = new WeakMap<readonly Acl[], readonly Acl[]>();
  /** ZooKeeper's digest, kept up to date from the first time it is asked for (3.4 files have none to compare). */
  private sum: bigint | undefined;
  /** Bytes of data over all znodes. */
  dataBytes = 0;

  /** The tree a server starts from without a snapshot: /, /zookeeper, /zookeeper/quota, world:anyone (3.4's DataTree()). */
  static initial(): ZkTree {
    const t = new ZkTree();
    const open = [{ perms: 31, scheme: 'world', id: 'anyone' }];
    for (const path of ['/', '/zookeeper', '/zookeeper/quota']) t.load(path, Buffer.alloc(0), open, emptyStat());
    return t;
  }

  get size(): number {
    return this.nodes.size;
  }

  get(path: string): ZNode | undefined {
    return this.nodes.get(path === '' ? '/' : path);
  }

  /** Every znode, root first, in no particular order after it. */
  entries(): IterableIterator<[string, ZNode]> {
    return this.nodes.entries();
  }

  /** ZooKeeper's digest of the tree, as the signed long it writes. */
  get zkDigest(): bigint {
    if (this.sum === undefined) {
      let sum = 0n;
      for (const [path, node] of this.nodes) sum += BigInt((node.digest = znodeDigest(path, node.data, node.stat)));
      this.sum = sum;
    }
    return BigInt.asIntN(64, this.sum);
  }

  /** Paths of the ephemerals of each session. */
  ephemeralsBySession(): ReadonlyMap<bigint, ReadonlySet<string>> {
    return this.ephemerals;
  }

  /** One list object per distinct ACL, so nodes share them. */
  internAcl(acl: readonly Acl[]): readonly Acl[] {
    const seen = this.aclSeen.get(acl);
    if (seen) return seen;
    const key = acl.map((a) => `${a.perms}:${a.scheme}:${a.id}`).join('\n');
    let list = this.aclLists.get(key);
    if (!list) this.aclLists.set(key, (list = acl));
    this.aclSeen.set(acl, list);
    return list;
  }

  /** Add a node read from a snapshot (DataTree.deserialize); an error message when its parent is not there. */
  load(path: string, data: Buffer, acl: readonly Acl[] | undefined, stat: ZStat): string | undefined {
    const key = path === '' ? '/' : path;
    if (this.nodes.has(key)) return `${key} appears twice`;
    const parentKey = key === '/' ? undefined : parentOf(key);
    if (key !== '/') {
      const parent = parentKey === undefined ? undefined : this.nodes.get(parentKey);
      if (!parent) return `the parent of ${key} is not in the tree before it`;
      parent.children++;
    }
    this.put(key, { data, acl: acl && this.internAcl(acl), stat, children: 0, digest: 0 });
    return undefined;
  }

  private put(path: string, node: ZNode): void {
    if (this.sum !== undefined) this.sum += BigInt((node.digest = znodeDigest(path, node.data, node.stat)));
    this.dataBytes += node.data.length;
    this.nodes.set(path, node);
    const owner = node.stat.ephemeralOwner;
    if (ownerKind(owner) === 'ephemeral') {
      let set = this.ephemerals.get(owner);
      if (!set) this.ephemerals.set(owner, (set = new Set()));
      set.add(path);
    }
  }

  /** Run a change to a node with its digest term taken out and put back (NodeHashMap.preChange/postChange). */
  private change(path: string, node: ZNode, fn: () => void): void {
    const before = node.digest;
    this.dataBytes -= node.data.length;
    fn();
    this.dataBytes += node.data.length;
    if (this.sum === undefined) return;
    node.digest = znodeDigest(path, node.data, node.stat);
    this.sum += BigInt(node.digest) - BigInt(before);
  }

  /** DataTree.createNode (3.6+ rule: the parent's cversion and pzxid move only forward). */
  createNode(path: string, data: Buffer, acl: readonly Acl[], owner: bigint, parentCVersion: number, zxid: bigint, time: number): number {
    const parentKey = parentOf(path);
    const parent = parentKey === undefined ? undefined : this.nodes.get(parentKey);
    if (!parent || parentKey === undefined) return ErrCode.noNode;
    const existing = this.nodes.get(path);
    if (existing) {
      // A node a fuzzy snapshot holds with an ACL its cache missed gets the create's ACL
      // (ZooKeeper's ACL cache hands out the same key again on replay; newer DataTree sets it).
      existing.acl ??= this.internAcl(acl);
      return ErrCode.nodeExists;
    }
    this.change(parentKey, parent, () => {
      const cversion = parentCVersion === -1 ? parent.stat.cversion + 1 : parentCVersion;
      if (cversion > parent.stat.cversion) {
        parent.stat.cversion = cversion;
        parent.stat.pzxid = zxid;
      }
      parent.children++;
    });
    const stat: ZStat = { czxid: zxid, mzxid: zxid, ctime: time, mtime: time, version: 0, cversion: 0, aversion: 0, ephemeralOwner: owner, pzxid: zxid };
    this.put(path, { data, acl: this.internAcl(acl), stat, children: 0, digest: 0 });
    return ErrCode.ok;
  }

  /** DataTree.deleteNode (3.6+: the parent's pzxid moves forward even when the child is already gone). */
  deleteNode(path: string, zxid: bigint): number {
    const parentKey = parentOf(path);
    const parent = parentKey === undefined ? undefined : this.nodes.get(parentKey);
    if (!parent || parentKey === undefined || path === '/') return ErrCode.noNode;
    const node = this.nodes.get(path);
    this.change(parentKey, parent, () => {
      if (node) parent.children--;
      if (zxid > parent.stat.pzxid) parent.stat.pzxid = zxid;
    });
    if (!node) return ErrCode.noNode;
    this.nodes.delete(path);
    if (this.sum !== undefined) this.sum -= BigInt(node.digest);
    this.dataBytes -= node.data.length;
    this.ephemerals.get(node.stat.ephemeralOwner)?.delete(path);
    return ErrCode.ok;
  }

  /** DataTree.setData. */
  setData(path: string, data: Buffer, version: number, zxid: bigint, time: number): number {
    const node = this.get(path);
    if (!node) return ErrCode.noNode;
    this.change(path === '' ? '/' : path, node, () => {
      node.data = data;
      node.stat.mtime = time;
      node.stat.mzxid = zxid;
      node.stat.version = version;
    });
    return ErrCode.ok;
  }

  /** DataTree.setACL. */
  setACL(path: string, acl: readonly Acl[], version: number): number {
    const node = this.get(path);
    if (!node) return ErrCode.noNode;
    this.change(path === '' ? '/' : path, node, () => {
      node.stat.aversion = version;
      node.acl = this.internAcl(acl);
    });
    return ErrCode.ok;
  }

  /** DataTree.setCversionPzxid: after a create that found its node already there (a fuzzy snapshot). */
  setCversionPzxid(path: string, cversion: number, zxid: bigint): number {
    const key = path.endsWith('/') && path.length > 1 ? path.slice(0, -1) : path;
    const node = this.get(key);
    if (!node) return ErrCode.noNode;
    const next = cversion === -1 ? node.stat.cversion + 1 : cversion;
    if (next > node.stat.cversion) {
      this.change(key === '' ? '/' : key, node, () => {
        node.stat.cversion = next;
        node.stat.pzxid = zxid;
      });
    }
    return ErrCode.ok;
  }

  /** DataTree.killSession: the paths the txn names (3.6+), then the session's other ephemerals. */
  killSession(session: bigint, zxid: bigint, paths: readonly string[] | undefined): void {
    const local = this.ephemerals.get(session);
    this.ephemerals.delete(session);
    for (const p of paths ?? []) {
      this.deleteNode(p, zxid);
      local?.delete(p);
    }
    for (const p of local ?? []) this.deleteNode(p, zxid);
  }
}
