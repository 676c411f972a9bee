// The real sshd processes of the transport tests (bench/sshd.ts, shared with the bench), and a
// helper to take the TransportError a promise rejects with.

import { TransportError } from '../../src/errors.js';

export { masterFor, startSshd, type Sshd, type SshdOptions } from '../../bench/sshd.js';

/** The TransportError `p` rejects with; throws if it resolves or rejects with anything else. */
export async function transportFailure(p: Promise<unknown>): Promise<TransportError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TransportError) return err;
    throw new Error(`expected a TransportError, got: ${String(err)}`, { cause: err });
  }
  throw new Error('expected a TransportError, but it succeeded');
}
