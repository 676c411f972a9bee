// A stand-in for the DC/OS Enterprise backup service behind one master's Admin Router, for the
// sandbox and the tests. It models the DOCUMENTED API (the vendor's swagger and integration test,
// as summarised in the project's DCOS-BACKUP-API.md), not
// Marathon: nothing is backed up or restored, a backup is its metadata written under the
// directory that stands for the master's /var/lib/dcos/backup, and the state machine
// (STATUS_BACKING_UP → STATUS_READY or STATUS_ERROR; a restore STATUS_RESTORING → READY or
// ERROR) runs on a timer. Modelled: the paths under /system/v1/backup/v1/, the one lock and its 500, the 400s,
// 401/403 with an HTML body and `WWW-Authenticate: acsjwt`, `{}` for an empty list, the DELETE
// body, restore ids in `restores[]`, both response shapes (`wrapped`: the vendor test's;
// `bare`: the swagger's), a login at /acs/api/v1/auth/login (uid+password, or a service
// account's RS256 login token) giving an HS256 JWT of {uid, exp} (5 days) that every stand-in
// sharing the secret accepts, as every master's Admin Router accepts IAM's tokens; https when
// given a key and certificate. In the sandbox one runs per master (backup-service-main.ts).
// Node's own modules only.
//
// Guesses (each also marked (guess) where it is made):
//   - the field a failure's reason is in: component_status.marathon.error (guess)
//   - the wording and status of the 400s: a bad label, a bad body, an unknown id (400, not 404),
//     a restore of a backup that is not READY, a delete of one in progress (guess)
//   - the busy 500's wording for a restore (guess; the backup's is the vendor test's)
//   - 404 {"errors": [...]} for an unknown endpoint (guess)
//   - a restore's id: a bare uuid4 (guess)
//   - delete's answer: `{}` (guess: the documented answer has no body shape)
//   - IAM's 401 body for refused credentials (guess)
//   - a validly signed token whose uid has no account: 401 (guess)
//   - the lock is cluster-wide (DC/OS keeps it in ZooKeeper, inferred from release notes): the
//     stand-ins of a sandbox share it through a file holding {id, until}, which expires 30 s
//     after its operation would have ended, as an ephemeral znode goes with a dead session (guess)
//   - the HS256 secret: DC/OS's IAM signs with its own key (RS256 in later releases); any
//     signature every master verifies does here (guess)

import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { signToken, tokenOf, TOKEN_LIFETIME_S, verifyLoginToken, verifyToken } from './iam-tokens.js';
import { OperationLock } from './backup-lock.js';

export { signToken } from './iam-tokens.js';

type Status = 'STATUS_UNKNOWN' | 'STATUS_BACKING_UP' | 'STATUS_RESTORING' | 'STATUS_READY' | 'STATUS_ERROR';
interface Component { status: Status; error?: string }
interface Restore { id: string; status: Status; component_status: { marathon: Component } }
interface Backup { id: string; dcos_version: string; timestamp: string; status: Status; component_status: { marathon: Component }; restores: Restore[] }

export interface Account {
  uid: string;
  /** Has dcos:adminrouter:ops:system-backup full (else its calls are 403). */
  permitted: boolean;
  password?: string;
  /** A service account's public key (PEM): its login is an RS256 JWT of {uid, exp}. */
  publicKey?: string;
}

export interface BackupServiceOptions {
  /** Stands for the master's /var/lib/dcos/backup: one directory per backup, its metadata.json. */
  dir: string;
  /** How long a backup or a restore stays in progress. */
  durationMs: number;
  /** Opaque tokens accepted from the start (uid and permission each), beside the JWTs. */
  tokens?: Record<string, { uid: string; permitted: boolean }>;
  /** Who may log in, and whether each may back up: a JWT's uid is judged by this list. */
  accounts?: Account[];
  /** Signs and verifies the JWTs (HS256); stand-ins sharing it accept each other's. Default: random, this stand-in's alone. */
  secret?: string;
  /** Serve https with this key and certificate (PEM); absent: http. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** `wrapped` (default): {"backup_info": …} and `{}`; `bare`: the swagger's object and array. */
  shape?: 'wrapped' | 'bare';
  dcosVersion?: string;
  /** The one lock of the cluster, shared by the stand-ins of a sandbox (the real one is in
   * ZooKeeper, inferred): a file holding {id, until}; absent: this stand-in's own lock. */
  lockFile?: string;
}

