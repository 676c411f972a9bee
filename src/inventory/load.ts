// Load an inventory (SPEC section 3): YAML with positions, a strict zod schema (unknown keys
// and wrong types name file, line and key), durations, defaults, and ~/.ssh/config filling
// what the inventory leaves out. ~/.ssh/config is resolved as OpenSSH 9.2 resolves it
// (ssh-config.ts, checked against `ssh -G` in the tests); the inventory is ssh's command line.

import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type SSHConfig from 'ssh-config';
import { z } from 'zod';
import { durationText, parseDuration } from '../util/duration.js';
import { parseYamlSource, problemAt, validateWith, type YamlSource } from '../util/yaml-source.js';
import { UsageError, ValidationError, type Problem } from '../errors.js';
import type { Inventory, JumpHost, Master } from './types.js';
import { HOST_RULE, hostKey, isHost, remoteDirProblem, unbracket } from './addresses.js';
import { expandHome } from '../util/paths.js';
import { SshConfig, sshConfigFiles, systemContext } from './ssh-config.js';
import { connectionOf } from './ssh-config-master.js';

const duration = durationText();
const port = z.number().int().min(1).max(65535);
const nonEmpty = z.string().min(1);
const host = z.string().min(1, { abort: true }).refine(isHost, `not a host: ${HOST_RULE}`);
/** A remote directory: `minParts` components at least, else `tooShort` says what to give. */
const remoteDir = (key: string, minParts: number, tooShort: string) =>
  z.string().superRefine((v, ctx) => {
    const problem = remoteDirProblem(v, minParts, tooShort);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${key} ${problem}` });
  });

/** Admin Router's base URL (a template with {host}). */
const baseUrl = (key: string) =>
  z.string().superRefine((v, ctx) => {
    const problem = baseUrlProblem(v);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${key} ${problem}` });
  });

const sshSchema = z
  .object({
    user: nonEmpty.optional(),
    port: port.optional(),
    identityFile: nonEmpty.optional(),
    passphraseEnv: nonEmpty.optional(),
    knownHosts: nonEmpty.optional(),
    hostKeyPolicy: z.enum(['strict', 'accept-new', 'off']).optional(),
    jump: nonEmpty.optional(),
    connectTimeout: durationText('0 would give up before connecting').optional(),
    keepalive: duration.optional(),
    become: z.enum(['sudo', 'none']).optional(),
  })
  .strict();

/** Cluster and master names: they appear in file names, journals and tables. */
const SIMPLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const masterSchema = z
  .object({
    host,
    name: z
      .string()
      .regex(SIMPLE_NAME, 'a master name is letters, digits, ".", "_" and "-"')
      .optional(),
    port: port.optional(),
    user: nonEmpty.optional(),
    identityFile: nonEmpty.optional(),
    jump: nonEmpty.optional(),
    become: z.enum(['sudo', 'none']).optional(),
    apiUrl: baseUrl('apiUrl').optional(),
  })
  .strict();

/** Why an Admin Router base URL (a template with {host}) is not one: scheme, host and port only. */
function baseUrlProblem(v: string): string | undefined {
  let u: URL;
  try {
    u = new URL(v.replaceAll('{host}', 'master.invalid'));
  } catch {
    return 'is not a URL: write it like https://{host} or https://{host}:443';
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'must start with https:// (or http://)';
  if (u.pathname !== '/' || u.search !== '' || u.hash !== '' || u.username !== '') return `is Admin Router's base only, without a path or query (zkops adds /system/v1/backup/v1): ${u.origin.replace('master.invalid', '{host}')}`;
  return undefined;
}

/** `dcos.api.auth:` where the backup service's token comes from. */
const serviceAuthSchema = z
  .object({
    tokenEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'tokenEnv is the name of an environment variable').optional(),
    dcosCli: z.union([z.boolean(), nonEmpty]).optional(),
    uid: nonEmpty.optional(),
    passwordEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'passwordEnv is the name of an environment variable').optional(),
    serviceAccountKey: nonEmpty.optional(),
  })
  .strict();

