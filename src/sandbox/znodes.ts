// A known tree of znodes for rehearsals and tests: seed it, digest it, wipe it. Talks to the
// ensemble with node-zookeeper-client (pure JavaScript, the maintained ZooKeeper client on npm
// that needs no native build; the Debian package's zkCli.sh would mean a JVM per command and
// parsing its console output). Requests are pipelined on the one connection (ZooKeeper answers
// a session's requests in order) with a bounded number in flight, so seeding 500 MB takes as
// long as ZooKeeper needs to log it, and neither side holds more than a few MB of requests.

import { createCipheriv, createHash } from 'node:crypto';
import zookeeper, { type Client } from 'node-zookeeper-client';
import { OperationFailed } from '../errors.js';

/** Every znode of the tree lives under this path. */
export const TREE_ROOT = '/zkops-sandbox';
const GROUP_SIZE = 100;
/** Reads in flight while walking the tree (answers of up to 1 MB each wait in ZooKeeper's heap). */
const READS_IN_FLIGHT = 32;
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

/** Connect to any member of `hosts` (host:port list); fails after timeoutMs. */
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
    return await fn(client);
  } finally {
    client.close();
  }
}

function isNoNode(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'getCode' in err && (err as { getCode(): number }).getCode() === zookeeper.Exception.NO_NODE;
}

function isNodeExists(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'getCode' in err && (err as { getCode(): number }).getCode() === zookeeper.Exception.NODE_EXISTS;
}

/**
 * Run task(0) … task(count - 1) with at most `inFlight` of them pending at once, in order of
 * index; the first failure ends it (no task starts after it) and is thrown.
 */
export function pipeline(count: number, inFlight: number, task: (i: number) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    let next = 0;
    let pending = 0;
    let failed = false;
    const startMore = (): void => {
      while (!failed && pending < inFlight && next < count) {
        const i = next++;
        pending++;
        task(i).then(
          () => {
            pending--;
            if (next >= count && pending === 0) resolve();
            else startMore();
          },
          (err: unknown) => {
            failed = true;
            reject(err);
          },
        );
      }
    };
    if (count === 0) resolve();
    else startMore();
  });
}

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
  await pipeline(groups, 256, (g) => createIfMissing(c, `${TREE_ROOT}/g${g}`, Buffer.from(`group ${g}`)));
  const inFlight = Math.max(4, Math.min(256, Math.floor(WRITE_BYTES_IN_FLIGHT / Math.max(size ?? 0, 1024))));
  await pipeline(count, inFlight, (i) => createIfMissing(c, `${groupOf(i)}/n${i}`, znodeData(i, size)));
  return digest(c);
}

/** The tree under `root`, level by level (root first); with `withData`, every znode's data. */
async function walk(c: Client, root: string, withData: boolean): Promise<{ levels: string[][]; data: Map<string, Buffer> }> {
  const levels: string[][] = [];
  const data = new Map<string, Buffer>();
  let level = [root];
  while (level.length > 0) {
    const here: string[] = [];
    const below: string[] = [];
    await pipeline(level.length, READS_IN_FLIGHT, async (i) => {
      const path = level[i] as string;
      try {
        const [d, children] = await Promise.all([
          withData ? call<Buffer>((cb) => c.getData(path, (err, b) => cb(err, b))) : undefined,
          call<string[]>((cb) => c.getChildren(path, (err, kids) => cb(err, kids))),
        ]);
        here.push(path);
        if (withData) data.set(path, d ?? Buffer.alloc(0));
        for (const k of children) below.push(`${path}/${k}`);
      } catch (err) {
        if (!isNoNode(err)) throw err;
      }
    });
    if (here.length > 0) levels.push(here);
    level = below;
  }
  return { levels, data };
}

/** sha256 over every path and its data under TREE_ROOT, sorted by path. */
export async function digest(c: Client): Promise<Digest> {
  const { data } = await walk(c, TREE_ROOT, true);
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

/** Delete the tree, deepest level first; returns how many znodes went. */
export async function wipe(c: Client): Promise<number> {
  const { levels } = await walk(c, TREE_ROOT, false);
  for (const paths of levels.reverse()) {
    await pipeline(paths.length, 256, (i) =>
      call<void>((cb) => c.remove(paths[i] as string, -1, (err) => cb(err, undefined))).catch((err: unknown) => {
        if (!isNoNode(err)) throw err;
      }),
    );
  }
  return levels.reduce((n, l) => n + l.length, 0);
}

/** Change one znode's data (a rehearsal's "something went wrong"). */
export async function scribble(c: Client, i = 0): Promise<void> {
  await createIfMissing(c, `${groupOf(i)}/n${i}`, Buffer.from(`changed at ${new Date().toISOString()}`));
}
