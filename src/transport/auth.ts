// Which credentials to offer, as OpenSSH would: the inventory's identityFile (passphrase from
// an env var, or a prompt on a TTY); else ssh-agent; else ~/.ssh/id_ed25519, then id_rsa.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { TransportError } from '../errors.js';
import type { MasterConn } from './types.js';
import { expandHome } from '../util/paths.js';

/** One authentication attempt ssh2's authHandler can make. */
export type AuthMethod =
  | { type: 'publickey'; label: string; key: Buffer; passphrase?: string }
  | { type: 'agent'; label: string; agent: string };

export const DEFAULT_PASSPHRASE_ENV = 'ZKOPS_SSH_PASSPHRASE';

function isEncryptedError(parsed: unknown): boolean {
  return parsed instanceof Error && /passphrase|encrypted/i.test(parsed.message);
}

/** Read a passphrase from the terminal without echo. */
export async function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  const wasRaw = stdin.isRaw;
  stdin.setRawMode(true);
  stdin.resume();
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
            reject(new Error('interrupted'));
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
  }
}

/** The identityFile as a publickey method, its passphrase resolved; errors say what to do. */
async function identityMethod(master: MasterConn, file: string): Promise<AuthMethod> {
  let key: Buffer;
  try {
    key = await readFile(file);
  } catch (err) {
    throw new TransportError('auth', master.name, `cannot read the SSH identity file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      hint: 'fix ssh.identityFile in the inventory',
      cause: err,
    });
  }
  const parsed = ssh2.utils.parseKey(key);
  if (!isEncryptedError(parsed)) {
    if (parsed instanceof Error) {
      throw new TransportError('auth', master.name, `the SSH identity file ${file} is not a private key zkops can read (${parsed.message})`, {
        hint: 'use an OpenSSH or PEM private key (ed25519, ecdsa or rsa)',
      });
    }
    return { type: 'publickey', label: `publickey ${file}`, key };
  }
  const envName = master.passphraseEnv ?? DEFAULT_PASSPHRASE_ENV;
  let passphrase = process.env[envName];
  if (passphrase === undefined) {
    if (!process.stdin.isTTY) {
      throw new TransportError('auth', master.name, `the SSH identity file ${file} is encrypted and ${envName} is not set`, {
        hint: `export ${envName}=… (the key's passphrase), or load the key into ssh-agent and drop ssh.identityFile`,
      });
    }
    passphrase = await promptHidden(`Passphrase for ${file}: `);
  }
  if (ssh2.utils.parseKey(key, passphrase) instanceof Error) {
    throw new TransportError('auth', master.name, `wrong passphrase for the SSH identity file ${file}`, {
      hint: `check ${envName}, or load the key into ssh-agent`,
    });
  }
  return { type: 'publickey', label: `publickey ${file}`, key, passphrase };
}

/** The methods to try for a master, in OpenSSH's order; never empty unless nothing exists. */
export async function authMethods(master: MasterConn): Promise<AuthMethod[]> {
  if (master.identityFile !== undefined) return [await identityMethod(master, expandHome(master.identityFile))];
  const methods: AuthMethod[] = [];
  const sock = process.env.SSH_AUTH_SOCK;
  if (sock) methods.push({ type: 'agent', label: `ssh-agent (${sock})`, agent: sock });
  for (const name of ['id_ed25519', 'id_rsa']) {
    const file = join(homedir(), '.ssh', name);
    if (!existsSync(file)) continue;
    const key = await readFile(file).catch(() => undefined);
    if (key === undefined) continue;
    const parsed = ssh2.utils.parseKey(key);
    if (!(parsed instanceof Error)) {
      methods.push({ type: 'publickey', label: `publickey ${file}`, key });
      continue;
    }
    const passphrase = process.env[master.passphraseEnv ?? DEFAULT_PASSPHRASE_ENV];
    if (passphrase !== undefined && !(ssh2.utils.parseKey(key, passphrase) instanceof Error)) {
      methods.push({ type: 'publickey', label: `publickey ${file}`, key, passphrase });
    }
  }
  return methods;
}