const BASE = '/system/v1/backup/v1';
const LABEL = /^[A-Za-z0-9_][A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const html = (code: number, text: string) =>
  `<html>\r\n<head><title>${code} ${text}</title></head>\r\n<body>\r\n<center><h1>${code} ${text}</h1></center>\r\n<hr><center>openresty</center>\r\n</body>\r\n</html>\r\n`;
/** RFC 3339 with nanoseconds, as the service writes it. */
const timestamp = () => new Date().toISOString().replace('Z', '000000Z');


/** In the backup directory: the reason the next backup fails with; read and removed at create,
 * so another process (`zkops sandbox fault`) can set it. Hidden, as no backup's id starts with ".". */
export const BACKUP_FAULT_FILE = '.zkops-sandbox-fault';
/** The same for the next restore (its reason) and for how long the next backup or restore runs (ms). */
export const RESTORE_FAULT_FILE = '.zkops-sandbox-restore-fault';
export const SLOW_FAULT_FILE = '.zkops-sandbox-slow';



/** The backup service and the login of one master, on one loopback address. */
export class BackupServiceStandIn {
  private server: Server | undefined;
  private readonly backups = new Map<string, Backup>();
  private readonly tokens = new Map<string, { uid: string; permitted: boolean }>();
  /** Permissions given by issueToken, over the accounts' (this stand-in's alone). */
  private readonly grants = new Map<string, boolean>();
  private readonly secret: string;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** The one backup or restore at a time. */
  private readonly lock: OperationLock;

  constructor(private readonly opts: BackupServiceOptions) {
    for (const [token, who] of Object.entries(opts.tokens ?? {})) this.tokens.set(token, who);
    this.secret = opts.secret ?? randomBytes(32).toString('base64url');
    this.lock = new OperationLock(opts.lockFile);
    mkdirSync(opts.dir, { recursive: true });
    for (const name of readdirSync(opts.dir)) {
      if (name.startsWith('.')) continue;
      try {
        const b = JSON.parse(readFileSync(join(opts.dir, name, 'metadata.json'), 'utf8')) as Backup;
        this.backups.set(b.id, b);
      } catch {
        // not one of ours
      }
    }
  }

  /** Listen on host:port (0: an ephemeral port); the base URL to call (https with `tls`). */
  async start(host: string, port = 0): Promise<URL> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    const tls = this.opts.tls;
    const server: Server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }, handler) : createServer(handler);
    this.server = server;
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
    const addr = server.address() as { port: number };
    return new URL(`${tls ? 'https' : 'http'}://${host}:${addr.port}`);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve())));
  }

  /** The next backup ends in STATUS_ERROR with this reason in component_status.marathon.error
   * (guess: the field); the same file `zkops sandbox fault … service-backup-error` writes. */
  failNextBackup(reason: string): void {
    writeFileSync(join(this.opts.dir, BACKUP_FAULT_FILE), reason);
  }

  /** A token as the login gives it (for tests that skip the login); `permitted` holds for this
   * uid on this stand-in over its account (another stand-in judges the uid by its own accounts). */
  issueToken(uid: string, permitted: boolean): string {
    this.grants.set(uid, permitted);
    return signToken(this.secret, { uid, exp: Math.floor(Date.now() / 1000) + TOKEN_LIFETIME_S });
  }

  /** Who a request's token is and whether it may back up; undefined: no valid token (401). */
  private whoIs(token: string | undefined): { uid: string; permitted: boolean } | undefined {
    if (!token) return undefined;
    const opaque = this.tokens.get(token);
    if (opaque) return opaque;
    const uid = verifyToken(token, this.secret);
    if (uid === undefined) return undefined;
    const permitted = this.grants.get(uid) ?? (this.opts.accounts ?? []).find((a) => a.uid === uid)?.permitted;
    // (guess: a signed token of a uid without an account is refused as no token)
    return permitted === undefined ? undefined : { uid, permitted };
  }

  /** A fault file's text, removed as it is read (undefined: none set). */
  private takeFault(name = BACKUP_FAULT_FILE): string | undefined {
    const file = join(this.opts.dir, name);
    try {
      const reason = readFileSync(file, 'utf8').trim();
      rmSync(file, { force: true });
      return reason;
    } catch {
      return undefined;
    }
  }

  /** How long the next operation runs: the slow fault's, else the configured duration. */
  private durationOfNext(): number {
    const slow = Number(this.takeFault(SLOW_FAULT_FILE));
    return Number.isFinite(slow) && slow > 0 ? slow : this.opts.durationMs;
  }



  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (code: number, body: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(typeof body === 'string' ? body : JSON.stringify(body));
    try {
      const text = await readText(req);
      if (url.pathname === '/acs/api/v1/auth/login' && req.method === 'POST') return void this.login(parseBody(text), send);
      if (!url.pathname.startsWith('/system/v1/backup/')) return void send(404, { errors: [`no such path ${url.pathname}`] });
      // Admin Router's check comes before the service sees anything (its location is /system/v1/backup/).
      const who = this.whoIs(tokenOf(req));
      if (!who) return void res.writeHead(401, { 'content-type': 'text/html', 'www-authenticate': 'acsjwt' }).end(html(401, 'Authorization Required'));
      if (!who.permitted) return void res.writeHead(403, { 'content-type': 'text/html' }).end(html(403, 'Forbidden'));
      const route = `${req.method} ${url.pathname.slice(BASE.length)}`;
      const body = route === 'GET /list' ? {} : parseBody(text);
      if (route === 'POST /create') return void this.create(body, send);
      if (route === 'GET /list') return void this.list(url.searchParams.get('prefix') ?? '', send);
      if (route === 'POST /restore') return void this.restore(body, send);
      if (route === 'DELETE /delete') return void this.delete(body, send);
      send(404, { errors: [`no such endpoint ${route}`] }); // (guess: the status and body)
    } catch (err) {
      send(400, { errors: [`invalid request: ${(err as Error).message}`] }); // (guess: the wording)
    }
  }

  private wrap(x: unknown): unknown {
    return this.opts.shape === 'bare' ? x : { backup_info: x };
  }

  private create(body: Record<string, unknown>, send: (code: number, body: unknown) => void): void {
    const label = body.label;
    if (typeof label !== 'string' || label.length < 3 || label.length > 25 || !LABEL.test(label)) {
      return send(400, { errors: [`invalid label ${JSON.stringify(label)}: must be 3-25 characters of [A-Za-z0-9_.-], not starting with "." or "-" in its first two`] }); // (guess: the wording)
    }
    const b: Backup = {
      id: `${label}-${randomUUID()}`,
      dcos_version: this.opts.dcosVersion ?? '1.13.0',
      timestamp: timestamp(),
      status: 'STATUS_BACKING_UP',
      component_status: { marathon: { status: 'STATUS_UNKNOWN' } },
      restores: [],
    };
    const ms = this.durationOfNext();
    if (!this.lock.take(b.id, ms)) return send(500, { errors: [`Could not backup ${label}: backup label=${label} failed: backup/restore is currently busy: lock is already held`] });
    const failure = this.takeFault();
    this.backups.set(b.id, b);
    this.save(b);
    this.later(ms, () => {
      b.status = failure === undefined ? 'STATUS_READY' : 'STATUS_ERROR';
      b.component_status.marathon = failure === undefined ? { status: 'STATUS_READY' } : { status: 'STATUS_ERROR', error: failure };
      this.lock.release(b.id);
      this.save(b);
    });
    send(200, this.wrap(b));
  }

  private list(prefix: string, send: (code: number, body: unknown) => void): void {
    const found = [...this.backups.values()].filter((b) => b.id.startsWith(prefix)).sort((a, b) => a.timestamp.localeCompare(b.timestamp));
    if (this.opts.shape === 'bare') return send(200, found);
    send(200, found.length === 0 ? '{}' : { backup_info: found });
  }

  private restore(body: Record<string, unknown>, send: (code: number, body: unknown) => void): void {
    const b = this.backups.get(String(body.id));
    if (!b) return send(400, { errors: [`backup ${String(body.id)} not found`] }); // (guess: 400, not 404)
    if (b.status !== 'STATUS_READY') return send(400, { errors: [`backup ${b.id} is ${b.status}, not STATUS_READY`] }); // (guess)
    const r: Restore = { id: randomUUID(), status: 'STATUS_RESTORING', component_status: { marathon: { status: 'STATUS_UNKNOWN' } } }; // (guess: the id's form)
    const ms = this.durationOfNext();
    if (!this.lock.take(r.id, ms)) return send(500, { errors: [`Could not restore ${b.id}: restore id=${b.id} failed: backup/restore is currently busy: lock is already held`] }); // (guess: the wording for a restore)
    const failure = this.takeFault(RESTORE_FAULT_FILE);
    b.restores.push(r);
    this.save(b);
    this.later(ms, () => {
      r.status = failure === undefined ? 'STATUS_READY' : 'STATUS_ERROR';
      r.component_status.marathon = failure === undefined ? { status: 'STATUS_READY' } : { status: 'STATUS_ERROR', error: failure };
      this.lock.release(r.id);
      this.save(b);
    });
    send(200, this.wrap(r));
  }

  private delete(body: Record<string, unknown>, send: (code: number, body: unknown) => void): void {
    const id = String(body.id);
    const isRestore = [...this.backups.values()].some((b) => b.restores.some((r) => r.id === id));
    if (isRestore) return send(400, { errors: [`${id} is a restore id, not a backup id`] });
    const b = this.backups.get(id);
    if (!b) return send(400, { errors: [`backup ${id} not found`] }); // (guess: 400, not 404)
    if (b.status === 'STATUS_BACKING_UP' || b.restores.some((r) => r.status === 'STATUS_RESTORING')) return send(400, { errors: [`backup ${id} is in progress`] }); // (guess)
    this.backups.delete(id);
    rmSync(join(this.opts.dir, id), { recursive: true, force: true });
    send(200, '{}'); // (guess: the documented answer has no body shape)
  }

  private login(body: Record<string, unknown>, send: (code: number, body: unknown) => void): void {
    const uid = String(body.uid ?? '');
    const account = (this.opts.accounts ?? []).find((a) => a.uid === uid);
    const ok =
      account !== undefined &&
      ((typeof body.password === 'string' && account.password !== undefined && body.password === account.password) ||
        (typeof body.token === 'string' && account.publicKey !== undefined && verifyLoginToken(body.token, uid, account.publicKey)));
    // (guess: IAM's error body)
    if (!ok || !account) return send(401, { title: 'Unauthorized', description: 'Invalid credentials', code: 'ERR_INVALID_CREDENTIALS' });
    send(200, { token: signToken(this.secret, { uid, exp: Math.floor(Date.now() / 1000) + TOKEN_LIFETIME_S }) });
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => (this.timers.delete(t), fn()), ms);
    this.timers.add(t);
  }

  private save(b: Backup): void {
    mkdirSync(join(this.opts.dir, b.id), { recursive: true });
    writeFileSync(join(this.opts.dir, b.id, 'metadata.json'), `${JSON.stringify(b, null, 2)}\n`);
  }
}


async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(text: string): Record<string, unknown> {
  if (!text) return {};
  const x = JSON.parse(text) as unknown;
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new Error('the body is not a JSON object');
  return x as Record<string, unknown>;
}
