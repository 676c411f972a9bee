// The live tree of a running ZooKeeper, read as a client, into the ZkTree a backup's files give
// (src/zk-files), so a backup and the running ensemble can be digested and diffed alike.
//
// What is read, per znode: getData (data and stat), then getACL, then getChildren where the stat
// counts children. A level of the tree at a time, up to `inFlight` znodes in flight on the one
// connection (ZooKeeper answers a session's requests in order). A znode deleted while the walk
// runs (NO_NODE) is left out. It is not a snapshot: znodes change while it runs.
//
// The ACL costs one more small request per znode. Sent together with getData it cost much more
// through SSH: 20,000 znodes through the sandbox's sshd took 19 s that way, 6–10 s one after the
// other, 3–4 s without ACLs (a loaded 2-core machine; straight to ZooKeeper, together was not
// slower). Most likely Nagle in sshd, which sets TCP_NODELAY on interactive sessions only: the
// second answer waits for the ACK of the first, and a client waiting for both sends nothing
// that would carry that ACK before its delayed-ACK timer. One after the other, every answer
// lets a request go out.
//
// Where ZooKeeper 3.4.14 (DC/OS) and 3.8 (the sandbox) differ in what this relies on
// (DataNode.copyStat, FinalRequestProcessor in apache/zookeeper):
// - both report cversion as `persisted * 2 - numChildren`; persistedStat turns it back.
// - 3.5+ reports ephemeralOwner 0 for container and TTL nodes (getClientEphemeralOwner), so
//   read live they look persistent where a snapshot has their marker; 3.4 has neither kind.
// - both need READ or ADMIN for getACL (3.4.14 since the fix of CVE-2019-0201; older 3.4
//   needed nothing), and without ADMIN both hide the hash of a digest id as "user:x": such an
//   ACL differs from the one a snapshot holds.
// - 3.5+ has /zookeeper/config; DC/OS's 3.4 has only /zookeeper and /zookeeper/quota.

import zookeeper, { type Client, type Stat } from 'node-zookeeper-client';
import { Interrupted, OperationFailed } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { pipeline } from '../util/pipeline.js';
import { ZkTree, type Acl, type ZStat } from '../zk-files/index.js';

export interface LiveTreeOptions {
  /** How long the connection may take, and how long the walk may wait for any answer. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** What the connect string leads to, for messages: "master-2's ZooKeeper (10.0.0.12:2181 through SSH)"; default "ZooKeeper at <connectString>". */
  label?: string;
  /** Added before the first request, e.g. { scheme: 'digest', credentials: 'super:secret' }: for trees whose ACLs keep an anonymous client out. */
  auth?: readonly { scheme: string; credentials: string }[];
  /** Znodes in flight (default 32: answers of up to 1 MB each wait in ZooKeeper's heap). */
  inFlight?: number;
}

const CONNECT_HINT = "check that ZooKeeper runs there and listens on its client port (`zkops status -i INVENTORY` shows each member)";
const LOST_HINT = 'ZooKeeper or the connection to it went away; check the master and try again';

/** A client Stat's longs are 8-byte big-endian Buffers: signed 64-bit, as ZooKeeper writes them. */
const long = (b: Buffer): bigint => b.readBigInt64BE(0);

/**
 * The stat a snapshot would hold (StatPersisted) from the one a client is given: longs as
 * bigints (zxids pass 2^53), and cversion back from `persisted * 2 - numChildren`
 * (DataNode.copyStat), exact while that fits an int.
 */
export function persistedStat(s: Stat): ZStat {
  return {
    czxid: long(s.czxid),
    mzxid: long(s.mzxid),
    ctime: Number(long(s.ctime)),
    mtime: Number(long(s.mtime)),
    version: s.version,
    cversion: (s.cversion + s.numChildren) / 2,
    aversion: s.aversion,
    ephemeralOwner: long(s.ephemeralOwner),
    pzxid: long(s.pzxid),
  };
}

/** An ACL entry as node-zookeeper-client builds it (lib/ACL.js names the field `permission`; its typings say `perms`). */
interface ClientAcl {
  permission: number;
  id: { scheme: string; id: string };
}

const aclOf = (a: ClientAcl): Acl => ({ perms: a.permission, scheme: a.id.scheme, id: a.id.id });

type ZkError = Error | zookeeper.Exception | null;

