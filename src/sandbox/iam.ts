// What DC/OS's IAM and Admin Router hold for a sandbox, written once at `up` under <dir>/iam:
// a CA (the cluster's dcos-ca.crt), each master's server certificate (subjectAltName its
// address, as Admin Router's), the HS256 secret that signs the login tokens every master
// accepts, and the accounts: bootstrapuser (DC/OS's documented default password), a viewer
// without the backup permission, and the service account zkops-backup with its key pair.
// Certificates come from the `openssl` CLI; the rest from node:crypto. Then, per master, the
// Admin Router stand-in that uses them: the backup service (backup-service-main.ts), a process
// of this machine on <address>:ADMIN_ROUTER_PORT, storing in what the master sees as
// /var/lib/dcos/backup.

import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperationFailed } from '../errors.js';
import type { Account } from './backup-service.js';
import { backupServiceProgram } from './layout.js';
import { alive, cmdlineOf, spawnDetached } from './processes.js';
import { ADMIN_ROUTER_PORT, DEFAULT_SERVICE_BACKUP_DURATION_MS, logFile, sandboxHome, serviceBackupDir, writeState, type SandboxMaster, type SandboxState } from './state.js';
import { portOpen, tail, waitFor } from './wait.js';

/** The service account the sandbox's inventory logs in as (a signed login, no password). */
export const SERVICE_ACCOUNT_UID = 'zkops-backup';

/** <dir>/iam's files: what zkops is given (the CA, the service account's key) and what the stand-ins read. */
export function iamFiles(dir: string): { dir: string; ca: string; caKey: string; accounts: string; jwtSecret: string; serviceAccountKey: string } {
  const d = join(dir, 'iam');
  return { dir: d, ca: join(d, 'dcos-ca.crt'), caKey: join(d, 'dcos-ca.key'), accounts: join(d, 'accounts.json'), jwtSecret: join(d, 'jwt-secret'), serviceAccountKey: join(d, `${SERVICE_ACCOUNT_UID}.pem`) };
}

/** A master's Admin Router certificate and key, as this machine sees them. */
export function masterTls(m: Pick<SandboxMaster, 'home'>): { cert: string; key: string } {
  const d = join(sandboxHome(m), 'tls');
  return { cert: join(d, 'adminrouter.crt'), key: join(d, 'adminrouter.key') };
}

/** Extensions of the CA and of a server certificate (openssl's -extensions sections). */
function opensslConfig(address?: string): string {
  return [
    '[req]',
    'distinguished_name = dn',
    'prompt = no',
    '[dn]',
    'CN = zkops sandbox',
    '[ca]',
    'basicConstraints = critical, CA:TRUE',
    'keyUsage = critical, keyCertSign, cRLSign',
    'subjectKeyIdentifier = hash',
    '[server]',
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = serverAuth',
    ...(address ? [`subjectAltName = IP:${address}`] : []),
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
    '',
  ].join('\n');
}

function openssl(args: string[], input?: string): string {
  try {
    return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...(input === undefined ? {} : { input }) });
  } catch (err) {
    const e = err as { stderr?: string; code?: string; message: string };
    if (e.code === 'ENOENT') throw new OperationFailed('the sandbox needs the openssl command for its certificates', { hint: 'apt-get install -y openssl' });
    throw new OperationFailed(`openssl ${args[0]} failed: ${(e.stderr || e.message).trim()}`);
  }
}

