// Which credentials to offer, as OpenSSH would: the inventory's identityFile alone; else the
// IdentityFile keys of ~/.ssh/config (ssh-agent's other keys between them, unless
// IdentitiesOnly); else ssh-agent, then ~/.ssh/id_ed25519 and id_rsa. A key file ssh-agent holds
// is signed by the agent, with no passphrase asked. An encrypted key is unlocked once per run:
// the first connection that needs it asks (or reads the passphrase variable), every master,
// jump host and reconnect after it reuses the decrypted key, and two different keys never ask
// on the terminal at the same time.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import ssh2, { type ParsedKey } from 'ssh2';
import { Interrupted, TransportError } from '../errors.js';
import { expandHome } from '../util/paths.js';

/** One authentication attempt ssh2's authHandler can make. */
export type AuthMethod =
  | { type: 'publickey'; label: string; key: Buffer | ParsedKey; passphrase?: string }
  | { type: 'agent'; label: string; agent: string | ssh2.BaseAgent };

/** Whose keys these are (a master, or a jump host on its behalf) and where they come from. */
export interface KeySource {
  /** The master, for messages. */
  name: string;
  /** The inventory's key: offered alone when identityFiles is not given. */
  identityFile?: string;
  /** ~/.ssh/config's IdentityFile keys, in order. */
  identityFiles?: string[];
  identitiesOnly?: boolean;
  passphraseEnv?: string;
}

export const DEFAULT_PASSPHRASE_ENV = 'ZKOPS_SSH_PASSPHRASE';
/** Questions per key before zkops gives up on it (OpenSSH's NumberOfPasswordPrompts). */
export const PASSPHRASE_TRIES = 3;

// ---- the run's unlocked keys ----

/** Why a key cannot be used (each master's connection turns it into its own TransportError). */
class KeyError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

/** By sha256 of the key file's bytes: the decrypted key, or why the operator gave up on it. */
const unlocked = new Map<string, Promise<ParsedKey>>();
/** The terminal asks one question at a time. */
let terminal: Promise<unknown> = Promise.resolve();

