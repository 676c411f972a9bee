// A known tree of znodes for rehearsals and tests: seed it, digest it, wipe it. Talks to the
// ensemble with node-zookeeper-client (pure JavaScript, the maintained ZooKeeper client on npm
// that needs no native build; the Debian package's zkCli.sh would mean a JVM per command and
// parsing its console output).

import { createHash } from 'node:crypto';
import zookeeper, { type Client } from 'node-zookeeper-client';
import { OperationFailed } from '../errors.js';

/** Every znode of the tree lives under this path. */
export const TREE_ROOT = '/zkops-sandbox';
const GROUP_SIZE = 100;
const BATCH = 200;

export interface Digest {
  /** sha256 over every path and its data, in sorted order; "absent" when there is no tree. */
  sha256: string;
  znodes: number;
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

/** The data of znode i: deterministic, so two seeds of the same size digest the same. */
export function znodeData(i: number): Buffer {
  return Buffer.from(`zkops sandbox znode ${i} ${createHash('sha256').update(String(i)).digest('hex').slice(0, 24)}`);
}

async function createIfMissing(c: Client, path: string, data: Buffer): Promise<void> {
  try {
    await call<string>((cb) => c.create(path, data, cb));
  } catch (err) {
    if (!isNodeExists(err)) throw err;
    await call((cb) => c.setData(path, data, cb));
  }
}

/** Write the tree: TREE_ROOT/g<k>/n<i> for i < count, groups of 100. Returns the digest. */
export async function seed(c: Client, count: number): Promise<Digest> {
  await wipe(c);
  await createIfMissing(c, TREE_ROOT, Buffer.from(`seeded ${count}`));
  const groups = Math.ceil(count / GROUP_SIZE);
  for (let g = 0; g < groups; g++) await createIfMissing(c, `${TREE_ROOT}/g${g}`, Buffer.from(`group ${g}`));
  for (let start = 0; start < count; start += BATCH) {
    const batch: Promise<void>[] = [];
    for (let i = start; i < Math.min(count, start + BATCH); i++) {
      batch.push(createIfMissing(c, `${TREE_ROOT}/g${Math.floor(i / GROUP_SIZE)}/n${i}`, znodeData(i)));
    }
    await Promise.all(batch);
  }
  return digest(c);
}

async function walk(c: Client, path: string, out: Map<string, Buffer>): Promise<void> {
  let data: Buffer | null;
  let children: string[];
  try {
    data = await call<Buffer>((cb) => c.getData(path, (err, d) => cb(err, d)));
    children = await call<string[]>((cb) => c.getChildren(path, (err, kids) => cb(err, kids)));
  } catch (err) {
    if (isNoNode(err)) return;
    throw err;
  }
  out.set(path, data ?? Buffer.alloc(0));
  await Promise.all(children.map((k) => walk(c, `${path}/${k}`, out)));
}

/** sha256 over every path and its data under TREE_ROOT, sorted by path. */
export async function digest(c: Client): Promise<Digest> {
  const nodes = new Map<string, Buffer>();
  await walk(c, TREE_ROOT, nodes);
  if (nodes.size === 0) return { sha256: 'absent', znodes: 0 };
  const h = createHash('sha256');
  for (const path of [...nodes.keys()].sort()) {
    h.update(path).update('\0').update(nodes.get(path) as Buffer).update('\0');
  }
  return { sha256: h.digest('hex'), znodes: nodes.size };
}

/** Delete the tree; returns how many znodes went. */
export async function wipe(c: Client): Promise<number> {
  const nodes = new Map<string, Buffer>();
  await walk(c, TREE_ROOT, nodes);
  // Deepest first.
  const paths = [...nodes.keys()].sort((a, b) => b.split('/').length - a.split('/').length);
  let depth = Number.POSITIVE_INFINITY;
  let batch: Promise<void>[] = [];
  for (const p of paths) {
    const d = p.split('/').length;
    if (d < depth) {
      await Promise.all(batch);
      batch = [];
      depth = d;
    }
    batch.push(
      call<void>((cb) => c.remove(p, -1, (err) => cb(err, undefined))).catch((err: unknown) => {
        if (!isNoNode(err)) throw err;
      }),
    );
  }
  await Promise.all(batch);
  return nodes.size;
}

/** Change one znode's data (a rehearsal's "something went wrong"). */
export async function scribble(c: Client, i = 0): Promise<void> {
  const path = `${TREE_ROOT}/g${Math.floor(i / GROUP_SIZE)}/n${i}`;
  await createIfMissing(c, path, Buffer.from(`changed at ${new Date().toISOString()}`));
}
