// A steady stream of writes to a live ensemble, for the hot-backup tests: it creates znodes
// under a root and changes the data of earlier ones, one request in flight, and keeps a log of
// every write (its path, its data, when it was sent and when ZooKeeper acknowledged it), so a
// test can say which znodes a copy taken at time T must hold, and with what data. A member that
// is briefly busy (the connection lost, a request unanswered) costs a retry, not the load.

import { randomBytes } from 'node:crypto';
import zookeeper, { type Client, type Stat } from 'node-zookeeper-client';

export interface WriteLoadOptions {
  /** Parent of every znode the load creates (made when missing); default /zkops-load. */
  root?: string;
  /** Pause between two writes, in ms; default 0 (as fast as the one request in flight allows). */
  intervalMs?: number;
  /** Bytes of (random) data each write sets; default 64. */
  dataBytes?: number;
}

/** One write of the load. */
export interface Write {
  /** Counting from 0, in the order sent. */
  seq: number;
  op: 'create' | 'setData';
  path: string;
  data: Buffer;
  /** Date.now() when the first attempt was sent. */
  sentAt: number;
  /** Date.now() when ZooKeeper acknowledged it; undefined when it never did (the load stopped or failed first). */
  ackedAt: number | undefined;
  /** Attempts made (more than 1: retried after a lost connection or an unanswered request). */
  attempts: number;
}

/** What a znode held at some time, by the acknowledged writes. */
export interface ZnodeAsOf {
  data: Buffer;
  /** When the write that set `data` was acknowledged. */
  ackedAt: number;
}

/** The writes of a load up to some moment, and the questions a test asks of them. */
export class WriteLog {
  constructor(
    readonly root: string,
    /** Every write sent, in order (at most the last one unacknowledged). */
    readonly writes: readonly Write[],
    /** The errors that were retried, in order ("create /zkops-load/…: CONNECTION_LOSS[-4]"). */
    readonly retried: readonly string[],
  ) {}

  /** Writes acknowledged (all of them, or before `t`). */
  acked(t = Infinity): Write[] {
    return this.writes.filter((w) => w.ackedAt !== undefined && w.ackedAt < t);
  }

  /** Every znode whose creation was acknowledged before `t`, with its data as of then: the data of
   * its last write acknowledged before `t`. (See inFlight(t): a write sent before `t` and not yet
   * acknowledged may or may not have happened by then.) */
  asOf(t: number): Map<string, ZnodeAsOf> {
    const out = new Map<string, ZnodeAsOf>();
    for (const w of this.acked(t)) out.set(w.path, { data: w.data, ackedAt: w.ackedAt as number });
    return out;
  }

  /** Every znode the acknowledged writes leave, with its latest data. */
  latest(): Map<string, ZnodeAsOf> {
    return this.asOf(Infinity);
  }

  /** Writes sent before `t` and not acknowledged before it: ZooKeeper may have applied them by `t`, or not. */
  inFlight(t: number): Write[] {
    return this.writes.filter((w) => w.sentAt < t && (w.ackedAt === undefined || w.ackedAt >= t));
  }
}

export interface WriteLoad {
  /** Stop writing (the request in flight is answered or given up first), close the client; the whole log. Rejects with the error that stopped the load, if one did. */
  stop(): Promise<WriteLog>;
  /** The log so far, while the load runs. */
  written(): WriteLog;
  /** Writes acknowledged at or after `since` (Date.now() ms); without it, since the previous call (the first call: since the start). */
  wroteSince(since?: number): number;
}

/** A request with no answer for this long is given up: the client is replaced and the write retried. */
const REQUEST_TIMEOUT_MS = 10_000;
/** No connection for this long fails the load. */
const CONNECT_TIMEOUT_MS = 60_000;
/** Pause before a retry. */
const RETRY_DELAY_MS = 200;

type ZkError = Error | zookeeper.Exception | null;

