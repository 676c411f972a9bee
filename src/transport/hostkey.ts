// Host key checking per ssh.hostKeyPolicy (SPEC rule 4.8): strict refuses an unknown key with
// its fingerprint and how to accept it; accept-new records it; `off` accepts it with a warning
// on every connect (the engine journals warnings). A changed or revoked key is refused
// whatever the policy: no setting turns an interception into a connection.

import { TransportError } from '../errors.js';
import { shellQuote } from '../util/shell-quote.js';
import { appendKnownHost, checkHostKey, fingerprintSha256, keyTypeOf, knownHostName, preferredHostKeyAlgorithms, readKnownHosts } from './known-hosts.js';
import type { Endpoint } from './ssh-errors.js';
import type { HostKeyPolicy } from './types.js';

export interface HostKeyCheck {
  /** ssh2's hostVerifier (callback form: the accept-new write is async). */
  verifier: (key: Buffer, verify: (ok: boolean) => void) => undefined;
  /** Host key algorithms to offer, the types known for this host first. */
  algorithms: string[];
  /** Why the key was refused, once the verifier has run. */
  refusal(): TransportError | undefined;
}

function shortType(keyType: string): string {
  return keyType.replace(/^ssh-/, '').replace(/^ecdsa-sha2-nistp\d+$/, 'ecdsa');
}

/** Read known_hosts and build the verifier for one endpoint (a master or its jump host). */
export async function prepareHostKeyCheck(
  ep: Endpoint,
  knownHosts: string,
  policy: HostKeyPolicy,
  onWarning: (message: string) => void,
): Promise<HostKeyCheck> {
  let entries: Awaited<ReturnType<typeof readKnownHosts>>;
  try {
    entries = await readKnownHosts(knownHosts);
  } catch (err) {
    throw new TransportError('local', ep.master, `cannot read known_hosts ${knownHosts}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      hint: 'fix ssh.knownHosts in the inventory',
      cause: err,
    });
  }
  let refused: TransportError | undefined;
  const where = `${ep.label} (${ep.host}:${ep.port})`;
  const name = knownHostName(ep.host, ep.port);

  const decide = async (key: Buffer): Promise<boolean> => {
    const type = keyTypeOf(key);
    const fp = `${type} ${fingerprintSha256(key)}`;
    const found = checkHostKey(entries, ep.host, ep.port, key);
    if (found.status === 'known') return true;
    if (found.status === 'revoked') {
      refused = new TransportError('hostkey-changed', ep.master, `host key of ${where} is REVOKED (${fp}, marked @revoked in ${knownHosts}:${found.line}); refusing to connect, whatever ssh.hostKeyPolicy says`, {
        hint: 'this key must not be trusted; have the master get a new host key',
      });
      return false;
    }
    if (found.status === 'changed') {
      refused = new TransportError(
        'hostkey-changed',
        ep.master,
        `host key of ${where} has CHANGED: it offered ${fp}, but ${knownHosts}:${found.line} holds another ${type} key; someone may be intercepting the connection (or the master was reinstalled); refusing to connect, whatever ssh.hostKeyPolicy says`,
        { hint: `if the master was reinstalled, verify the new fingerprint on it, then remove the old entry: ssh-keygen -R ${shellQuote(name)} -f ${shellQuote(knownHosts)}` },
      );
      return false;
    }
    if (policy === 'off') {
      onWarning(`hostKeyPolicy is off: accepted the unknown host key of ${where} (${fp}) without checking it; set ssh.hostKeyPolicy: strict once the key is in ${knownHosts}`);
      return true;
    }
    if (policy === 'accept-new') {
      try {
        await appendKnownHost(knownHosts, ep.host, ep.port, key);
      } catch (err) {
        refused = new TransportError('hostkey-unknown', ep.master, `host key of ${where} is unknown (${fp}) and cannot be added to ${knownHosts}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
        return false;
      }
      onWarning(`added the host key of ${where} to ${knownHosts}: ${fp}`);
      return true;
    }
    const others = found.otherTypes.length > 0 ? ` (known_hosts has only its ${found.otherTypes.join(', ')} key)` : '';
    refused = new TransportError(
      'hostkey-unknown',
      ep.master,
      `host key of ${where} is not in ${knownHosts}${others}: ${fp}; verify it, then accept it with \`ssh-keyscan -p ${ep.port} -t ${shortType(type)} ${shellQuote(ep.host)} >> ${shellQuote(knownHosts)}\` or set ssh.hostKeyPolicy: accept-new`,
      { hint: `compare ${fingerprintSha256(key)} with \`ssh-keygen -lf /etc/ssh/ssh_host_${shortType(type)}_key.pub\` on the master before accepting it` },
    );
    return false;
  };

  return {
    verifier: (key, verify) => {
      decide(key).then(verify, (err: unknown) => {
        refused = new TransportError('local', ep.master, `host key check of ${where} failed: ${String(err)}`, { cause: err });
        verify(false);
      });
      return undefined;
    },
    algorithms: preferredHostKeyAlgorithms(entries, ep.host, ep.port),
    refusal: () => refused,
  };
}