/** Read a passphrase from the terminal without echo; Ctrl-C interrupts the run as a signal would. */
export async function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  const wasRaw = stdin.isRaw;
  let interrupted = false;
  // echo off before the question: an answer typed (or pasted) as soon as it shows is not echoed
  stdin.setRawMode(true);
  stdin.resume();
  process.stderr.write(question);
  try {
    return await new Promise<string>((resolve, reject) => {
      let text = '';
      const onData = (d: Buffer): void => {
        for (const ch of d.toString('utf8')) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') {
            stdin.off('data', onData);
            resolve(text);
            return;
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            interrupted = true;
            reject(new Interrupted('interrupted at the passphrase question'));
            return;
          }
          if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
          else text += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(wasRaw);
    stdin.pause();
    process.stderr.write('\n');
    // raw mode turned Ctrl-C into a character: give the run its signal back, the terminal restored
    if (interrupted) process.kill(process.pid, 'SIGINT');
  }
}

/** Up to PASSPHRASE_TRIES questions; an empty answer gives up on the key (as ssh does). */
function askUntilUnlocked(file: string, bytes: Buffer): Promise<ParsedKey> {
  const turn = terminal.then(async () => {
    for (let i = 1; i <= PASSPHRASE_TRIES; i++) {
      const answer = await promptHidden(i === 1 ? `Enter passphrase for key '${file}': ` : `Bad passphrase, try again for key '${file}' (${i} of ${PASSPHRASE_TRIES}): `);
      if (answer === '') throw new KeyError(`no passphrase given for the SSH identity file ${file}`, `run again and type it, set ${DEFAULT_PASSPHRASE_ENV}, or load the key into ssh-agent (ssh-add ${file})`);
      const key = ssh2.utils.parseKey(bytes, answer);
      if (!(key instanceof Error)) return key;
    }
    throw new KeyError(`wrong passphrase for the SSH identity file ${file} (${PASSPHRASE_TRIES} tries)`, `check it with \`ssh-keygen -y -f ${file}\`, or load the key into ssh-agent (ssh-add ${file})`);
  });
  terminal = turn.catch(() => undefined);
  return turn;
}

/**
 * The decrypted key of an encrypted key file: from this run's earlier answer, the passphrase
 * variable, or the terminal (once; a wrong or empty answer is remembered too, so no other master
 * asks again). Without a variable or a terminal it is a KeyError saying what to set.
 */
function unlockKey(file: string, bytes: Buffer, envName: string): Promise<ParsedKey> {
  const digest = createHash('sha256').update(bytes).digest('hex');
  const known = unlocked.get(digest);
  if (known) return known;
  const fromEnv = process.env[envName];
  if (fromEnv !== undefined) {
    const key = ssh2.utils.parseKey(bytes, fromEnv);
    if (key instanceof Error) return Promise.reject(new KeyError(`wrong passphrase for the SSH identity file ${file}`, `check ${envName}, or load the key into ssh-agent`));
    const done = Promise.resolve(key);
    unlocked.set(digest, done);
    return done;
  }
  if (!process.stdin.isTTY) {
    return Promise.reject(new KeyError(`the SSH identity file ${file} is encrypted and ${envName} is not set`, `export ${envName}=… (the key's passphrase), or load the key into ssh-agent (ssh-add ${file})`));
  }
  const asked = askUntilUnlocked(file, bytes);
  unlocked.set(digest, asked);
  asked.catch(() => undefined);
  return asked;
}

// ---- ssh-agent ----

/** An agent that shows only some of the real agent's keys (one IdentityFile's, or all the others). */
class SomeKeysAgent extends ssh2.BaseAgent<ParsedKey> {
  constructor(
    private readonly real: ssh2.OpenSSHAgent,
    private readonly keep: (blob: Buffer) => boolean,
  ) {
    super();
  }

  getIdentities(cb: (err: Error | undefined, keys?: ParsedKey[]) => void): void {
    this.real.getIdentities((err, keys) => (err ? cb(err) : cb(undefined, parsedKeys(keys).filter((k) => this.keep(k.getPublicSSH())))));
  }

  sign(...args: unknown[]): void {
    (this.real.sign as (...a: unknown[]) => boolean).apply(this.real, args);
  }
}

/** The parsed keys of an agent's answer (OpenSSH's agent gives nothing else). */
function parsedKeys(keys: readonly unknown[] | undefined): ParsedKey[] {
  return (keys ?? []).filter((k): k is ParsedKey => typeof (k as Partial<ParsedKey>).getPublicSSH === 'function');
}

/** The agent's public keys (none when it does not answer). */
function agentKeys(agent: ssh2.OpenSSHAgent): Promise<ParsedKey[]> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve([]), 5000);
    agent.getIdentities((err, keys) => {
      clearTimeout(timer);
      resolve(err ? [] : parsedKeys(keys));
    });
  });
}

/** The public half of a private key file: parsed, from an OpenSSH key's clear header, or from FILE.pub. */
function publicBlobOf(file: string, bytes: Buffer): Buffer | undefined {
  const parsed = ssh2.utils.parseKey(bytes);
  if (!(parsed instanceof Error)) return parsed.getPublicSSH();
  const header = opensshPublicBlob(bytes);
  if (header) return header;
  try {
    const pub = ssh2.utils.parseKey(readFileSync(`${file}.pub`));
    return pub instanceof Error ? undefined : pub.getPublicSSH();
  } catch {
    return undefined;
  }
}

/** openssh-key-v1: magic, cipher, kdf, kdf options, key count, then the first public key in clear. */
function opensshPublicBlob(bytes: Buffer): Buffer | undefined {
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(bytes.toString('utf8'));
  if (!m) return undefined;
  const b = Buffer.from((m[1] as string).replace(/\s+/g, ''), 'base64');
  const magic = 'openssh-key-v1\0';
  if (b.subarray(0, magic.length).toString('latin1') !== magic) return undefined;
  let at = magic.length;
  const str = (): Buffer | undefined => {
    if (at + 4 > b.length) return undefined;
    const n = b.readUInt32BE(at);
    const s = b.subarray(at + 4, at + 4 + n);
    at += 4 + n;
    return s.length === n ? s : undefined;
  };
  if (!str() || !str() || !str() || at + 4 > b.length) return undefined;
  at += 4;
  return str();
}

// ---- the methods ----

interface Agent {
  sock: string;
  real: ssh2.OpenSSHAgent;
  keys: ParsedKey[];
}

