// A known tree of znodes for rehearsals and tests: seed it, digest it, wipe it. Talks to the
// ensemble with node-zookeeper-client (pure JavaScript, the maintained ZooKeeper client on npm
// that needs no native build; the Debian package's zkCli.sh would mean a JVM per command and
// parsing its console output). Requests are pipelined on the one connection (ZooKeeper answers
// a session's requests in order) with a bounded number in flight, so seeding 500 MB takes as
// long as ZooKeeper needs to log it, and neither side holds more than a few MB of requests.

import { createCipheriv, createHash } from 'node:crypto';
import zookeeper, { type Client, type Stat } from 'node-zookeeper-client';
import { pipeline } from '../util/pipeline.js';
import { OperationFailed } from '../errors.js';
import { digestEntries } from '../zk-files/index.js';

/** Every znode of the tree lives under this path. */
export const TREE_ROOT = '/zkops-sandbox';
const GROUP_SIZE = 100;
/** Reads in flight while walking the tree (answers of up to 1 MB each wait in ZooKeeper's heap). */
const READS_IN_FLIGHT = 32;
/** A pipeline that sees no answer for this long fails. */
const STALL_MS = 30_000;
const STALL_HINT = "a member may have run out of heap: see the masters' opt/zkops-sandbox/log/zookeeper.log, and zkops sandbox up --heap";
/** Creates in flight: as many as fit in this many bytes of data, from 4 to 256. */
const WRITE_BYTES_IN_FLIGHT = 4 * 1024 * 1024;

export interface Digest {
  /** sha256 over every path and its data, in sorted order; "absent" when there is no tree. */
  sha256: string;
  znodes: number;
  /** The data of every znode of the tree, added up. */
  bytes: number;
}

type ZkError = Error | zookeeper.Exception | null;

function call<T>(fn: (cb: (err: ZkError, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err instanceof Error ? err : new Error(err.toString(), { cause: err })) : resolve(value))));
}

/**
 * Connect to any member of `hosts` (host:port list); fails after timeoutMs. Losing the connection
 * once connected fails `fn` at once: the client would wait for the member to come back, and a
 * member that ran out of heap under the data does not.
 */
export async function withZk<T>(hosts: readonly string[], timeoutMs: number, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = zookeeper.createClient(hosts.join(','), { sessionTimeout: 10_000, spinDelay: 200, retries: 2 });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new OperationFailed(`no ZooKeeper answered at ${hosts.join(', ')} within ${timeoutMs} ms`, { hint: 'is the sandbox up and healthy? zkops sandbox status' })), timeoutMs);
      client.once('connected', () => {
        clearTimeout(timer);
        resolve();
      });
      client.connect();
    });
    const lost = new Promise<never>((_, reject) =>
      client.once('disconnected', () =>
        reject(new OperationFailed(`lost the connection to ZooKeeper (${hosts.join(', ')}) in the middle of the work`, { hint: STALL_HINT })),
      ),
    );
    lost.catch(() => undefined);
    return await Promise.race([fn(client), lost]);
  } finally {
    client.close();
  }
}

function hasCode(err: unknown, code: number): boolean {
  return typeof err === 'object' && err !== null && 'getCode' in err && (err as { getCode(): number }).getCode() === code;
}

const isNoNode = (err: unknown): boolean => hasCode(err, zookeeper.Exception.NO_NODE);
const isNodeExists = (err: unknown): boolean => hasCode(err, zookeeper.Exception.NODE_EXISTS);

/** The sandbox's stall rule for pipeline(): no answer for STALL_MS. */
const STALL = { ms: STALL_MS, error: (pending: number) => new OperationFailed(`ZooKeeper answered none of ${pending} requests for ${STALL_MS / 1000} s`, { hint: STALL_HINT }) };

/** pipeline() with the sandbox's stall rule. */
const inPipeline = (count: number, inFlight: number, task: (i: number) => Promise<void>): Promise<void> => pipeline(count, inFlight, STALL, task);

const AES_KEY = createHash('sha256').update('zkops sandbox znode data').digest().subarray(0, 16);

/**
 * The data of znode i: deterministic, so two seeds of the same size digest the same. Without
 * `size`, a short line; with it, that line cut or filled up to `size` bytes with pseudo-random
 * bytes (AES-CTR of zeros keyed by i): incompressible, so an archive is as big as the data.
 */
export function znodeData(i: number, size?: number): Buffer {
  const line = Buffer.from(`zkops sandbox znode ${i} ${createHash('sha256').update(String(i)).digest('hex').slice(0, 24)}`);
  if (size === undefined) return line;
  if (size <= line.length) return line.subarray(0, size);
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(i, 0);
  const fill = createCipheriv('aes-128-ctr', AES_KEY, iv).update(Buffer.alloc(size - line.length));
  return Buffer.concat([line, fill]);
}

