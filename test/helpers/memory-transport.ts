// An in-memory Transport for the engine's scheduling tests (ordering, serial, retries,
// timeouts, always, aborts): each master is a host in memory whose commands a test scripts,
// so those tests run in milliseconds. It keeps the Session contract of src/transport/types.ts
// as the ssh2 adapter keeps it (exec.ts, ssh.ts, transfer.ts): exec resolves for any exit,
// timeout (timedOut) or abort (killed, SIGKILL) and rejects only with a TransportError when the
// connection drops; messages are built by the adapter's own functions. Nothing here proves
// anything about SSH: the real-sshd tests in test/integration do that.
// runEngine is the one door from the tests to the engine, for in-memory masters and for real
// sshd alike: when the engine's API changes, only it changes.

import { createHash } from 'node:crypto';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { Duplex } from 'node:stream';
import { TransportError } from '../../src/errors.js';
import { PlaybookRun } from '../../src/engine/run.js';
import type { EngineEvent, EventOf } from '../../src/engine/events.js';
import { describeFailure } from '../../src/engine/report.js';
import { parseInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/types.js';
import { runInfo } from '../../src/playbook/context.js';
import { parsePlaybook } from '../../src/playbook/load.js';
import { buildPlan } from '../../src/playbook/plan.js';
import { wrapCommand } from '../../src/transport/exec.js';
import { connectPrefix, connectTimeout, droppedError, mapConnectError, sessionError, type Endpoint } from '../../src/transport/ssh-errors.js';
import type { ConnectOptions, ExecOptions, ExecResult, MasterConn, Session, TransferOptions, TransferResult, Transport } from '../../src/transport/types.js';

/** What a scripted command does. Its output is printed as it starts. */
export interface ExecAnswer {
  exitCode?: number; // default 0
  stdout?: string;
  stderr?: string;
  /** How long it runs before it exits (default: it exits on the next turn of the event loop). */
  delayMs?: number;
  /** It never exits: only a timeout, an abort or a dropped connection ends it. */
  hang?: boolean;
  /** The connection drops after delayMs while it runs. */
  drop?: boolean;
}

export interface ExecRequest {
  master: string;
  /** The command as the engine gave it (before `sudo -n sh -c` for become). */
  command: string;
  become: boolean;
  stdin: string | undefined;
  /** 1 the first time this master is given this command, 2 the second time, … */
  nth: number;
}

/** A function, or rows of [text or pattern, answer] where the first matching row answers; default: exit 0. */
export type ExecScript = ((req: ExecRequest) => ExecAnswer | undefined) | [RegExp | string, ExecAnswer | ((req: ExecRequest) => ExecAnswer)][];

/** How the nth connect to a master goes; a failure has the real connect's kind and message (hostkey-changed: its opening, and its hint). */
export type ConnectOutcome = 'ok' | 'refused' | 'timeout' | 'auth' | 'hostkey-changed';

/** A transfer that fails on demand (default: it copies). */
export interface TransferAnswer {
  delayMs?: number;
  hang?: boolean;
  drop?: boolean;
  /** The master's sha256 disagrees with what streamed (kind 'checksum'). */
  corrupt?: boolean;
}

export interface HttpAnswer {
  status?: number;
  body: string;
}

export interface MemoryOptions {
  exec?: ExecScript;
  connect?: (master: string, nth: number) => ConnectOutcome;
  transfer?: (req: { op: 'get' | 'put'; master: string; remote: string; local: string }) => TransferAnswer | undefined;
  /** Answers an HTTP GET through `forward` (Exhibitor's status); undefined: nothing listens there. */
  http?: (req: { master: string; host: string; port: number; path: string }) => HttpAnswer | undefined;
  /** Files on the masters: master → path → content. */
  files?: Record<string, Record<string, string>>;
}

export type Outcome = 'exit' | 'timeout' | 'aborted' | 'dropped' | 'failed';

/** One thing done on a master, with start and end on one strictly increasing clock (ms). */
export interface Call {
  op: 'connect' | 'exec' | 'get' | 'put' | 'forward';
  master: string;
  /** exec: the command as given; get/put: the remote path; connect, forward: host:port. */
  what: string;
  nth: number;
  start: number;
  end: number | undefined;
  outcome: Outcome | undefined;
  exitCode: number | null | undefined;
}

let last = 0;
/** performance.now(), made strictly increasing so that start/end order is exact. */
const clock = (): number => (last = Math.max(performance.now(), last + 1e-6));

const shortCommand = (c: string): string => {
  const one = c.replace(/\s+/g, ' ').trim();
  return one.length > 60 ? `\`${one.slice(0, 57)}…\`` : `\`${one}\``;
};

export class MemoryTransport implements Transport {
  readonly calls: Call[] = [];
  /** Each master's files (remote path → bytes). */
  readonly files = new Map<string, Map<string, Buffer>>();
  private readonly counts = new Map<string, number>();

  constructor(readonly o: MemoryOptions = {}) {
    for (const [m, files] of Object.entries(o.files ?? {})) for (const [p, text] of Object.entries(files)) this.filesOf(m).set(p, Buffer.from(text));
  }

  filesOf(master: string): Map<string, Buffer> {
    if (!this.files.has(master)) this.files.set(master, new Map());
    return this.files.get(master) as Map<string, Buffer>;
  }

  /** Start recording a call; `nth` counts the calls of this op, master and `what`. */
  record(op: Call['op'], master: string, what: string): Call {
    const key = `${op}\u0000${master}\u0000${what}`;
    const nth = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, nth);
    const call: Call = { op, master, what, nth, start: clock(), end: undefined, outcome: undefined, exitCode: undefined };
    this.calls.push(call);
    return call;
  }

  async connect(master: MasterConn, opts: ConnectOptions = {}): Promise<Session> {
    const ep: Endpoint = { label: master.name, master: master.name, host: master.host, port: master.port, user: master.user };
    const call = this.record('connect', master.name, `${master.host}:${master.port}`);
    const outcome = this.o.connect?.(master.name, call.nth) ?? 'ok';
    const fail = (err: TransportError): never => {
      Object.assign(call, { end: clock(), outcome: 'failed' });
      throw err;
    };
    if (opts.signal?.aborted) fail(new TransportError('connect', ep.master, `${connectPrefix(ep)}: interrupted`));
    // a connect that times out takes its whole connectTimeout, as the real one does
    await new Promise((r) => (outcome === 'timeout' ? setTimeout(r, master.connectTimeoutMs) : setImmediate(r)));
    if (outcome === 'timeout') fail(connectTimeout(ep, master.connectTimeoutMs));
    if (outcome === 'refused') fail(mapConnectError(Object.assign(new Error('connect ECONNREFUSED'), { level: 'client-socket', code: 'ECONNREFUSED' }), ep, master.connectTimeoutMs, []));
    if (outcome === 'auth') fail(mapConnectError(Object.assign(new Error('All configured authentication methods failed'), { level: 'client-authentication' }), ep, master.connectTimeoutMs, ['publickey']));
    if (outcome === 'hostkey-changed') fail(new TransportError('hostkey-changed', ep.master, `host key of ${ep.label} (${ep.host}:${ep.port}) has CHANGED; refusing to connect, whatever ssh.hostKeyPolicy says`, { hint: `if the master was reinstalled, verify the new fingerprint on it, then remove the old entry: ssh-keygen -R ${ep.host} -f ${master.knownHosts}` }));
    Object.assign(call, { end: clock(), outcome: 'exit' });
    return new MemorySession(this, master, ep);
  }

  /** The scripted answer to a command. */
  answer(req: ExecRequest): ExecAnswer {
    const s = this.o.exec;
    if (typeof s === 'function') return s(req) ?? {};
    const row = (s ?? []).find(([p]) => (typeof p === 'string' ? req.command.includes(p) : p.test(req.command)));
    if (!row) return {};
    return typeof row[1] === 'function' ? row[1](req) : row[1];
  }
}