/** `dcos.api:` the DC/OS Enterprise backup service behind each master's Admin Router. */
const serviceApiSchema = z
  .object({
    url: baseUrl('url').optional(),
    via: z.enum(['ssh', 'direct']).optional(),
    caFile: nonEmpty.optional(),
    master: nonEmpty.optional(),
    pollInterval: durationText('0 would poll the backup service without a pause').optional(),
    timeout: durationText('0 would give up before the first poll').optional(),
    auth: serviceAuthSchema.optional(),
  })
  .strict();

/** A number of backups to keep: a whole number, 0 or more. */
const keepCount = z.number().int('a number of backups is a whole number').min(0, 'a number of backups is 0 or more');

/** `retention:` (zkops prune -i, zkops backup --prune): restic's forget rules. */
const retentionSchema = z
  .object({
    keepLast: keepCount.optional(),
    keepHourly: keepCount.optional(),
    keepDaily: keepCount.optional(),
    keepWeekly: keepCount.optional(),
    keepMonthly: keepCount.optional(),
  })
  .strict()
  .refine((r) => Object.values(r).some((v) => v !== undefined), {
    message: 'a retention policy needs at least one of keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly',
    // an unknown key is the one problem to tell (keepDayly: 7 is a typo, not an empty policy)
    when: (payload) => payload.issues.length === 0,
  });

const inventorySchema = z
  .object({
    cluster: z.string().regex(SIMPLE_NAME, 'a cluster name is letters, digits, ".", "_" and "-"'),
    ssh: sshSchema.optional(),
    exhibitor: z
      .object({
        statusUrl: z.string().regex(/^https?:\/\//, 'statusUrl must start with http:// or https://').optional(),
        via: z.enum(['ssh', 'direct']).optional(),
        caFile: nonEmpty.optional(),
        certFile: nonEmpty.optional(),
        keyFile: nonEmpty.optional(),
        pollInterval: durationText('0 would poll Exhibitor without a pause').optional(),
        stablePolls: z.number().int().min(1).max(100).optional(),
        stableFor: durationText().optional(),
        timeout: durationText('0 would give up before the first poll').optional(),
      })
      .strict()
      .optional(),
    dcos: z
      .object({
        exhibitorUnit: nonEmpty.optional(),
        dcosShell: z.string().startsWith('/', 'dcosShell must be an absolute path').optional(),
        zkDir: remoteDir('zkDir', 2, 'give the full path of the ZooKeeper directory, like /var/lib/dcos/exhibitor/zookeeper').optional(),
        remoteTmpDir: remoteDir('remoteTmpDir', 1, 'give a directory for zkops\'s files, like /var/tmp').optional(),
        // the lease is written and read in whole seconds on the masters, and renewed every quarter of it
        lease: durationText('a lease of 0 would roll back at once')
          .refine((v) => (parseDuration(v) ?? 0) >= 5000, 'a lease is at least 5s (it is renewed every quarter of it, over SSH)')
          .optional(),
        api: serviceApiSchema.optional(),
      })
      .strict()
      .optional(),
    masters: z.array(masterSchema).min(1, 'at least one master is needed'),
    retention: retentionSchema.optional(),
  })
  .strict();

type RawInventory = z.output<typeof inventorySchema>;

export const DEFAULTS = {
  statusUrl: 'http://127.0.0.1:8181/exhibitor/v1/cluster/status',
  connectTimeoutMs: 10_000,
  keepaliveMs: 15_000,
  // often enough to see health early; stable means healthy for stableFor, however often polled
  pollIntervalMs: 250,
  stablePolls: 3,
  stableForMs: 1500,
  exhibitorTimeoutMs: 600_000,
  exhibitorUnit: 'dcos-exhibitor',
  dcosShell: '/opt/mesosphere/bin/dcos-shell',
  zkDir: '/var/lib/dcos/exhibitor/zookeeper',
  remoteTmpDir: '/var/tmp',
  /** A restore's lease: long enough for a network blip, short against the 10-minute health timeout. */
  leaseMs: 120_000,
  /** Admin Router on a master's own address, as `dcos backup` reaches it. */
  apiUrl: 'https://{host}',
  /** The vendor's tests poll every 5 s. */
  apiPollIntervalMs: 5000,
  /** The vendor's tests allow 120 s; a large Marathon takes longer, as a ZooKeeper health wait may. */
  apiTimeoutMs: 600_000,
  tokenEnv: 'DCOS_ACS_TOKEN',
} as const;

/** Paths in the inventory are relative to the inventory file, as operators expect. */
function localPath(p: string, base: string): string {
  const e = expandHome(p);
  return isAbsolute(e) ? e : resolve(base, e);
}

/** Parse `user@host:port` (user and port optional). */
export function parseJump(text: string, defaultUser: string): JumpHost | undefined {
  const m = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s]+)(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m) return undefined;
  const p = m[3] === undefined ? 22 : Number(m[3]);
  if (p < 1 || p > 65535 || !isHost(m[2] as string)) return undefined;
  return { user: m[1] ?? defaultUser, host: unbracket(m[2] as string), port: p };
}

