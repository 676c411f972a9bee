// OpenSSH known_hosts: parse, look up a host's key, fingerprint a key, append an entry.
// Hand-written: npm had no maintained parser that handles hashed `|1|salt|hmac` entries,
// `[host]:port` forms and the @revoked marker (checked 2026-11; the registry's search was
// unavailable here and the package lists held none), and the format is small (sshd(8)
// "SSH_KNOWN_HOSTS FILE FORMAT").

import { createHash, createHmac, randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface KnownHostEntry {
  /** 1-based line in the file, for messages ("offending key in known_hosts:12"). */
  line: number;
  marker: 'revoked' | 'cert-authority' | undefined;
  /** The host field as written: a comma list of patterns, or one `|1|salt|hash`. */
  hosts: string;
  keyType: string;
  /** The decoded public key blob (what the server sends in the key exchange). */
  key: Buffer;
}

/** The outcome of looking a presented host key up. */
export type HostKeyStatus =
  | { status: 'known'; line: number }
  | { status: 'unknown'; otherTypes: string[] }
  | { status: 'changed'; line: number; keyType: string }
  | { status: 'revoked'; line: number };

/** Parse known_hosts text; lines that are not entries (comments, garbage) are skipped. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === undefined || fields[0] === '' || fields[0].startsWith('#')) return;
    let marker: KnownHostEntry['marker'];
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') {
      marker = fields[0] === '@revoked' ? 'revoked' : 'cert-authority';
      fields.shift();
    } else if (fields[0].startsWith('@')) {
      return;
    }
    const [hosts, keyType, b64] = fields;
    if (hosts === undefined || keyType === undefined || b64 === undefined) return;
    const key = Buffer.from(b64, 'base64');
    if (key.length === 0) return;
    entries.push({ line: i + 1, marker, hosts, keyType, key });
  });
  return entries;
}

/** The name known_hosts uses for a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** OpenSSH wildcard match: `*` any run, `?` one character. */
function globMatch(pattern: string, name: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(name);
}

/** True when an entry's host field names host:port (plain, port form, lists, negation, hashed). */
export function entryMatches(entry: Pick<KnownHostEntry, 'hosts'>, host: string, port: number): boolean {
  const name = knownHostName(host, port);
  if (entry.hosts.startsWith('|1|')) {
    const [, , salt, hash] = entry.hosts.split('|');
    if (salt === undefined || hash === undefined) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return mac === hash;
  }
  let matched = false;
  for (const pattern of entry.hosts.split(',')) {
    if (pattern.startsWith('!')) {
      if (globMatch(pattern.slice(1), name)) return false;
    } else if (globMatch(pattern, name)) {
      matched = true;
    }
  }
  return matched;
}

/** The key type named inside a key blob (its first SSH string). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('latin1');
}

/**
 * Look the key a server presented up, as OpenSSH does: a revoked key is refused anywhere; a
 * matching entry with the same key is known; one with the same type and another key is a
 * changed key; no entry of this type is unknown (otherTypes lists the types that are known).
 */
export function checkHostKey(entries: readonly KnownHostEntry[], host: string, port: number, key: Buffer): HostKeyStatus {
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { status: 'revoked', line: revoked.line };
  const mine = entries.filter((e) => e.marker === undefined && entryMatches(e, host, port));
  const same = mine.find((e) => e.key.equals(key));
  if (same) return { status: 'known', line: same.line };
  const type = keyTypeOf(key);
  const changed = mine.find((e) => e.keyType === type);
  if (changed) return { status: 'changed', line: changed.line, keyType: type };
  return { status: 'unknown', otherTypes: [...new Set(mine.map((e) => e.keyType))] };
}

/** The OpenSSH fingerprint of a key blob: `SHA256:` + base64 without padding (ssh-keygen -lf). */
export function fingerprintSha256(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

const HOSTKEY_ALGOS: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};
const DEFAULT_HOSTKEY_ORDER = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

/**
 * Host key algorithms with the types already known for this host first (as OpenSSH orders
 * them), so a host known by its RSA key is not asked for an unknown ed25519 key.
 */
export function preferredHostKeyAlgorithms(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const known = entries.filter((e) => e.marker === undefined && entryMatches(e, host, port)).flatMap((e) => HOSTKEY_ALGOS[e.keyType] ?? []);
  return [...new Set([...known, ...DEFAULT_HOSTKEY_ORDER])];
}

/** Read and parse a known_hosts file; a missing file has no entries. */
export async function readKnownHosts(file: string): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** One known_hosts line for host:port; hashed (`|1|salt|hmac`) when asked. */
export function formatKnownHostsLine(host: string, port: number, key: Buffer, hashed = false): string {
  const name = knownHostName(host, port);
  let field = name;
  if (hashed) {
    const salt = randomBytes(20);
    field = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
  }
  return `${field} ${keyTypeOf(key)} ${key.toString('base64')}`;
}

/** Append host:port's key (accept-new), hashed when the file already hashes its hosts. */
export async function appendKnownHost(file: string, host: string, port: number, key: Buffer): Promise<void> {
  let existing = '';
  try {
    existing = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  }
  const hashed = parseKnownHosts(existing).some((e) => e.hosts.startsWith('|1|'));
  const sep = existing === '' || existing.endsWith('\n') ? '' : '\n';
  await appendFile(file, `${sep}${formatKnownHostsLine(host, port, key, hashed)}\n`, { mode: 0o600 });
}
