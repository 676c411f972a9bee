// One pass over ssh_config for one host, as readconf.c's process_config_line: Host and Match
// decide which lines apply, an option line is checked whether or not it applies and stored
// when it applies and nothing came first (IdentityFile accumulates), Include keeps the
// including file's state. Pure: the files were read before.

import type { ConfigEntry, ConfigLine } from './ssh-config-parse.js';
import { configProblem } from './ssh-config-parse.js';
import { convtime, expand, matchHostname, matchPattern, matchPatternList, parseJumpList, sshGJumpText, type Hop, type Where } from './ssh-config-tokens.js';

export interface State {
  hostName?: { value: string } & Where;
  user?: { value: string } & Where;
  port?: { value: number } & Where;
  identityFiles: ({ value: string } & Where)[];
  identitiesOnly?: boolean;
  userKnownHostsFiles?: { value: string[] } & Where;
  /** 'none' blocks later ProxyJump lines but not a ProxyCommand (OpenSSH 9.2). */
  proxyJump?: { value: Hop[] | 'none'; text: string; fromCommandLine: boolean } & Partial<Where>;
  proxyCommand?: { value: string } & Where;
  connectTimeout?: { value: number } & Where;
  strictHostKeyChecking?: string;
  hostKeyAlias?: string;
  canonicalizeHostname?: string;
  wantFinal: boolean;
}

export interface Pass {
  /** What Host patterns match: the name as given, then (final pass) the resolved HostName. */
  hostForHost: string;
  hostArg: string;
  final: boolean;
  localUser: string;
  warn: (message: string) => void;
}

const FLAG: Record<string, boolean> = { yes: true, true: true, no: false, false: false };
const STRICT: Record<string, string> = { yes: 'true', true: 'true', no: 'false', false: 'false', off: 'false', ask: 'ask', 'accept-new': 'accept-new' };

/** One option line: checked whether or not it applies (as readconf.c does), stored when it applies and nothing came first. */
function applyLine(st: State, l: ConfigLine, active: boolean): void {
  const at: Where = { file: l.file, line: l.line };
  const arg = l.args[0];
  const missing = (): never => {
    throw configProblem(l.file, l.line, `Missing argument for ${l.keyword}`);
  };
  switch (l.keyword) {
    case 'hostname':
      if (arg === undefined || arg === '') missing();
      if (active && !st.hostName) st.hostName = { value: arg as string, ...at };
      return;
    case 'user':
      if (arg === undefined || arg === '') missing();
      if (active && !st.user) st.user = { value: arg as string, ...at };
      return;
    case 'port': {
      if (arg === undefined || !/^\d+$/.test(arg) || Number(arg) < 1 || Number(arg) > 65535) throw configProblem(l.file, l.line, `Bad port '${arg ?? ''}'`);
      if (active && !st.port) st.port = { value: Number(arg), ...at };
      return;
    }
    case 'identityfile':
    case 'identityfile2':
      if (arg === undefined || arg === '') missing();
      if (active && !st.identityFiles.some((f) => f.value === arg)) st.identityFiles.push({ value: arg as string, ...at });
      return;
    case 'identitiesonly': {
      const v = FLAG[(arg ?? '').toLowerCase()];
      if (v === undefined) throw configProblem(l.file, l.line, `unsupported option "${arg ?? ''}" (IdentitiesOnly is yes or no)`);
      if (active && st.identitiesOnly === undefined) st.identitiesOnly = v;
      return;
    }
    case 'userknownhostsfile': {
      if (l.args.some((a, i) => a.toLowerCase() === 'none' && (i > 0 || l.args.length > 1))) throw configProblem(l.file, l.line, 'keyword userknownhostsfile "none" argument must appear alone');
      if (active && !st.userKnownHostsFiles) st.userKnownHostsFiles = { value: l.args, ...at };
      return;
    }
    case 'proxyjump': {
      const value = l.rest.replace(/^[ \t=]+/, '');
      const hops = parseJumpList(value);
      if (hops === undefined) throw configProblem(l.file, l.line, `Invalid ProxyJump "${value}"`);
      if (active && !st.proxyJump && !st.proxyCommand) {
        const text = hops === 'none' ? 'none' : sshGJumpText(value.replace(/[ \t]+$/, ''), hops.at(-1) as Hop);
        st.proxyJump = { value: hops, text, fromCommandLine: false, ...at };
      }
      return;
    }
    case 'proxycommand': {
      const realJump = st.proxyJump && st.proxyJump.value !== 'none';
      if (active && !realJump && !st.proxyCommand) st.proxyCommand = { value: l.rest.replace(/^[ \t=]+/, ''), ...at };
      return;
    }
    case 'connecttimeout': {
      if (arg === 'none') return;
      const v = convtime(arg ?? '');
      if (v === undefined) throw configProblem(l.file, l.line, 'invalid time value');
      if (active && !st.connectTimeout) st.connectTimeout = { value: v, ...at };
      return;
    }
    case 'stricthostkeychecking': {
      const v = STRICT[(arg ?? '').toLowerCase()];
      if (v === undefined) throw configProblem(l.file, l.line, `unsupported option "${arg ?? ''}"`);
      if (active && st.strictHostKeyChecking === undefined) st.strictHostKeyChecking = v;
      return;
    }
    case 'hostkeyalias':
      if (active && st.hostKeyAlias === undefined && arg !== undefined) st.hostKeyAlias = arg;
      return;
    case 'canonicalizehostname':
      if (active && st.canonicalizeHostname === undefined && arg !== undefined) st.canonicalizeHostname = arg.toLowerCase();
      return;
    default:
    // an option zkops does not use
  }
}