/** A key file: the agent's copy when it holds the key (`held`), else the file, unlocked once per run. */
async function fileMethod(who: KeySource, file: string, agent: Agent | undefined, required: boolean): Promise<{ method: AuthMethod; held?: Buffer } | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    // OpenSSH skips an IdentityFile of ssh_config that does not exist; the inventory's must
    if (!required) return undefined;
    throw new TransportError('auth', who.name, `cannot read the SSH identity file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      hint: 'fix ssh.identityFile in the inventory',
      cause: err,
    });
  }
  const blob = agent ? publicBlobOf(file, bytes) : undefined;
  if (agent && blob && agent.keys.some((k) => k.getPublicSSH().equals(blob))) {
    return { method: { type: 'agent', label: `publickey ${file} (ssh-agent)`, agent: new SomeKeysAgent(agent.real, (b) => b.equals(blob)) }, held: blob };
  }
  const parsed = ssh2.utils.parseKey(bytes);
  if (!(parsed instanceof Error)) return { method: { type: 'publickey', label: `publickey ${file}`, key: parsed } };
  if (!/passphrase|encrypted/i.test(parsed.message)) {
    if (!required) return undefined;
    throw new TransportError('auth', who.name, `the SSH identity file ${file} is not a private key zkops can read (${parsed.message})`, {
      hint: 'use an OpenSSH or PEM private key (ed25519, ecdsa or rsa)',
    });
  }
  try {
    return { method: { type: 'publickey', label: `publickey ${file}`, key: await unlockKey(file, bytes, who.passphraseEnv ?? DEFAULT_PASSPHRASE_ENV) } };
  } catch (err) {
    if (err instanceof KeyError) throw new TransportError('auth', who.name, err.message, { hint: err.hint });
    throw err;
  }
}

/** The methods to try for a master (or a jump host for it), in OpenSSH's order; never empty unless nothing exists. */
export async function authMethods(who: KeySource): Promise<AuthMethod[]> {
  const sock = process.env.SSH_AUTH_SOCK;
  const alone = who.identityFiles === undefined && who.identityFile !== undefined;
  const files = who.identityFiles ?? (who.identityFile !== undefined ? [who.identityFile] : undefined);
  if (files === undefined) return defaultMethods(who, sock);
  const real = sock ? new ssh2.OpenSSHAgent(sock) : undefined;
  const agent: Agent | undefined = real && sock ? { sock, real, keys: await agentKeys(real) } : undefined;
  const inAgent: AuthMethod[] = [];
  const fromFiles: AuthMethod[] = [];
  const held: Buffer[] = [];
  for (const file of files) {
    const m = await fileMethod(who, expandHome(file), agent, alone);
    if (!m) continue;
    if (m.held) held.push(m.held);
    (m.held ? inAgent : fromFiles).push(m.method);
  }
  // the agent's other keys come after the IdentityFiles it holds and before the others, as OpenSSH orders them
  const others: AuthMethod[] = !alone && !who.identitiesOnly && agent ? [{ type: 'agent', label: `ssh-agent (${agent.sock})`, agent: new SomeKeysAgent(agent.real, (b) => !held.some((h) => h.equals(b))) }] : [];
  return [...inAgent, ...others, ...fromFiles];
}

/** No key configured: ssh-agent (unless IdentitiesOnly), then ~/.ssh/id_ed25519 and id_rsa when they need no question. */
async function defaultMethods(who: KeySource, sock: string | undefined): Promise<AuthMethod[]> {
  const methods: AuthMethod[] = [];
  if (sock && !who.identitiesOnly) methods.push({ type: 'agent', label: `ssh-agent (${sock})`, agent: sock });
  const envName = who.passphraseEnv ?? DEFAULT_PASSPHRASE_ENV;
  for (const name of ['id_ed25519', 'id_rsa']) {
    const file = join(homedir(), '.ssh', name);
    if (!existsSync(file)) continue;
    const bytes = await readFile(file).catch(() => undefined);
    if (bytes === undefined) continue;
    const parsed = ssh2.utils.parseKey(bytes);
    if (!(parsed instanceof Error)) {
      methods.push({ type: 'publickey', label: `publickey ${file}`, key: parsed });
      continue;
    }
    // an encrypted default key is used with the passphrase variable only: ssh-agent is its usual way
    if (process.env[envName] === undefined) continue;
    const key = await unlockKey(file, bytes, envName).catch(() => undefined);
    if (key) methods.push({ type: 'publickey', label: `publickey ${file}`, key });
  }
  return methods;
}