class MemorySession implements Session {
  private dropErr: TransportError | undefined;
  private readonly dropListeners = new Set<(err: TransportError) => void>();

  constructor(
    private readonly t: MemoryTransport,
    readonly master: MasterConn,
    private readonly ep: Endpoint,
  ) {}

  get connected(): boolean {
    return this.dropErr === undefined;
  }

  /** The connection goes away: what runs on it fails, and `connected` is false. */
  drop(cause: Error | undefined, err = droppedError(this.ep, 'the session', cause)): void {
    if (this.dropErr) return;
    this.dropErr = err;
    for (const cb of [...this.dropListeners]) cb(err);
    this.dropListeners.clear();
  }

  async close(): Promise<void> {
    this.drop(undefined, new TransportError('dropped', this.master.name, `the SSH connection to ${this.ep.label} was closed`));
  }

  /**
   * One operation on this connection: `body` runs after `run.delayMs` unless a timeout, an abort
   * or a drop comes first; `cancel` gives the operation's end for a timeout or an abort.
   */
  private operate<T>(
    call: Call,
    run: { delayMs?: number | undefined; hang?: boolean | undefined; drop?: boolean | undefined },
    opts: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined },
    body: () => Promise<T>,
    cancel: (how: 'timeout' | 'aborted') => T | TransportError,
    dropped: (cause: unknown) => TransportError,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timers: NodeJS.Timeout[] = [];
      const finish = (how: Outcome, value: T | TransportError): void => {
        if (settled) return;
        settled = true;
        timers.forEach(clearTimeout);
        opts.signal?.removeEventListener('abort', onAbort);
        this.dropListeners.delete(onDrop);
        Object.assign(call, { end: clock(), outcome: how });
        if (value instanceof TransportError) reject(value);
        else resolve(value);
      };
      const onAbort = (): void => finish('aborted', cancel('aborted'));
      const onDrop = (e: TransportError): void => finish('dropped', dropped(e.cause));
      this.dropListeners.add(onDrop);
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.timeoutMs !== undefined && opts.timeoutMs > 0) timers.push(setTimeout(() => finish('timeout', cancel('timeout')), opts.timeoutMs));
      if (run.drop) timers.push(setTimeout(() => this.drop(new Error('Connection lost')), run.delayMs ?? 0));
      else if (!run.hang) {
        const ran = () =>
          body().then(
            (v) => finish('exit', v),
            (e: unknown) => finish('failed', e instanceof TransportError ? e : sessionError('local', this.ep, String(e), e)),
          );
        timers.push(setTimeout(ran, run.delayMs ?? 0));
      }
    });
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.dropErr) throw this.dropErr;
    const call = this.t.record('exec', this.master.name, command);
    const stdin = opts.stdin === undefined ? undefined : String(opts.stdin);
    // the channel is open: the command has started on the master (even when the signal was
    // already aborted: the real one is killed right after), and prints its output
    const a = this.t.answer({ master: this.master.name, command, become: opts.become === true, stdin, nth: call.nth });
    const stdout = a.stdout ?? '';
    const stderr = a.stderr ?? '';
    if (stdout) opts.onStdout?.(Buffer.from(stdout));
    if (stderr) opts.onStderr?.(Buffer.from(stderr));
    const started = Date.now();
    const result = (exitCode: number | null, timedOut: boolean): ExecResult => ({
      master: this.master.name,
      command: wrapCommand(command, opts.become, this.master),
      exitCode,
      signal: exitCode === null ? 'SIGKILL' : null,
      stdout,
      stderr,
      durationMs: Date.now() - started,
      timedOut,
    });
    const r = await this.operate(
      call,
      a,
      opts,
      async () => result(a.exitCode ?? 0, false),
      (how) => result(null, how === 'timeout'),
      (cause) => droppedError(this.ep, shortCommand(command), cause),
    );
    call.exitCode = r.exitCode;
    return r;
  }

  async get(remotePath: string, localPath: string, opts: TransferOptions = {}): Promise<TransferResult> {
    const part = `${localPath}.part`;
    const copy = async (): Promise<Buffer> => {
      const bytes = this.t.filesOf(this.master.name).get(remotePath);
      if (!bytes) throw sessionError('remote', this.ep, `cannot read ${remotePath}: cat: ${remotePath}: No such file or directory`, undefined, 'check the path on the master: the file or its directory does not exist');
      await writeFile(part, bytes, { mode: opts.mode ?? 0o600 });
      return bytes;
    };
    return this.transfer('get', remotePath, localPath, opts, `download of ${remotePath}`, copy, () => rename(part, localPath), () => unlink(part).catch(() => undefined));
  }

  async put(localPath: string, remotePath: string, opts: TransferOptions = {}): Promise<TransferResult> {
    const files = this.t.filesOf(this.master.name);
    const part = `${remotePath}.part`;
    const copy = async (): Promise<Buffer> => {
      const bytes = await readFile(localPath).catch((err: NodeJS.ErrnoException) => {
        throw new TransportError('local', this.master.name, `cannot read ${localPath}: ${err.code ?? String(err)}`, { cause: err });
      });
      files.set(part, bytes);
      return bytes;
    };
    const commit = async (): Promise<void> => {
      files.set(remotePath, files.get(part) as Buffer);
      files.delete(part);
    };
    return this.transfer('put', remotePath, localPath, opts, `upload of ${localPath} to ${remotePath}`, copy, commit, async () => void files.delete(part));
  }

  /** get and put: copy, hash, compare with the "master's" sha256, then give the file its name. */
  private async transfer(op: 'get' | 'put', remote: string, local: string, opts: TransferOptions, what: string, copy: () => Promise<Buffer>, commit: () => Promise<void>, discard: () => Promise<void>): Promise<TransferResult> {
    if (this.dropErr) throw this.dropErr;
    const call = this.t.record(op, this.master.name, remote);
    const a = this.t.o.transfer?.({ op, master: this.master.name, remote, local }) ?? {};
    const started = Date.now();
    const body = async (): Promise<TransferResult> => {
      const bytes = await copy();
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const remoteSha256 = a.corrupt ? createHash('sha256').update('corrupted').digest('hex') : sha256;
      if (remoteSha256 !== sha256) {
        throw sessionError('checksum', this.ep, `checksum mismatch for ${remote}: ${bytes.length} bytes with sha256 ${sha256}, the master's sha256 is ${remoteSha256}`, undefined, 'the transfer was corrupted; nothing was kept, run it again');
      }
      opts.onProgress?.({ bytes: bytes.length, total: bytes.length, rate: bytes.length });
      await commit();
      return { bytes: bytes.length, sha256, remoteSha256, durationMs: Date.now() - started };
    };
    const cancel = (how: 'timeout' | 'aborted') =>
      how === 'timeout' ? sessionError('timeout', this.ep, `${what} timed out after ${Math.round((opts.timeoutMs ?? 0) / 1000)}s`) : sessionError('local', this.ep, `${what} interrupted`);
    try {
      return await this.operate(call, a, opts, body, cancel, (cause) => droppedError(this.ep, what, cause));
    } catch (err) {
      await discard();
      throw err;
    }
  }

  async forward(host: string, port: number): Promise<Duplex> {
    if (this.dropErr) throw this.dropErr;
    const call = this.t.record('forward', this.master.name, `${host}:${port}`);
    const http = this.t.o.http;
    const done = (outcome: Outcome) => Object.assign(call, { end: clock(), outcome });
    if (!http) {
      done('failed');
      throw sessionError('connect', this.ep, `cannot open a tunnel to ${host}:${port} (Connection refused)`, undefined, `check that something listens on ${host}:${port} as seen from the master and that sshd allows TCP forwarding`);
    }
    const master = this.master.name;
    let request = '';
    // one HTTP/1.1 exchange: the request in; the answer and EOF out (Connection: close)
    return new Duplex({
      write(chunk: Buffer, _enc, cb) {
        request += chunk.toString('latin1');
        if (request.includes('\r\n\r\n') && call.end === undefined) {
          const a = http({ master, host, port, path: /^[A-Z]+ (\S+)/.exec(request)?.[1] ?? '/' });
          done('exit');
          if (a === undefined) this.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
          else {
            this.push(`HTTP/1.1 ${a.status ?? 200} -\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(a.body)}\r\nConnection: close\r\n\r\n${a.body}`);
            this.push(null);
          }
        }
        cb();
      },
      read() {},
    });
  }
}

