// What an inventory may give as a master's address and as a remote directory. Both end up in
// remote shells, ssh, terminals and journals, so each is checked on load: a host is a DNS name,
// an IPv4 or IPv6 address or an ssh_config Host alias, and nothing a shell, ssh or a terminal
// would read as more; a directory is a clean absolute path that zkops can safely write into.

import { isIPv6 } from 'node:net';

/** DNS names, IPv4 addresses and ssh_config aliases; never a leading "-" (ssh reads an option). */
const HOST_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** What a host may be, for messages. */
export const HOST_RULE = 'give a DNS name, an IPv4 or IPv6 address, or a Host alias of ~/.ssh/config (letters, digits, ".", "-" and "_", not starting with "-")';

/** `[fd00::1]` → `fd00::1`: ssh2 and known_hosts want the bare address. */
export function unbracket(host: string): string {
  return host.length > 2 && host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** True for a DNS name, an IPv4 address, an IPv6 address (bracketed or not) or a Host alias. */
export function isHost(host: string): boolean {
  const bare = unbracket(host);
  if (isIPv6(bare)) return true;
  return bare === host && host.length <= 254 && HOST_NAME.test(host);
}

/** The form in which two hosts are the same: case-insensitive, no trailing dot, IPv6 compressed. */
export function hostKey(host: string): string {
  const bare = unbracket(host).toLowerCase();
  if (!isIPv6(bare)) return bare.replace(/\.$/, '');
  try {
    return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  } catch {
    return bare; // a zone id (fe80::1%eth0) is not a URL host
  }
}

const PATH_PART = /^[A-Za-z0-9._@+,:-]+$/;

/**
 * Why a remote directory cannot be used, or undefined: it must be absolute, without `.` or `..`,
 * spaces, control or shell characters, and have at least `minParts` components (`/` is never a
 * ZooKeeper directory nor a place for zkops's files). Repeated and trailing slashes are fine.
 */
export function remoteDirProblem(path: string, minParts: number, tooShort: string): string | undefined {
  if (!path.startsWith('/')) return 'must be an absolute path';
  const parts = path.split('/').filter((p) => p !== '');
  if (parts.some((p) => !PATH_PART.test(p))) return 'may hold only letters, digits and . _ - + @ , : between its slashes (no spaces, control or shell characters)';
  if (parts.some((p) => p === '.' || p === '..')) return 'must not have "." or ".." components';
  if (parts.length < minParts) return `cannot be ${JSON.stringify(path)}: ${tooShort}`;
  return undefined;
}