/** A Host line: active when a pattern matches and no negated one does. */
function hostLine(l: ConfigLine, host: string): boolean {
  let active = false;
  for (const arg of l.args) {
    const negated = arg.startsWith('!');
    if (matchPattern(host, negated ? arg.slice(1) : arg)) {
      if (negated) return false;
      active = true;
    }
  }
  return active;
}

/** match_cfg_line: whether a Match line applies (a criterion zkops cannot judge makes it not apply, with a warning). */
function matchLine(l: ConfigLine, st: State, p: Pass): boolean {
  const host = p.final ? (st.hostName?.value as string) : st.hostName ? expand(st.hostName.value, { h: p.hostArg }, st.hostName, 'HostName') : p.hostArg;
  const ruser = st.user?.value ?? p.localUser;
  const bad = (why: string): never => {
    throw configProblem(l.file, l.line, `Bad Match condition: ${why}`);
  };
  let result = true;
  let attributes = 0;
  const args = [...l.args];
  while (args.length > 0) {
    const oattrib = args.shift() as string;
    const negate = oattrib.startsWith('!');
    const attrib = (negate ? oattrib.slice(1) : oattrib).toLowerCase();
    if (attrib === 'all') {
      if (attributes > 1 || args.length > 0) bad(`'${oattrib}' cannot be combined with other Match attributes`);
      if (result) result = !negate;
      return result;
    }
    attributes++;
    if (attrib === 'canonical' || attrib === 'final') {
      if (attrib === 'final') st.wantFinal = true;
      if (p.final === negate) result = false;
      continue;
    }
    const arg = args.shift();
    if (arg === undefined || arg === '') bad(`Missing Match criteria for ${attrib}`);
    const list = arg as string;
    let r: boolean;
    if (attrib === 'host') r = matchHostname(host, list);
    else if (attrib === 'originalhost') r = matchHostname(p.hostArg, list);
    else if (attrib === 'user') r = matchPatternList(ruser, list, false) === 1;
    else if (attrib === 'localuser') r = matchPatternList(p.localUser, list, false) === 1;
    else {
      // exec runs a command, which zkops never does; newer criteria (localnetwork, tagged, ...) OpenSSH 9.2 does not know
      if (!result) continue;
      p.warn(`${l.file}:${l.line}: zkops ${attrib === 'exec' ? 'never runs the command of `Match exec`' : `does not judge \`Match ${attrib}\``}, so this Match block is not applied; give the settings it holds in the inventory where a master needs them`);
      result = false;
      continue;
    }
    if (r === negate) result = false;
  }
  if (attributes === 0) bad('One or more attributes required for Match');
  return result;
}

/**
 * The lines of one file for one host. `never`: the file is included from a block that does not
 * apply, so nothing in it applies (its lines are still checked, as OpenSSH checks them).
 */
export function walk(entries: readonly ConfigEntry[], st: State, p: Pass, active: { v: boolean }, never: boolean): void {
  for (const e of entries) {
    if (e.kind === 'include') {
      const before = active.v;
      for (const f of e.files) {
        walk(f.entries, st, p, active, never || !before);
        active.v = before; // a Match in an included file does not change the including file's state
      }
      continue;
    }
    if (e.keyword === 'host') active.v = !never && hostLine(e, p.hostForHost);
    else if (e.keyword === 'match') {
      const r = matchLine(e, st, never ? { ...p, warn: () => undefined } : p);
      active.v = !never && r;
    } else applyLine(st, e, active.v && !never);
  }
}
