// The Transport interface: everything zkops does on a master goes through it.
// The SSH library (ssh2) is imported under src/transport/ only. The connection settings of a
// master are the inventory's types: the inventory owns them, the transport reads them.

import type { Duplex } from 'node:stream';

export type { HostKeyPolicy, JumpHost, MasterConn } from '../inventory/types.js';
import type { MasterConn } from '../inventory/types.js';

/** One result shape for success and failure of a remote command. */
export interface ExecResult {
  master: string;
  /** The command as run (secrets redacted). */
  command: string;
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
}

export interface ExecOptions {
  /** Run under `sudo -n` when the master's become is sudo. */
  become?: boolean;
  /** Kill the channel and resolve with timedOut=true after this long. */
  timeoutMs?: number;
  /** Bytes written to the command's stdin, then EOF. */
  stdin?: string | Buffer;
  signal?: AbortSignal;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
}

export interface TransferProgress {
  bytes: number;
  total: number | undefined;
  /** Bytes per second since the start of the transfer. */
  rate: number;
}

export interface TransferOptions {
  /** Read or write the remote file as root (exec channel with `sudo -n`). */
  become?: boolean;
  /** File mode of the final file (default 0600: archives are secrets). */
  mode?: number;
  onProgress?: (p: TransferProgress) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface TransferResult {
  bytes: number;
  /** sha256 computed while the bytes streamed. */
  sha256: string;
  /** sha256sum reported by the master for its copy. */
  remoteSha256: string;
  durationMs: number;
}

/** One SSH connection to one master; every command is a channel on it. */
export interface Session {
  readonly master: MasterConn;
  /** Resolves for any exit code; rejects only with a TransportError (connection, timeout of connect). */
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /**
   * Download to `localPath.part`, hashing in the stream; compare with the remote
   * `sha256sum`; rename to localPath. A mismatch deletes the .part and throws kind 'checksum'.
   */
  get(remotePath: string, localPath: string, opts?: TransferOptions): Promise<TransferResult>;
  /** Upload to `remotePath.part`, hashing in the stream; compare with the remote `sha256sum`; rename. */
  put(localPath: string, remotePath: string, opts?: TransferOptions): Promise<TransferResult>;
  /** A TCP stream to host:port as seen from the master (direct-tcpip), for Exhibitor via ssh. */
  forward(host: string, port: number): Promise<Duplex>;
  /** True while the connection is up. */
  readonly connected: boolean;
  close(): Promise<void>;
}

export interface ConnectOptions {
  signal?: AbortSignal;
  /** Called with a warning to show the user (hostKeyPolicy off, a key accepted). */
  onWarning?: (message: string) => void;
}

export interface Transport {
  connect(master: MasterConn, opts?: ConnectOptions): Promise<Session>;
}