/** The user's ssh_config file: $ZKOPS_SSH_CONFIG (read alone, as `ssh -F`), else ~/.ssh/config. */
export function sshConfigPath(): string {
  return process.env.ZKOPS_SSH_CONFIG ?? join(systemContext().home, '.ssh', 'config');
}

/** A config of the `ssh-config` package (older callers and tests) as ours: its text, read again. */
function asSshConfig(c: SSHConfig | SshConfig | undefined): SshConfig {
  if (c instanceof SshConfig) return c;
  return SshConfig.fromText(c === undefined ? '' : String(c), '<ssh_config>');
}

function masterProblems(src: YamlSource, raw: RawInventory, sshConfig: SshConfig): Problem[] {
  const problems: Problem[] = [];
  const names = new Map<string, number>();
  const endpoints = new Map<string, number>();
  raw.masters.forEach((m, i) => {
    const name = m.name ?? m.host;
    // M1.EXAMPLE, m1.example. and m1.example are one master
    const nameKey = m.name?.toLowerCase() ?? hostKey(m.host);
    const prevName = names.get(nameKey);
    if (prevName !== undefined) {
      problems.push(problemAt(src, ['masters', i, m.name ? 'name' : 'host'], `duplicate master "${name}" (also masters[${prevName}])`));
    } else names.set(nameKey, i);
    // The port the connection will use, so `port: 22` written out equals the default.
    const user = m.user ?? raw.ssh?.user;
    const ep = `${hostKey(m.host)}:${m.port ?? raw.ssh?.port ?? sshConfig.resolve(unbracket(m.host), user === undefined ? {} : { user }).port}`;
    const prevEp = endpoints.get(ep);
    if (prevEp !== undefined && prevName === undefined) {
      problems.push(problemAt(src, ['masters', i, 'host'], `duplicate master: host ${m.host} is also masters[${prevEp}]`));
    } else endpoints.set(ep, i);
  });
  const api = raw.dcos?.api;
  if (api?.master !== undefined && !raw.masters.some((m) => (m.name ?? m.host) === api.master || m.host === api.master)) {
    problems.push(problemAt(src, ['dcos', 'api', 'master'], `no master "${api.master}" in masters: (give a name or host from the list)`));
  }
  if (api?.auth?.passwordEnv !== undefined && api.auth.uid === undefined) problems.push(problemAt(src, ['dcos', 'api', 'auth', 'passwordEnv'], 'passwordEnv needs uid: (the account to log in as)'));
  if (api?.auth?.serviceAccountKey !== undefined && api.auth.uid === undefined) problems.push(problemAt(src, ['dcos', 'api', 'auth', 'serviceAccountKey'], "serviceAccountKey needs uid: (the service account's id)"));
  if (api?.auth?.serviceAccountKey !== undefined && api.auth.passwordEnv !== undefined) problems.push(problemAt(src, ['dcos', 'api', 'auth', 'passwordEnv'], 'give passwordEnv or serviceAccountKey, not both'));
  for (const key of ['jump'] as const) {
    const j = raw.ssh?.[key];
    if (j !== undefined && !parseJump(j, 'x')) problems.push(problemAt(src, ['ssh', key], `not a jump host: write it like user@host:22`));
  }
  raw.masters.forEach((m, i) => {
    if (m.jump !== undefined && !parseJump(m.jump, 'x')) problems.push(problemAt(src, ['masters', i, 'jump'], 'not a jump host: write it like user@host:22'));
  });
  return problems;
}

