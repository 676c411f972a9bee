// OpenSSH as the judge of zkops's ssh_config resolution: `ssh -G` for hostname, user, port,
// userknownhostsfile, proxyjump and the flags; `ssh -v` with a ProxyCommand that exits at once
// for the identity files as ssh expands them (`ssh -G` prints them unexpanded); and `ssh -v`
// with the config's own ProxyJump for the jump chain (each nested ssh logs the command it runs,
// and `ssh -G` of each of those commands gives that hop's settings). Nothing connects anywhere:
// the jump hosts of the corpus are `.invalid` names.

import { spawnSync } from 'node:child_process';

export interface OracleHost {
  user: string;
  hostname: string;
  port: number;
  identityFiles: string[];
  userKnownHostsFiles: string[];
  proxyJump: string | undefined;
  proxyCommand: string | undefined;
  identitiesOnly: boolean;
  connectTimeout: number | undefined;
  strictHostKeyChecking: string;
}

export interface OracleHop {
  user: string;
  hostname: string;
  port: number;
  identityFiles: string[];
}

export interface Invocation {
  host: string;
  user?: string;
  port?: number;
  /** ssh -J (a hop's earlier hops). */
  jump?: string;
}

function ssh(args: string[], env: NodeJS.ProcessEnv): { out: string; err: string } {
  const r = spawnSync('ssh', args, { env, encoding: 'utf8', timeout: 20_000 });
  return { out: r.stdout ?? '', err: r.stderr ?? '' };
}

const cmdArgs = (i: Invocation, withJump = true): string[] => [
  ...(i.user !== undefined ? ['-l', i.user] : []),
  ...(i.port !== undefined ? ['-p', String(i.port)] : []),
  ...(withJump && i.jump !== undefined ? ['-J', i.jump] : []),
];

/** `ssh -G` of one invocation, plus its expanded identity files. */
export function oracleHost(config: string, i: Invocation, env: NodeJS.ProcessEnv): OracleHost {
  const g = ssh(['-G', '-F', config, ...cmdArgs(i), i.host], env);
  if (!/^hostname /m.test(g.out)) throw new Error(`ssh -G ${i.host} failed: ${g.err}`);
  const one = (key: string): string | undefined => new RegExp(`^${key} (.*)$`, 'm').exec(g.out)?.[1];
  const timeout = one('connecttimeout');
  return {
    user: one('user') as string,
    hostname: one('hostname') as string,
    port: Number(one('port')),
    identityFiles: identityFiles(config, i, env),
    userKnownHostsFiles: (one('userknownhostsfile') as string).split(' '),
    proxyJump: one('proxyjump'),
    proxyCommand: one('proxycommand'),
    identitiesOnly: one('identitiesonly') === 'yes',
    connectTimeout: timeout === undefined || timeout === 'none' ? undefined : Number(timeout),
    strictHostKeyChecking: one('stricthostkeychecking') as string,
  };
}

/** The identity files ssh loads, expanded (`identity file X type N`, without the `-cert` twins it also tries). */
function identityFiles(config: string, i: Invocation, env: NodeJS.ProcessEnv): string[] {
  const v = ssh(['-v', '-F', config, '-o', 'ProxyCommand=false', '-o', 'BatchMode=yes', ...cmdArgs(i, false), i.host, 'true'], env);
  const files: string[] = [];
  for (const m of v.err.matchAll(/^debug1: identity file (.*) type -?\d+$/gm)) {
    const f = m[1] as string;
    if (files.length > 0 && f === `${files.at(-1)}-cert`) continue;
    files.push(f);
  }
  return files;
}

/** The commands ssh runs for a ProxyJump, outermost (the hop next to the host) first. */
export function proxyCommands(config: string, i: Invocation, env: NodeJS.ProcessEnv): Invocation[] {
  const v = ssh(['-v', '-F', config, '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=2', ...cmdArgs(i), i.host, 'true'], env);
  const out: Invocation[] = [];
  for (const m of v.err.matchAll(/^debug1: Executing proxy command: exec ssh (.*)$/gm)) {
    const words = (m[1] as string).split(' ');
    const inv: Invocation = { host: words.at(-1) as string };
    for (let k = 0; k < words.length - 1; k++) {
      const w = words[k];
      if (w === '-l') inv.user = words[++k] as string;
      else if (w === '-p') inv.port = Number(words[++k]);
      else if (w === '-J') inv.jump = words[++k] as string;
      else if (w === '-F' || w === '-W') k++;
    }
    out.push(inv);
  }
  return out;
}

/** Each jump host of a host's ProxyJump chain, first to connect to first, as ssh resolves it. */
export function oracleChain(config: string, i: Invocation, env: NodeJS.ProcessEnv): OracleHop[] {
  return proxyCommands(config, i, env)
    .reverse()
    .map((hop) => {
      const h = oracleHost(config, hop, env);
      return { user: h.user, hostname: h.hostname, port: h.port, identityFiles: h.identityFiles };
    });
}
