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
  const c: KeyCheck = { ep, knownHosts, policy, onWarning, entries, where: `${ep.label} (${ep.host}:${ep.port})` };
  let refused: TransportError | undefined;
  return {
    verifier: (key, verify) => {
      judgeKey(c, key).then(
        (refusal) => {
          refused = refusal;
          verify(refusal === undefined);
        },
        (err: unknown) => {
          refused = new TransportError('local', ep.master, `host key check of ${c.where} failed: ${String(err)}`, { cause: err });
          verify(false);
        },
      );
      return undefined;
    },
    algorithms: preferredHostKeyAlgorithms(entries, ep.host, ep.port),
    refusal: () => refused,
  };
}

interface KeyCheck {
  ep: Endpoint;
  knownHosts: string;
  policy: HostKeyPolicy;
  onWarning: (message: string) => void;
  entries: Awaited<ReturnType<typeof readKnownHosts>>;
  /** "master-1 (10.0.0.1:22)" */
  where: string;
}

/** The refusal of the key a master offered, or undefined to accept it (known; policy off; accept-new, once added). */
async function judgeKey(c: KeyCheck, key: Buffer): Promise<TransportError | undefined> {
  const { ep, knownHosts, where } = c;
  const type = keyTypeOf(key);
  const fp = `${type} ${fingerprintSha256(key)}`;
  const found = checkHostKey(c.entries, ep.host, ep.port, key);
  if (found.status === 'known') return undefined;
  if (found.status === 'revoked') {
    return new TransportError('hostkey-changed', ep.master, `host key of ${where} is REVOKED (${fp}, marked @revoked in ${knownHosts}:${found.line}); refusing to connect, whatever ssh.hostKeyPolicy says`, {
      hint: 'this key must not be trusted; have the master get a new host key',
    });
  }
  if (found.status === 'changed') {
    return new TransportError(
      'hostkey-changed',
      ep.master,
      `host key of ${where} has CHANGED: it offered ${fp}, but ${knownHosts}:${found.line} holds another ${type} key; someone may be intercepting the connection (or the master was reinstalled); refusing to connect, whatever ssh.hostKeyPolicy says`,
      { hint: `if the master was reinstalled, verify the new fingerprint on it, then remove the old entry: ssh-keygen -R ${shellQuote(knownHostName(ep.host, ep.port))} -f ${shellQuote(knownHosts)}` },
    );
  }
  if (c.policy === 'off') {
    c.onWarning(`hostKeyPolicy is off: accepted the unknown host key of ${where} (${fp}) without checking it; set ssh.hostKeyPolicy: strict once the key is in ${knownHosts}`);
    return undefined;
  }
  if (c.policy === 'accept-new') return acceptNew(c, key, fp);
  const others = found.otherTypes.length > 0 ? ` (known_hosts has only its ${found.otherTypes.join(', ')} key)` : '';
  return new TransportError(
    'hostkey-unknown',
    ep.master,
    `host key of ${where} is not in ${knownHosts}${others}: ${fp}; verify it, then accept it with \`ssh-keyscan -p ${ep.port} -t ${shortType(type)} ${shellQuote(ep.host)} >> ${shellQuote(knownHosts)}\` or set ssh.hostKeyPolicy: accept-new`,
    { hint: `compare ${fingerprintSha256(key)} with \`ssh-keygen -lf /etc/ssh/ssh_host_${shortType(type)}_key.pub\` on the master before accepting it` },
  );
}

/** accept-new: add an unknown key to known_hosts (refused when it cannot be written). */
async function acceptNew(c: KeyCheck, key: Buffer, fp: string): Promise<TransportError | undefined> {
  try {
    await appendKnownHost(c.knownHosts, c.ep.host, c.ep.port, key);
  } catch (err) {
    return new TransportError('hostkey-unknown', c.ep.master, `host key of ${c.where} is unknown (${fp}) and cannot be added to ${c.knownHosts}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  c.onWarning(`added the host key of ${c.where} to ${c.knownHosts}: ${fp}`);
  return undefined;
}