/**
 * Parse and validate inventory text against an ssh_config (none: an empty one; see
 * loadInventory); `onWarning` hears what ssh_config holds that zkops does not apply (Match exec).
 */
export function parseInventory(file: string, text: string, sshConfigGiven?: SSHConfig | SshConfig, onWarning: (message: string) => void = () => undefined): Inventory {
  const sshConfig = asSshConfig(sshConfigGiven);
  const told = new Set<string>();
  const warn = (m: string): void => {
    if (told.has(m)) return;
    told.add(m);
    onWarning(m);
  };
  const src = parseYamlSource(file, text);
  if (src.value === null || typeof src.value !== 'object' || Array.isArray(src.value)) {
    throw new ValidationError([{ file, line: 1, column: 1, path: '', message: 'an inventory is a YAML mapping with cluster: and masters:' }]);
  }
  const raw = validateWith(src, inventorySchema, `see inventory.example.yaml for every key`);
  const problems = masterProblems(src, raw, sshConfig);
  if (problems.length > 0) throw new ValidationError(problems);
  const base = dirname(file);
  const ex = raw.exhibitor ?? {};
  if ((ex.certFile === undefined) !== (ex.keyFile === undefined)) {
    throw new ValidationError([problemAt(src, ['exhibitor', ex.certFile === undefined ? 'keyFile' : 'certFile'], 'certFile and keyFile go together')]);
  }
  return {
    file,
    cluster: raw.cluster,
    masters: raw.masters.map((m, index) => resolveMaster(raw.ssh ?? {}, m, index, base, sshConfig, warn)),
    exhibitor: exhibitorSettings(ex, base),
    dcos: dcosSettings(raw.dcos ?? {}, base),
    ...(raw.retention ? { retention: raw.retention } : {}),
  };
}

/** A duration key as milliseconds, or its default. */
const msOr = (v: string | number | undefined, d: number): number => (v === undefined ? d : (parseDuration(v) as number));

