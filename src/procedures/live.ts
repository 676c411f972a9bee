// The running ensemble's tree, for `zkops diff ID --live` and for a restore saying what it will
// change: one master's ZooKeeper read through a local port forwarded over its SSH connection
// (ZooKeeper's client port is seldom open to a bastion; SSH is). The master is the caller's, or
// a serving follower (the highest zxid), as a backup picks it: the leader has the writes to do.

import { ZK_CLIENT_PORT, askSrvr } from '../exhibitor/srvr.js';
import { readLiveTree, type LiveTreeOptions } from '../exhibitor/live-tree.js';
import type { Inventory, Master } from '../inventory/types.js';
import { findMaster } from '../playbook/context.js';
import { SessionPool } from '../transport/session-pool.js';
import { listenForward } from '../transport/local-forward.js';
import type { Session } from '../transport/types.js';
import type { ZkTree } from '../zk-files/index.js';
import { Interrupted, OperationFailed, UsageError, ZkopsError } from '../errors.js';
import type { Deps } from './deps.js';

export interface ClusterTreeOptions {
  /** Read this master (name or host) instead of choosing one. */
  master?: string;
  /** For the connection to ZooKeeper and for each answer once connected (default 30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** ZooKeeper credentials, when the tree's ACLs keep an anonymous client out. */
  auth?: LiveTreeOptions['auth'];
}

export interface ClusterTree {
  /** The master whose ZooKeeper was read. */
  master: string;
  tree: ZkTree;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** srvr modes of a member that answers clients. */
const SERVING = new Set(['leader', 'follower', 'observer', 'standalone']);

/** Read the live tree of the cluster's ZooKeeper; every session, port and client is closed whatever happens. */
export async function readClusterTree(inventory: Inventory, deps: Pick<Deps, 'transport' | 'warn'>, opts: ClusterTreeOptions = {}): Promise<ClusterTree> {
  const pool = new SessionPool(deps.transport, deps.warn);
  try {
    const m = opts.master !== undefined ? namedMaster(inventory, opts.master) : await servingMaster(inventory, pool);
    const session = await pool.session(m);
    const forward = await listenForward(session, m.host, ZK_CLIENT_PORT);
    try {
      const tree = await readLiveTree(`${forward.host}:${forward.port}`, {
        timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        label: `${m.name}'s ZooKeeper (${m.host}:${ZK_CLIENT_PORT} through SSH)`,
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.auth ? { auth: opts.auth } : {}),
      });
      return { master: m.name, tree };
    } catch (err) {
      throw explain(err, inventory, m, session, forward.lastError);
    } finally {
      await forward.close();
    }
  } finally {
    await pool.closeAll();
  }
}

function namedMaster(inventory: Inventory, key: string): Master {
  const m = findMaster(inventory, key);
  if (!m) throw new UsageError(`"${key}" is not a master of ${inventory.file} (masters: ${inventory.masters.map((x) => x.name).join(', ')})`);
  return m;
}

/** A serving follower with the highest zxid; the leader (or a standalone member) only when no follower serves. */
async function servingMaster(inventory: Inventory, pool: SessionPool): Promise<Master> {
  const asked = await Promise.all(
    inventory.masters.map(async (m) => {
      try {
        const srvr = await askSrvr(await pool.session(m), m.host);
        return { m, mode: srvr.mode, zxid: srvr.zxid, why: srvr.mode === undefined ? 'ZooKeeper is not serving' : `mode ${srvr.mode}` };
      } catch (err) {
        return { m, mode: undefined, zxid: undefined, why: (err as Error).message };
      }
    }),
  );
  const serving = asked.filter((a) => a.mode !== undefined && SERVING.has(a.mode));
  if (serving.length === 0) {
    throw new OperationFailed(`no master's ZooKeeper serves, so there is no live tree to read: ${asked.map((a) => `${a.m.name}: ${a.why}`).join('; ')}`, {
      hint: `see \`zkops status -i ${inventory.file}\``,
    });
  }
  const followers = serving.filter((a) => a.mode === 'follower' || a.mode === 'observer');
  const pick = followers.length > 0 ? followers : serving;
  return pick.reduce((best, a) => ((a.zxid ?? -1n) > (best.zxid ?? -1n) ? a : best)).m;
}

/** A failed read told with what the SSH side knows: the connection dropped, or the tunnel refused. */
function explain(err: unknown, inventory: Inventory, m: Master, session: Session, tunnelError: Error | undefined): unknown {
  if (err instanceof Interrupted || !(err instanceof ZkopsError)) return err;
  if (!session.connected) {
    return new OperationFailed(`${err.message}: the SSH connection to ${m.name} dropped`, {
      where: m.name,
      hint: `check ${m.name} and its sshd (\`zkops check -i ${inventory.file}\`), then try again`,
      cause: err,
    });
  }
  if (tunnelError) {
    return new OperationFailed(`${err.message}: ${tunnelError.message}`, {
      where: m.name,
      hint: `check that ZooKeeper runs on ${m.name} (\`zkops status -i ${inventory.file}\`), or read another master`,
      cause: err,
    });
  }
  return err;
}