/** An ECDSA P-256 CA at `cert` and `key` (the key 0600), valid 10 years. */
export function makeCa(cert: string, key: string): void {
  const cnf = `${key}.cnf`;
  writeFileSync(cnf, opensslConfig());
  try {
    openssl(['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '3650', '-subj', '/CN=zkops sandbox CA', '-config', cnf, '-extensions', 'ca']);
  } finally {
    rmSync(cnf, { force: true });
  }
  chmodSync(key, 0o600);
}

/** An ECDSA P-256 server certificate for one IP address, signed by the CA (the key 0600). */
export function makeServerCert(ca: { cert: string; key: string }, address: string, out: { cert: string; key: string }): void {
  const cnf = `${out.key}.cnf`;
  writeFileSync(cnf, opensslConfig(address));
  try {
    const csr = openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', out.key, '-subj', `/CN=${address}`, '-config', cnf]);
    const serial = `0x${randomBytes(8).toString('hex')}`;
    openssl(['x509', '-req', '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', serial, '-days', '825', '-out', out.cert, '-extfile', cnf, '-extensions', 'server'], csr);
  } finally {
    rmSync(cnf, { force: true });
  }
  chmodSync(out.key, 0o600);
}

/** <dir>/iam and every master's certificate: written by `up` before any stand-in starts. */
export function writeIam(dir: string, masters: readonly Pick<SandboxMaster, 'home' | 'address'>[]): void {
  const f = iamFiles(dir);
  rmSync(f.dir, { recursive: true, force: true });
  mkdirSync(f.dir, { recursive: true, mode: 0o700 });
  makeCa(f.ca, f.caKey);
  for (const m of masters) {
    const tls = masterTls(m);
    mkdirSync(join(sandboxHome(m), 'tls'), { recursive: true, mode: 0o700 });
    makeServerCert({ cert: f.ca, key: f.caKey }, m.address, tls);
  }
  writeFileSync(f.jwtSecret, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  const sa = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  writeFileSync(f.serviceAccountKey, sa.privateKey, { mode: 0o600 });
  const accounts: Account[] = [
    // the superuser of DC/OS's documentation and test clusters
    { uid: 'bootstrapuser', password: 'deleteme', permitted: true },
    { uid: 'viewer', password: 'viewer', permitted: false },
    { uid: SERVICE_ACCOUNT_UID, publicKey: sa.publicKey, permitted: true },
  ];
  writeFileSync(f.accounts, `${JSON.stringify(accounts, null, 2)}\n`, { mode: 0o600 });
}

/** The accounts and the token secret the stand-ins of a sandbox share (read by backup-service-main). */
export function readIam(dir: string): { accounts: Account[]; secret: string } {
  const f = iamFiles(dir);
  return { accounts: JSON.parse(readFileSync(f.accounts, 'utf8')) as Account[], secret: readFileSync(f.jwtSecret, 'utf8').trim() };
}

/** Start the master's backup service stand-in (after its sshd) and wait until it listens; its
 * pid is written into state.json at once (`down` stops it by pid, even when it never listened). */
export async function startBackupService(m: SandboxMaster, state: SandboxState): Promise<void> {
  const log = logFile(m, 'backup-service.log');
  const tls = masterTls(m);
  const durationMs = state.serviceBackupDurationMs ?? DEFAULT_SERVICE_BACKUP_DURATION_MS;
  const argv = ['--host', m.address, '--port', String(ADMIN_ROUTER_PORT), '--dir', serviceBackupDir(m), '--duration-ms', String(durationMs), '--sandbox', state.dir, '--cert', tls.cert, '--key', tls.key];
  const pid = spawnDetached([process.execPath, backupServiceProgram(), ...argv], log);
  m.backupServicePid = pid;
  writeState(state);
  await waitFor(
    `${m.name}'s backup service on https://${m.address}:${ADMIN_ROUTER_PORT}`,
    30_000,
    async () => {
      if (!alive(pid)) throw new OperationFailed(`${m.name}: the backup service stand-in exited: ${tail(log)}`);
      return portOpen(m.address, ADMIN_ROUTER_PORT);
    },
    () => tail(log),
  );
}

/** The master's recorded stand-in still runs (a pid counts only while its command line is the stand-in's: it may have been reused). */
export function backupServiceAlive(m: Pick<SandboxMaster, 'backupServicePid'>): boolean {
  const pid = m.backupServicePid;
  return !!pid && alive(pid) && cmdlineOf(pid).includes(backupServiceProgram());
}