/** The exec calls whose command contains `text` (on `master` if given), in start order. */
export function execs(calls: readonly Call[], text: string, master?: string): Call[] {
  return calls.filter((c) => c.op === 'exec' && c.what.includes(text) && (master === undefined || c.master === master));
}

/** The one exec call of `text` on `master` (throws unless there is exactly one). */
export function only(calls: readonly Call[], text: string, master: string): Call {
  const found = execs(calls, text, master);
  if (found.length !== 1) throw new Error(`expected one \`${text}\` on ${master}, found ${found.length}`);
  return found[0] as Call;
}

/** a ended before b started. */
export const before = (a: Call, b: Call): boolean => a.end !== undefined && a.end < b.start;

/** a and b ran at the same time, for a while at least. */
export const overlap = (a: Call, b: Call): boolean => a.start < (b.end ?? Infinity) && b.start < (a.end ?? Infinity);

/** The events of one type. */
export function ofType<T extends EngineEvent['type']>(events: readonly EngineEvent[], type: T): EventOf<T>[] {
  return events.filter((e): e is EventOf<T> => e.type === type);
}

/** The most of these calls that ran at the same time. */
export function maxInFlight(calls: readonly Call[]): number {
  const edges = calls.flatMap((c) => [
    { t: c.start, d: 1 },
    { t: c.end ?? Infinity, d: -1 },
  ]);
  edges.sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let most = 0;
  for (const e of edges) most = Math.max(most, (now += e.d));
  return most;
}

