// One master's connection as ssh_config and the inventory make it together: the inventory is
// ssh's command line (`-l user -p port -J jump -i key -o UserKnownHostsFile=...`), so it wins
// and ssh_config fills the rest, exactly as `ssh -G` would show. The jump hosts are resolved
// each through its own ssh_config block. Every host that comes out is checked like an
// inventory host, since it reaches ssh2, known_hosts, terminals and journals.

import { MAX_DURATION_MS } from '../util/duration.js';
import { isHost, HOST_RULE, unbracket } from './addresses.js';
import { configProblem } from './ssh-config-parse.js';
import { parseJumpList, resolveJumpChain, type Hop, type ResolvedHost, type SshConfig } from './ssh-config.js';
import type { JumpHost } from './types.js';

/** What the inventory says about a master's connection (undefined: it leaves it to ssh_config). */
export interface InventoryConn {
  /** The host as written, unbracketed (ssh's host argument, %n). */
  host: string;
  user?: string;
  port?: number;
  /** `jump:` as written (user@host:port or a Host alias). */
  jump?: string;
  /** `identityFile:` resolved against the inventory's directory: that key alone is offered. */
  identityFile?: string;
  /** `knownHosts:` resolved: it serves every hop too. */
  knownHosts?: string;
}

/** The connection settings ssh_config and the inventory give together. */
export interface ConnSettings {
  host: string;
  port: number;
  user: string;
  /** IdentityFile lines of ssh_config (absent: the inventory's key, or ssh-agent and the defaults). */
  identityFiles?: string[];
  identitiesOnly?: boolean;
  /** UserKnownHostsFile of ssh_config (its first file; `none` is /dev/null). */
  knownHosts?: string;
  connectTimeoutMs?: number;
  /** First to connect to first. */
  jumps: JumpHost[];
}

const CONTROL = /[\u0000-\u001f\u007f]/;

/** The host a ResolvedHost connects to, refused (at the line that gave it) when it is not a host. */
function checkedHost(r: ResolvedHost): string {
  const host = unbracket(r.hostName);
  if (isHost(host)) return host;
  const at = r.from.hostName;
  const why = `HostName "${r.hostName}" (for ${r.hostArg}) is not a host: ${HOST_RULE}`;
  throw at ? configProblem(at.file, at.line, why) : configProblem('<ssh_config>', 0, why);
}

function checkedUser(r: ResolvedHost): string {
  if (!CONTROL.test(r.user) && r.user !== '') return r.user;
  const at = r.from.user ?? { file: '<ssh_config>', line: 0 };
  throw configProblem(at.file, at.line, `User ${JSON.stringify(r.user)} (for ${r.hostArg}) has control characters`);
}

/** zkops never runs a command from ssh_config, so a ProxyCommand that applies is refused. */
function refuseProxyCommand(r: ResolvedHost): void {
  const pc = r.proxyCommand;
  if (!pc) return;
  throw configProblem(
    pc.file,
    pc.line,
    `ProxyCommand "${pc.command}" applies to ${r.hostArg}, and zkops never runs commands from ssh_config: write it as ProxyJump (\`ProxyCommand ssh -W %h:%p bastion\` is \`ProxyJump bastion\`), or give jump: in the inventory`,
  );
}

/** A jump host's settings: its own IdentityFile, IdentitiesOnly and UserKnownHostsFile when its block gives them. */
function jumpHost(r: ResolvedHost, inv: InventoryConn): JumpHost {
  refuseProxyCommand(r);
  const hop: JumpHost = { host: checkedHost(r), port: r.port, user: checkedUser(r) };
  if (!r.identityFilesDefault) hop.identityFiles = r.identityFiles;
  if (r.identitiesOnly) hop.identitiesOnly = true;
  const kh = knownHostsOf(r);
  if (kh !== undefined && inv.knownHosts === undefined) hop.knownHosts = kh;
  return hop;
}

function knownHostsOf(r: ResolvedHost): string | undefined {
  if (!r.from.userKnownHostsFile) return undefined;
  const first = r.userKnownHostsFiles[0] as string;
  return first === 'none' ? '/dev/null' : first;
}

/** `ssh -G` for one master with the inventory as its command line, and the jump chain. */
export function connectionOf(cfg: SshConfig, inv: InventoryConn, warn: (message: string) => void): ConnSettings {
  const cmdJump = inv.jump === undefined ? undefined : parseJumpList(inv.jump);
  const r = cfg.resolve(inv.host, {
    ...(inv.user !== undefined ? { user: inv.user } : {}),
    ...(inv.port !== undefined ? { port: inv.port } : {}),
    ...(Array.isArray(cmdJump) ? { proxyJump: cmdJump } : {}),
  }, warn);
  refuseProxyCommand(r);
  const out: ConnSettings = { host: checkedHost(r), port: r.port, user: checkedUser(r), jumps: [] };
  if (!r.identityFilesDefault && inv.identityFile === undefined) out.identityFiles = r.identityFiles;
  if (r.identitiesOnly) out.identitiesOnly = true;
  const kh = knownHostsOf(r);
  if (kh !== undefined) out.knownHosts = kh;
  // a week at most, as every duration of zkops (node's timers overflow past 24.8 days)
  if (r.connectTimeoutS !== undefined) out.connectTimeoutMs = Math.min(r.connectTimeoutS * 1000, MAX_DURATION_MS);
  if (r.proxyJump) out.jumps = resolveJumpChain(cfg, r.proxyJump as Hop[], warn).map((h) => jumpHost(h, inv));
  return out;
}
