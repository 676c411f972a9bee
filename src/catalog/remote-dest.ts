// Where a catalog is, as `zkops copy ID DEST`, `--dir` and `backup --copy-to` take it: a local
// directory, or `[user@]host:/path` over SSH (scp's rule: a colon before any slash). The SSH
// settings of such a host: the user from DEST; with `-i INV`, the inventory's `ssh:` section
// (key, known_hosts, host key policy, port, timeouts) or, when the host is one of its masters,
// that master's own settings; then ~/.ssh/config (HostName, User, Port, IdentityFile,
// ProxyJump) as for a master; known_hosts checked as everywhere in zkops (strict unless the
// inventory says otherwise). Files are written as the login user (no sudo).

import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { UsageError } from '../errors.js';
import { HOST_RULE, hostKey, isHost, remoteDirProblem, unbracket } from '../inventory/addresses.js';
import { loadInventory, parseInventory } from '../inventory/load.js';
import { SshConfig, sshConfigFiles } from '../inventory/ssh-config.js';
import type { MasterConn } from '../inventory/types.js';

/** A catalog directory on this machine, or one on another host reached over SSH. */
export type CatalogLocation = { kind: 'dir'; dir: string } | RemoteLocation;

export interface RemoteLocation {
  kind: 'ssh';
  /** The user written in DEST (undefined: from the inventory, ~/.ssh/config, or the current user). */
  user: string | undefined;
  /** As written (an ssh_config alias, a name, an address; IPv6 unbracketed). */
  host: string;
  /** Absolute directory on that host, without a trailing slash. */
  path: string;
}

const USER = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
/** `[user@]host:path`, host possibly `[v6]`. */
const REMOTE = /^(?:([^@/]*)@)?(\[[^\]/]*\]|[^:/@[\]]*):(.*)$/s;

/** True when `text` names a catalog over SSH: scp's rule, a colon before any slash (`./a:b` is a local path). */
export function isRemoteCatalog(text: string): boolean {
  return /^[^/]*:/s.test(text);
}

/** Parse a catalog location; a malformed `host:path` is a UsageError naming what to give. */
export function parseLocation(text: string): CatalogLocation {
  if (!isRemoteCatalog(text)) return { kind: 'dir', dir: resolve(text) };
  const example = 'write it like backup@nas.example.com:/srv/zk-backups (a local directory with a colon: ./name:x)';
  const m = REMOTE.exec(text);
  if (!m) throw new UsageError(`${text} is neither a directory nor user@host:/path`, { hint: example });
  const [, user, host = '', path = ''] = m;
  if (user !== undefined && !USER.test(user)) throw new UsageError(`${text}: "${user}" is not a user name`, { hint: example });
  if (!isHost(host)) throw new UsageError(`${text}: "${host}" is not a host: ${HOST_RULE}`, { hint: example });
  const problem = remoteDirProblem(path, 1, 'give a directory of its own, like /srv/zk-backups');
  if (problem !== undefined) throw new UsageError(`${text}: the remote directory ${problem}`, { hint: example });
  const clean = `/${path.split('/').filter((p) => p !== '').join('/')}`;
  return { kind: 'ssh', user, host: unbracket(host), path: clean };
}

/** `user@host:/path` (IPv6 bracketed): how a remote catalog is recorded in `copies` and shown. */
export function locationText(l: CatalogLocation, user?: string): string {
  if (l.kind === 'dir') return l.dir;
  const u = user ?? l.user;
  const host = l.host.includes(':') ? `[${l.host}]` : l.host;
  return `${u === undefined ? '' : `${u}@`}${host}:${l.path}`;
}

/**
 * The connection settings of a remote catalog's host: one master of an inventory built for it
 * (so ~/.ssh/config, defaults and paths resolve exactly as for a master), with `-i INV`
 * lending its `ssh:` section, or the master's own settings when the host is one of its masters.
 */
export async function connOf(l: RemoteLocation, inventoryFile: string | undefined, onWarning: (message: string) => void = () => undefined): Promise<MasterConn> {
  const host = l.host.includes(':') ? `[${l.host}]` : l.host;
  const finish = (m: MasterConn): MasterConn => ({ ...m, name: locationText(l, m.user), become: 'none' });
  // the ssh_config files loadInventory reads, read the same way
  const sshConfig = SshConfig.load(sshConfigFiles());
  if (inventoryFile === undefined) {
    const text = stringifyYaml({ cluster: 'catalog', masters: [{ host, ...(l.user ? { user: l.user } : {}) }] });
    return finish(only(parseInventory(join(process.cwd(), 'catalog-destination'), text, sshConfig, onWarning).masters[0]));
  }
  const inv = await loadInventory(inventoryFile, onWarning);
  const master = inv.masters.find((m) => m.name === l.host || hostKey(m.inventoryHost) === hostKey(l.host) || hostKey(m.host) === hostKey(l.host));
  if (master) {
    const { index: _i, inventoryHost: _h, ...conn } = master;
    return finish(l.user ? { ...conn, user: l.user } : conn);
  }
  const raw = parseYaml(await readFile(inv.file, 'utf8')) as { ssh?: unknown };
  const text = stringifyYaml({ cluster: inv.cluster, ...(raw.ssh ? { ssh: raw.ssh } : {}), masters: [{ host, ...(l.user ? { user: l.user } : {}) }] });
  // the inventory's own path: its relative identityFile and knownHosts resolve as for its masters
  return finish(only(parseInventory(inv.file, text, sshConfig, onWarning).masters[0]));
}

function only<T>(v: T | undefined): T {
  if (v === undefined) throw new Error('no master parsed');
  return v;
}