function call<T>(fn: (cb: (err: ZkError, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

const codeOf = (err: unknown): number | undefined =>
  typeof err === 'object' && err !== null && 'getCode' in err ? (err as zookeeper.Exception).getCode() : undefined;

interface NodeRead {
  data: Buffer;
  stat: ZStat;
  acl: Acl[];
  children: string[];
}

/** One znode, or undefined when it is gone. */
async function readNode(c: Client, path: string, where: string): Promise<NodeRead | undefined> {
  try {
    // one request after the other, not both at once: see the top of the file
    const [data, stat] = await call<[Buffer | undefined, Stat]>((cb) => c.getData(path, (err, d, st) => cb(err, [d, st])));
    const acl = await call<ClientAcl[]>((cb) => c.getACL(path, (err, list) => cb(err, list as unknown as ClientAcl[])));
    const children = stat.numChildren > 0 ? await call<string[]>((cb) => c.getChildren(path, (err, kids) => cb(err, kids))) : [];
    return { data: data ?? Buffer.alloc(0), stat: persistedStat(stat), acl: (acl ?? []).map(aclOf), children };
  } catch (err) {
    const code = codeOf(err);
    if (code === zookeeper.Exception.NO_NODE) return undefined;
    if (code === zookeeper.Exception.NO_AUTH) {
      throw new OperationFailed(`cannot read ${path} from ${where}: its ACL does not let this client read it (NO_AUTH)`, {
        hint: 'the tree has znodes an anonymous client may not read; give credentials that may read all of it (on DC/OS Enterprise, the ZooKeeper super user)',
        cause: err,
      });
    }
    if (code === zookeeper.Exception.CONNECTION_LOSS) throw lost(where, err);
    throw new OperationFailed(`reading ${path} from ${where} failed: ${String(err)}`, { cause: err });
  }
}

const lost = (where: string, cause?: unknown): OperationFailed =>
  new OperationFailed(`lost the connection to ${where} in the middle of reading the tree`, { hint: LOST_HINT, cause });

/** Every znode from "/" down, a level at a time, loaded parent before child. */
async function walk(c: Client, inFlight: number, stallMs: number, where: string): Promise<ZkTree> {
  const tree = new ZkTree();
  let level = ['/'];
  while (level.length > 0) {
    const paths = level;
    const below: string[] = [];
    await pipeline(paths.length, inFlight, { ms: stallMs, error: (pending) => new OperationFailed(`${where} answered none of ${pending} requests for ${formatDuration(stallMs)}`, { hint: LOST_HINT }) }, async (i) => {
      const path = paths[i] as string;
      const node = await readNode(c, path, where);
      if (!node) return;
      const problem = tree.load(path, node.data, node.acl, node.stat);
      if (problem) throw new OperationFailed(`reading the tree of ${where}: ${problem}`);
      for (const k of node.children) below.push(path === '/' ? `/${k}` : `${path}/${k}`);
    });
    level = below;
  }
  return tree;
}

/**
 * The whole live tree at `connectString` (host:port[,host:port…]). Fails with OperationFailed
 * when no ZooKeeper answers within timeoutMs, the connection is lost, the credentials are
 * refused or a znode may not be read; with Interrupted when `signal` aborts. The client is
 * closed (its session too) whatever happens.
 */
export async function readLiveTree(connectString: string, opts: LiveTreeOptions): Promise<ZkTree> {
  const where = opts.label ?? `ZooKeeper at ${connectString}`;
  if (opts.signal?.aborted) throw new Interrupted(`interrupted before reading ${where}`);
  const client = zookeeper.createClient(connectString, { sessionTimeout: 30_000, spinDelay: 250, retries: 0 });
  for (const a of opts.auth ?? []) client.addAuthInfo(a.scheme, Buffer.from(a.credentials));
  let connected = false;
  let timer: NodeJS.Timeout | undefined;
  const cleanups: (() => void)[] = [];
  const on = (event: string, listener: () => void): void => {
    client.on(event, listener);
    cleanups.push(() => client.off(event, listener));
  };
  // what ends the read early: no connection in time, the connection lost, refused credentials, the signal
  const failure = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new OperationFailed(`no answer from ${where} within ${formatDuration(opts.timeoutMs)}`, { hint: CONNECT_HINT })), opts.timeoutMs);
    on('connected', () => {
      connected = true;
      clearTimeout(timer);
    });
    on('disconnected', () => {
      if (connected) reject(lost(where));
    });
    on('expired', () => reject(lost(where)));
    on('authenticationFailed', () => reject(new OperationFailed(`${where} refused the credentials given (AUTH_FAILED)`, { hint: 'check the ZooKeeper credentials' })));
    if (opts.signal) {
      const onAbort = (): void => reject(new Interrupted(`interrupted while reading ${where}`));
      opts.signal.addEventListener('abort', onAbort, { once: true });
      cleanups.push(() => opts.signal?.removeEventListener('abort', onAbort));
    }
  });
  failure.catch(() => undefined);
  try {
    const up = new Promise<void>((resolve) => client.once('connected', resolve));
    client.connect();
    await Promise.race([up, failure]);
    return await Promise.race([walk(client, opts.inFlight ?? 32, opts.timeoutMs, where), failure]);
  } finally {
    clearTimeout(timer);
    for (const undo of cleanups) undo();
    await closeClient(client);
  }
}

/** Close the session; once connected, wait (up to 2 s) for ZooKeeper to end it, so no session lingers. */
async function closeClient(client: Client): Promise<void> {
  const wasConnected = client.getState() === zookeeper.State.SYNC_CONNECTED;
  const gone = wasConnected
    ? new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        client.once('disconnected', () => {
          clearTimeout(t);
          resolve();
        });
      })
    : Promise.resolve();
  client.close();
  await gone;
}