/** Errors that say nothing about whether the write happened: the client is replaced (on
 * expiry) or waits to reconnect, then the write is tried again. */
const RETRYABLE = new Set<number>([zookeeper.Exception.CONNECTION_LOSS, zookeeper.Exception.OPERATION_TIMEOUT, zookeeper.Exception.SESSION_EXPIRED]);

const codeOf = (err: unknown): number | undefined => (typeof err === 'object' && err !== null && 'getCode' in err ? (err as { getCode(): number }).getCode() : undefined);

class RequestTimeout extends Error {}

const retryable = (err: unknown): boolean => err instanceof RequestTimeout || RETRYABLE.has(codeOf(err) as number);

/**
 * Start writing to the ensemble at `connect` (host:port[,host:port…]): create `root` if needed,
 * then alternately create a new znode under it and set new data on an earlier one, one request
 * at a time, until stop().
 */
export function startWriteLoad(connect: string, opts: WriteLoadOptions = {}): WriteLoad {
  const root = opts.root ?? '/zkops-load';
  const intervalMs = opts.intervalMs ?? 0;
  const dataBytes = opts.dataBytes ?? 64;
  // one load's names never meet another's under the same root
  const prefix = `${root}/${randomBytes(3).toString('hex')}-`;
  const writes: Write[] = [];
  const retried: string[] = [];
  const created: string[] = [];
  /** Each znode's version as its last acknowledged write left it. */
  const versions = new Map<string, number>();
  let stopping = false;
  let client: Client | undefined;
  const clients = new Set<Client>();
  let counted = Date.now();
  let failure: unknown;

  function newClient(): Client {
    const c = zookeeper.createClient(connect, { sessionTimeout: 10_000, spinDelay: 200, retries: 0 });
    clients.add(c);
    c.connect();
    return c;
  }

  /** The current client once it is connected (a new one after its session expired). */
  async function connected(): Promise<Client> {
    const deadline = Date.now() + CONNECT_TIMEOUT_MS;
    for (;;) {
      if (!client || client.getState() === zookeeper.State.EXPIRED) {
        if (client) void closeClient(client, clients);
        client = newClient();
      }
      if (client.getState() === zookeeper.State.SYNC_CONNECTED) return client;
      if (stopping) throw new Error('stopped');
      if (Date.now() > deadline) throw new Error(`no connection to ZooKeeper at ${connect} within ${CONNECT_TIMEOUT_MS / 1000} s`);
      await sleep(50);
    }
  }

  /** One request on the current client, given up after REQUEST_TIMEOUT_MS. */
  async function request<T = void>(fn: (c: Client, cb: (err: ZkError, value?: T) => void) => void): Promise<T> {
    const c = await connected();
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new RequestTimeout(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)), REQUEST_TIMEOUT_MS);
      fn(c, (err, value) => {
        clearTimeout(t);
        if (err) reject(err);
        else resolve(value as T);
      });
    }).catch((err: unknown) => {
      // an unanswered request: this client's server is stuck; a new client, a new session
      if (err instanceof RequestTimeout && client === c) {
        void closeClient(c, clients);
        client = undefined;
      }
      throw err;
    });
  }

  /**
   * Send one write until ZooKeeper acknowledges it (or the load stops). setData names the version
   * the last acknowledged write left, so a request given up on that a stuck member applies later
   * can never overwrite a newer write: it fails instead, and a retry that finds the version moved
   * on checks whether its own first attempt made it.
   */
  async function perform(w: Write): Promise<void> {
    const expected = versions.get(w.path) ?? 0;
    for (;;) {
      w.attempts++;
      try {
        if (w.op === 'create') {
          await request((c, cb) => c.create(w.path, w.data, zookeeper.CreateMode.PERSISTENT, (err) => cb(err)));
          versions.set(w.path, 0);
        } else {
          const stat = await request<Stat>((c, cb) => c.setData(w.path, w.data, expected, (err, st) => cb(err, st)));
          versions.set(w.path, stat.version);
        }
        w.ackedAt = Date.now();
        return;
      } catch (caught) {
        let err = caught;
        // a retry after a lost answer that finds the first attempt made it
        try {
          if (w.attempts > 1 && (await earlierAttemptMadeIt(w, err, expected))) {
            w.ackedAt = Date.now();
            return;
          }
        } catch (checking) {
          err = checking;
        }
        if (!retryable(err)) throw err;
        retried.push(`${w.op} ${w.path}: ${String(err)}`);
        if (stopping) return;
        await sleep(RETRY_DELAY_MS);
      }
    }
  }

  /** A retried write refused as done already (NODE_EXISTS, or BAD_VERSION with the write's own data
   * one version on): an earlier attempt made it. Anything else changing the znode fails the load. */
  async function earlierAttemptMadeIt(w: Write, err: unknown, expected: number): Promise<boolean> {
    const code = codeOf(err);
    if (w.op === 'create') {
      if (code !== zookeeper.Exception.NODE_EXISTS) return false;
      versions.set(w.path, 0);
      return true;
    }
    if (code !== zookeeper.Exception.BAD_VERSION) return false;
    const [data, stat] = await request<[Buffer, Stat]>((c, cb) => c.getData(w.path, (e, d, st) => cb(e, [d, st])));
    if (stat.version !== expected + 1 || !(data ?? Buffer.alloc(0)).equals(w.data)) throw new Error(`${w.path} changed behind the load's back (version ${stat.version}, expected ${expected + 1} with the load's data)`, { cause: err });
    versions.set(w.path, stat.version);
    return true;
  }

  async function ensureRoot(): Promise<void> {
    for (;;) {
      try {
        await request((c, cb) => c.mkdirp(root, (err) => cb(err)));
        return;
      } catch (err) {
        if (!retryable(err)) throw err;
        if (stopping) return;
        await sleep(RETRY_DELAY_MS);
      }
    }
  }

  async function run(): Promise<void> {
    await ensureRoot();
    for (let seq = 0; !stopping; seq++) {
      // every other write changes an earlier znode (spread over them), once there is one
      const change = seq % 2 === 1 && created.length > 0;
      const path = change ? (created[(seq * 7919) % created.length] as string) : `${prefix}${String(created.length).padStart(7, '0')}`;
      const w: Write = { seq, op: change ? 'setData' : 'create', path, data: randomBytes(dataBytes), sentAt: Date.now(), ackedAt: undefined, attempts: 0 };
      writes.push(w);
      await perform(w);
      if (w.op === 'create' && w.ackedAt !== undefined) created.push(path);
      if (intervalMs > 0 && !stopping) await sleep(intervalMs);
    }
  }

  const running = run().catch((err: unknown) => {
    if (!stopping) failure = err;
  });

  const snapshot = (): WriteLog => new WriteLog(root, writes.map((w) => ({ ...w })), [...retried]);

  return {
    written: snapshot,
    wroteSince(since?: number) {
      const from = since ?? counted;
      if (since === undefined) counted = Date.now();
      return writes.filter((w) => w.ackedAt !== undefined && w.ackedAt >= from).length;
    },
    async stop() {
      stopping = true;
      await running;
      await Promise.all([...clients].map((c) => closeClient(c, clients)));
      client = undefined;
      if (failure !== undefined) throw failure;
      return snapshot();
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Close a client's session; once connected, wait (up to 2 s) for ZooKeeper to end it, so no
 * session is left to expire later (its closeSession would be a write after the load stopped). */
async function closeClient(c: Client, clients: Set<Client>): Promise<void> {
  if (!clients.delete(c)) return;
  const wasConnected = c.getState() === zookeeper.State.SYNC_CONNECTED;
  const gone = wasConnected
    ? new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        c.once('disconnected', () => {
          clearTimeout(t);
          resolve();
        });
      })
    : Promise.resolve();
  c.close();
  await gone;
}
