// The ssh2-backed Transport: one connection per master (through its jump host when set),
// every command, transfer and tunnel a channel on it. A dropped connection fails what runs
// on it with kind 'dropped' and leaves `connected` false so the pool reconnects.

import type { Duplex } from 'node:stream';
import type { Client } from 'ssh2';
import { TransportError } from '../errors.js';
import { authMethods } from './auth.js';
import { connectClient, connectViaJumps, type ConnectTuning } from './connect.js';
import { runExec, type ChannelHost } from './exec.js';
import { droppedError, sessionError, type Endpoint } from './ssh-errors.js';
import { getFile, putFile } from './transfer.js';
import type { ConnectOptions, ExecOptions, ExecResult, MasterConn, Session, TransferOptions, TransferResult, Transport } from './types.js';

/** One open connection to one master. */
export class SshSession implements Session, ChannelHost {
  private dropErr: TransportError | undefined;
  private closing = false;
  private readonly dropListeners = new Set<(err: TransportError) => void>();

  constructor(
    readonly master: MasterConn,
    readonly client: Client,
    readonly ep: Endpoint,
    private readonly jump: Client | undefined,
  ) {
    let lastError: unknown;
    const watch = (c: Client): void => {
      c.on('error', (err: unknown) => {
        lastError = err;
      });
      c.on('end', () => this.markDropped(lastError));
      c.on('close', () => this.markDropped(lastError));
    };
    watch(client);
    if (jump) watch(jump);
  }

  private markDropped(cause: unknown): void {
    if (this.dropErr) return;
    this.dropErr = this.closing
      ? new TransportError('dropped', this.master.name, `the SSH connection to ${this.ep.label} was closed`)
      : droppedError(this.ep, 'the session', cause);
    for (const cb of [...this.dropListeners]) cb(this.dropErr);
    this.dropListeners.clear();
    if (this.jump && !this.closing) this.jump.end();
  }

  dropped(): TransportError | undefined {
    return this.dropErr;
  }

  onDrop(cb: (err: TransportError) => void): () => void {
    this.dropListeners.add(cb);
    return () => this.dropListeners.delete(cb);
  }

  get connected(): boolean {
    return this.dropErr === undefined && !this.closing;
  }

  exec(command: string, opts?: ExecOptions): Promise<ExecResult> {
    return runExec(this, command, opts);
  }

  get(remotePath: string, localPath: string, opts?: TransferOptions): Promise<TransferResult> {
    return getFile(this, remotePath, localPath, opts);
  }

  put(localPath: string, remotePath: string, opts?: TransferOptions): Promise<TransferResult> {
    return putFile(this, localPath, remotePath, opts);
  }

  forward(host: string, port: number): Promise<Duplex> {
    const gone = this.dropErr;
    if (gone) return Promise.reject(gone);
    return new Promise((resolve, reject) => {
      const off = this.onDrop(reject);
      try {
        this.client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => {
          off();
          if (err) {
            reject(this.dropErr ?? sessionError('connect', this.ep, `cannot open a tunnel to ${host}:${port} (${err.message})`, err, `check that something listens on ${host}:${port} as seen from the master and that sshd allows TCP forwarding`));
            return;
          }
          stream.on('error', () => undefined);
          resolve(stream);
        });
      } catch (err) {
        off();
        reject(this.dropErr ?? droppedError(this.ep, `a tunnel to ${host}:${port}`, err));
      }
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const ended = (c: Client): Promise<void> =>
      new Promise((resolve) => {
        const timer = setTimeout(() => {
          c.destroy();
          resolve();
        }, 2000);
        c.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        if (this.dropErr) {
          // a dropped connection may have closed already: no 'close' will come to clear the timer
          clearTimeout(timer);
          c.destroy();
          resolve();
        } else {
          c.end();
        }
      });
    await ended(this.client);
    if (this.jump) await ended(this.jump);
  }
}

function endpointOf(master: MasterConn): Endpoint {
  return { label: master.name, master: master.name, host: master.host, port: master.port, user: master.user };
}

/** The ssh2 Transport; `tuning` is for the bench (ciphers), the product uses defaults. */
export class SshTransport implements Transport {
  constructor(private readonly tuning?: ConnectTuning) {}

  async connect(master: MasterConn, opts: ConnectOptions = {}): Promise<Session> {
    const auth = await authMethods(master);
    const onWarning = opts.onWarning ?? (() => undefined);
    const ep = endpointOf(master);
    let jump: Client | undefined;
    let sock: Duplex | undefined;
    // ProxyJump: every jump host in order, each with its own keys and known_hosts when ssh_config gives them
    const hops = master.jumps ?? (master.jump ? [master.jump] : []);
    if (hops.length > 0) ({ jump, sock } = await connectViaJumps(master, hops, { onWarning, signal: opts.signal, tuning: this.tuning }));
    try {
      const client = await connectClient(ep, master, auth, { onWarning, signal: opts.signal, tuning: this.tuning, ...(sock ? { sock } : {}) });
      return new SshSession(master, client, ep, jump);
    } catch (err) {
      jump?.destroy();
      throw err;
    }
  }
}