// ---- the adapter: the tests' one way into the engine ----

export interface EngineRunOptions extends MemoryOptions {
  /** Number of masters (master-1 … master-N at 10.0.0.N; default 3). */
  masters?: number;
  extraVars?: Record<string, string>;
  concurrency?: number;
  signal?: AbortSignal;
  /** Inventory `exhibitor:` settings (default: poll every 10ms, 1 stable poll, stable at once, give up after 500ms). */
  exhibitor?: { pollInterval?: string; stablePolls?: number; stableFor?: string; timeout?: string };
  /** Inventory `ssh.connectTimeout` (default 50ms). */
  connectTimeout?: string;
  /** Run on these masters through this transport instead (the real-sshd tests); the options above are then unused. */
  real?: { inventory: Inventory; transport: Transport };
}

/** What a user notices of a run: the exit code, the message, and every step's outcome. */
export interface RunView {
  ok: boolean;
  exitCode: number;
  /** The error's class ("SafetyRefusal", "Interrupted", …). */
  errorName: string | undefined;
  /** The message a person reads: the run's error, then the always phase's other failures. */
  error: string | undefined;
  /** What the error says to do about it. */
  hint: string | undefined;
  steps: Record<string, { status: string; reason: string | undefined; masters: string[]; failed: string[] }>;
  registered: Record<string, unknown>;
  /** The always phase's failures other than the run's error. */
  alwaysErrors: string[];
}

