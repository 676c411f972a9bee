// `zkops sandbox seed --znodes N [--size BYTES]`: the options checked before any connection
// (a whole count, a size ZooKeeper accepts in one request, data the members' heap can hold),
// then the tree written through the ensemble of the running sandbox.

import { UsageError } from '../errors.js';
import { requireRunning } from './master.js';
import { formatBytes, znodeBytes } from './sizes.js';
import { zkHosts } from './state.js';
import { seed, withZk, znodeData, type Digest } from './znodes.js';

export interface SeedResult extends Digest {
  /** Leaf znodes written (the tree also has TREE_ROOT and one group per 100 leaves). */
  leaves: number;
  /** Bytes of each leaf's data, when --size gave it. */
  size?: number;
}

/**
 * The heap a tree of `count` znodes of `size` bytes takes in a member: ZooKeeper keeps every
 * znode in memory (about 300 bytes of Java objects besides the data), and the last 500 committed
 * proposals (zookeeper.commitLogCount) with their data, which the leader, its queues and the
 * followers hold more than once: 22 znodes of 1 MB ran a 96 MB heap out of memory.
 */
export function heapNeeded(count: number, size: number): number {
  return count * (size + ZNODE_OVERHEAD) + 3 * Math.min(count, COMMIT_LOG_COUNT) * size;
}
const ZNODE_OVERHEAD = 300;
const COMMIT_LOG_COUNT = 500;
/** The share of the heap that heapNeeded may fill: 60 MB in 4 KB znodes ran fine in 96 MB. */
const HEAP_SHARE = 0.7;
const MiB = 1024 * 1024;

/** Check the options, then replace the tree of the sandbox in `dir` with `znodes` leaves. */
export async function seedSandbox(dir: string, o: { znodes: number; size?: string | number }): Promise<SeedResult> {
  if (!Number.isInteger(o.znodes) || o.znodes < 1 || o.znodes > 1_000_000) throw new UsageError(`--znodes ${o.znodes}: a whole number from 1 to 1000000`);
  const size = o.size === undefined ? undefined : znodeBytes(o.size);
  const state = requireRunning(dir);
  const each = size ?? znodeData(o.znodes).length;
  const need = heapNeeded(o.znodes, each);
  if (state.zkHeapMb !== undefined && need > state.zkHeapMb * MiB * HEAP_SHARE) {
    const heap = Math.ceil(need / HEAP_SHARE / MiB / 32) * 32;
    throw new UsageError(`${o.znodes} znodes of ${each} bytes (${formatBytes(o.znodes * each)} of data) need more than the ${state.zkHeapMb} MB heap of this sandbox's ZooKeeper (the members would run out of memory and drop their clients)`, {
      hint: `take the sandbox down and up again with a larger heap: zkops sandbox up --heap ${heap}m`,
    });
  }
  const d = await withZk(zkHosts(state), 20_000, (c) => seed(c, o.znodes, size));
  return { ...d, leaves: o.znodes, ...(size !== undefined ? { size } : {}) };
}