/** One master: the inventory's keys, then the ssh: defaults, then ~/.ssh/config, then OpenSSH's own defaults. */
function resolveMaster(ssh: NonNullable<RawInventory['ssh']>, m: RawInventory['masters'][number], index: number, base: string, sshConfig: SshConfig, warn: (m: string) => void): Master {
  const bare = unbracket(m.host);
  const identity = m.identityFile ?? ssh.identityFile;
  const [user, port, jump] = [m.user ?? ssh.user, m.port ?? ssh.port, m.jump ?? ssh.jump];
  const conn = connectionOf(sshConfig, {
    host: bare,
    ...(user !== undefined ? { user } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(jump !== undefined ? { jump } : {}),
    ...(identity !== undefined ? { identityFile: localPath(identity, base) } : {}),
    ...(ssh.knownHosts !== undefined ? { knownHosts: localPath(ssh.knownHosts, base) } : {}),
  }, warn);
  const master: Master = {
    index,
    inventoryHost: m.host,
    name: m.name ?? bare,
    host: conn.host,
    port: conn.port,
    user: conn.user,
    knownHosts: ssh.knownHosts !== undefined ? localPath(ssh.knownHosts, base) : (conn.knownHosts ?? localPath('~/.ssh/known_hosts', base)),
    hostKeyPolicy: ssh.hostKeyPolicy ?? 'strict',
    connectTimeoutMs: ssh.connectTimeout !== undefined ? msOr(ssh.connectTimeout, DEFAULTS.connectTimeoutMs) : (conn.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs),
    keepaliveMs: msOr(ssh.keepalive, DEFAULTS.keepaliveMs),
    become: m.become ?? ssh.become ?? (conn.user === 'root' ? 'none' : 'sudo'),
  };
  if (m.apiUrl !== undefined) master.apiUrl = m.apiUrl;
  if (identity !== undefined) master.identityFile = localPath(identity, base);
  else if (conn.identityFiles) {
    master.identityFile = conn.identityFiles[0] as string;
    master.identityFiles = conn.identityFiles;
  }
  if (conn.identitiesOnly) master.identitiesOnly = true;
  if (ssh.passphraseEnv !== undefined) master.passphraseEnv = ssh.passphraseEnv;
  if (conn.jumps.length > 0) master.jump = conn.jumps[0] as NonNullable<Master['jump']>;
  if (conn.jumps.length > 1) master.jumps = conn.jumps;
  return master;
}

function exhibitorSettings(ex: NonNullable<RawInventory['exhibitor']>, base: string): Inventory['exhibitor'] {
  const out: Inventory['exhibitor'] = {
    statusUrl: ex.statusUrl ?? DEFAULTS.statusUrl,
    via: ex.via ?? 'ssh',
    pollIntervalMs: msOr(ex.pollInterval, DEFAULTS.pollIntervalMs),
    stablePolls: ex.stablePolls ?? DEFAULTS.stablePolls,
    stableForMs: msOr(ex.stableFor, DEFAULTS.stableForMs),
    timeoutMs: msOr(ex.timeout, DEFAULTS.exhibitorTimeoutMs),
  };
  if (ex.caFile !== undefined) out.caFile = localPath(ex.caFile, base);
  if (ex.certFile !== undefined) out.certFile = localPath(ex.certFile, base);
  if (ex.keyFile !== undefined) out.keyFile = localPath(ex.keyFile, base);
  return out;
}

function dcosSettings(dcos: NonNullable<RawInventory['dcos']>, base: string): Inventory['dcos'] {
  const api = dcos.api ?? {};
  const auth = api.auth ?? {};
  return {
    api: {
      url: api.url ?? DEFAULTS.apiUrl,
      via: api.via ?? 'ssh',
      ...(api.caFile !== undefined ? { caFile: localPath(api.caFile, base) } : {}),
      ...(api.master !== undefined ? { master: api.master } : {}),
      pollIntervalMs: msOr(api.pollInterval, DEFAULTS.apiPollIntervalMs),
      timeoutMs: msOr(api.timeout, DEFAULTS.apiTimeoutMs),
      auth: {
        tokenEnv: auth.tokenEnv ?? DEFAULTS.tokenEnv,
        dcosCli: auth.dcosCli ?? true,
        ...(auth.uid !== undefined ? { uid: auth.uid } : {}),
        ...(auth.passwordEnv !== undefined ? { passwordEnv: auth.passwordEnv } : {}),
        ...(auth.serviceAccountKey !== undefined ? { serviceAccountKey: localPath(auth.serviceAccountKey, base) } : {}),
      },
    },
    exhibitorUnit: dcos.exhibitorUnit ?? DEFAULTS.exhibitorUnit,
    dcosShell: dcos.dcosShell ?? DEFAULTS.dcosShell,
    zkDir: (dcos.zkDir ?? DEFAULTS.zkDir).replace(/\/+$/, ''),
    remoteTmpDir: (dcos.remoteTmpDir ?? DEFAULTS.remoteTmpDir).replace(/\/+$/, '') || '/',
    leaseMs: msOr(dcos.lease, DEFAULTS.leaseMs),
  };
}

/** What ssh_config holds that zkops does not apply, on stderr as zkops's other warnings. */
function warnOnStderr(message: string): void {
  process.stderr.write(`warning: ${message}\n`);
}

/**
 * Read, validate and resolve an inventory file with the user's ssh_config; every problem is a
 * ValidationError (exit 2).
 */
export async function loadInventory(file: string, onWarning: (message: string) => void = warnOnStderr): Promise<Inventory> {
  const abs = resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read inventory ${file}: ${code === 'ENOENT' ? 'no such file' : (code ?? String(err))}`, {
      hint: 'pass --inventory FILE (-i); inventory.example.yaml documents every key',
    });
  }
  return parseInventory(abs, text, SshConfig.load(sshConfigFiles()), onWarning);
}