export interface EngineRun {
  result: RunView;
  events: EngineEvent[];
  /** What the in-memory masters were asked to do (none with `real`). */
  calls: Call[];
}

let runs = 0;

/** An inventory of in-memory masters, parsed as a file would be. */
function memoryInventory(o: EngineRunOptions): Inventory {
  const x = o.exhibitor ?? {};
  const inventoryText = [
    'cluster: memory',
    'ssh:',
    '  user: root',
    `  connectTimeout: ${o.connectTimeout ?? '50ms'}`,
    'exhibitor:',
    `  pollInterval: ${x.pollInterval ?? '10ms'}`,
    `  stablePolls: ${x.stablePolls ?? 1}`,
    `  stableFor: ${x.stableFor ?? '0s'}`,
    `  timeout: ${x.timeout ?? '500ms'}`,
    'masters:',
    ...Array.from({ length: o.masters ?? 3 }, (_, i) => `  - { name: master-${i + 1}, host: 10.0.0.${i + 1} }`),
  ].join('\n');
  return parseInventory('/memory/inventory.yaml', inventoryText);
}

/** Parse a playbook, run it with the engine (on in-memory masters unless `real`), and say what happened. */
export async function runEngine(yaml: string, o: EngineRunOptions = {}): Promise<EngineRun> {
  const memory = o.real ? undefined : new MemoryTransport(o);
  const inventory = o.real?.inventory ?? memoryInventory(o);
  const transport = o.real?.transport ?? (memory as MemoryTransport);
  const extraVars = o.extraVars ?? {};
  const playbook = parsePlaybook(`playbook-${runs + 1}.yaml`, yaml, Object.keys(extraVars));
  const plan = buildPlan(playbook, inventory, extraVars, runInfo(inventory, `test-${process.pid}-${++runs}`, new Date()));
  const events: EngineEvent[] = [];
  const r = await new PlaybookRun({
    plan,
    inventory,
    transport,
    sink: { emit: (e) => events.push(e) },
    concurrency: o.concurrency ?? 10,
    signal: o.signal ?? new AbortController().signal,
  }).execute();
  const steps: RunView['steps'] = {};
  for (const [id, s] of Object.entries(r.steps)) steps[id] = { status: s.status, reason: s.reason, masters: s.masters, failed: s.failed };
  const result: RunView = {
    ok: r.ok,
    exitCode: r.exitCode,
    errorName: r.error?.name,
    error: describeFailure(r),
    hint: r.error?.hint,
    steps,
    registered: r.registered,
    alwaysErrors: r.alwaysErrors,
  };
  return { result, events, calls: memory?.calls ?? [] };
}