async function createIfMissing(c: Client, path: string, data: Buffer): Promise<void> {
  try {
    await call<string>((cb) => c.create(path, data, cb));
  } catch (err) {
    if (!isNodeExists(err)) throw err;
    await call((cb) => c.setData(path, data, cb));
  }
}

const groupOf = (i: number): string => `${TREE_ROOT}/g${Math.floor(i / GROUP_SIZE)}`;

/**
 * Write the tree: TREE_ROOT/g<k>/n<i> for i < count, groups of 100; each leaf has
 * znodeData(i, size). Returns the digest (read back from ZooKeeper).
 */
export async function seed(c: Client, count: number, size?: number): Promise<Digest> {
  await wipe(c);
  await createIfMissing(c, TREE_ROOT, Buffer.from(size === undefined ? `seeded ${count}` : `seeded ${count} of ${size} bytes`));
  const groups = Math.ceil(count / GROUP_SIZE);
  await inPipeline(groups, 256, (g) => createIfMissing(c, `${TREE_ROOT}/g${g}`, Buffer.from(`group ${g}`)));
  const inFlight = Math.max(4, Math.min(256, Math.floor(WRITE_BYTES_IN_FLIGHT / Math.max(size ?? 0, 1024))));
  await inPipeline(count, inFlight, (i) => createIfMissing(c, `${groupOf(i)}/n${i}`, znodeData(i, size)));
  return digest(c);
}

/** Every znode under `root` and its data, a level at a time; getChildren only where the stat says there are some. */
async function readTree(c: Client, root: string): Promise<Map<string, Buffer>> {
  const data = new Map<string, Buffer>();
  let level = [root];
  while (level.length > 0) {
    const below: string[] = [];
    await inPipeline(level.length, READS_IN_FLIGHT, async (i) => {
      const path = level[i] as string;
      try {
        const [d, stat] = await call<[Buffer, Stat]>((cb) => c.getData(path, (err, b, st) => cb(err, [b, st])));
        const children = stat.numChildren > 0 ? await call<string[]>((cb) => c.getChildren(path, (err, kids) => cb(err, kids))) : [];
        data.set(path, d ?? Buffer.alloc(0));
        for (const k of children) below.push(`${path}/${k}`);
      } catch (err) {
        if (!isNoNode(err)) throw err;
      }
    });
    level = below;
  }
  return data;
}

/** sha256 over every path and its data under TREE_ROOT, sorted by path: zk-files' digest, so a backup's tree compares with it. */
export async function digest(c: Client): Promise<Digest> {
  return digestEntries(await readTree(c, TREE_ROOT));
}

/**
 * Delete the tree; returns how many znodes went. A level at a time, each znode is removed at
 * once and only one that is not empty is listed (and removed once its children are gone), so
 * a leaf costs one request.
 */
export async function wipe(c: Client): Promise<number> {
  const remove = (path: string): Promise<void> => call<void>((cb) => c.remove(path, -1, (err) => cb(err, undefined)));
  const innerLevels: string[][] = [];
  let removed = 0;
  let candidates = [TREE_ROOT];
  while (candidates.length > 0) {
    const inner: string[] = [];
    await inPipeline(candidates.length, 256, async (i) => {
      const path = candidates[i] as string;
      try {
        await remove(path);
        removed++;
      } catch (err) {
        if (hasCode(err, zookeeper.Exception.NOT_EMPTY)) inner.push(path);
        else if (!isNoNode(err)) throw err;
      }
    });
    if (inner.length > 0) innerLevels.push(inner);
    const below: string[] = [];
    await inPipeline(inner.length, READS_IN_FLIGHT, async (i) => {
      const path = inner[i] as string;
      try {
        for (const k of await call<string[]>((cb) => c.getChildren(path, (err, kids) => cb(err, kids)))) below.push(`${path}/${k}`);
      } catch (err) {
        if (!isNoNode(err)) throw err;
      }
    });
    candidates = below;
  }
  for (const paths of innerLevels.reverse()) {
    await inPipeline(paths.length, 256, async (i) => {
      try {
        await remove(paths[i] as string);
        removed++;
      } catch (err) {
        if (!isNoNode(err)) throw err;
      }
    });
  }
  return removed;
}

/** Change one znode's data (a rehearsal's "something went wrong"). */
export async function scribble(c: Client, i = 0): Promise<void> {
  await createIfMissing(c, `${groupOf(i)}/n${i}`, Buffer.from(`changed at ${new Date().toISOString()}`));
}
