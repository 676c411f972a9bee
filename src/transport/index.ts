// The transport's front door: the rest of zkops imports createSshTransport and the types only.

import { SshTransport } from './ssh.js';
import type { ConnectTuning } from './connect.js';
import type { Transport } from './types.js';

export type { ConnectTuning } from './connect.js';
export type * from './types.js';

/** The real Transport over OpenSSH-compatible servers (ssh2); `tuning` is for the bench only. */
export function createSshTransport(tuning?: ConnectTuning): Transport {
  return new SshTransport(tuning);
}
