// Writing one backup into a catalog on another host over SSH, so that a copy cut anywhere
// leaves nothing there: the archive and its metadata are staged in a fresh directory of the
// destination (`.zkops-copy-<random>`, 0700), which a guard on that host removes as soon as
// zkops's connection is gone (its heartbeat to the dead channel fails): a dropped connection, a
// killed sshd, a killed zkops. The archive goes with the transport's put (an exec channel,
// sha256 in the stream and on arrival, `.part` then rename, 0600); the metadata follows on
// stdin, and one last command checks the staged archive and renames both into the catalog,
// the metadata last (an entry exists only once its `<id>.json` does). A guard killed with
// everything of its session (systemd killing a unit) leaves its staging directory: the next
// copy to that directory removes staging directories whose guard is gone.

import { randomBytes } from 'node:crypto';
import { OperationFailed, SafetyRefusal, TransportError } from '../errors.js';
import type { ExecResult, Session, TransferProgress, TransferResult } from '../transport/types.js';
import { shellQuote } from '../util/shell-quote.js';
import { assertBackupId } from './labels.js';
import { locationText, type RemoteLocation } from './remote-dest.js';
import { archiveScript, dumpScript, parseDump, type RemoteArchive } from './remote.js';
import type { BackupMeta, CatalogEntry } from './store.js';

export interface RemoteDest {
  /** The directory was made now (mode 0700). */
  created: boolean;
  /** Its mode (octal text) and owner, for a warning when others can write it. */
  mode: string | undefined;
  owner: string | undefined;
  /** What the destination holds under this id already. */
  entry: CatalogEntry | undefined;
  archive: RemoteArchive;
}

const STAGE_PREFIX = '.zkops-copy-';

/** Fail with the command's last lines, naming the destination. */
function failed(session: Session, l: RemoteLocation, what: string, r: ExecResult): OperationFailed {
  const detail = r.timedOut ? 'timed out' : (r.stderr.trim().split('\n').slice(-5).join('; ') || `exit ${r.exitCode ?? r.signal}`);
  const missingParent = /No such file or directory/.test(detail) && /mkdir/.test(detail);
  return new OperationFailed(`${what} on ${locationText(l, session.master.user)}: ${detail}`, {
    where: session.master.name,
    hint: missingParent ? `zkops creates only the last directory of the path (0700): create its parent on ${l.host} first` : undefined,
  });
}

/**
 * Make the directory when missing (0700, its parent must exist: only the last component is
 * created, as rsync does), check it can be written, remove stale staging directories, and read
 * what it holds under `id`.
 */
export async function prepareRemoteDest(session: Session, l: RemoteLocation, id: string, signal?: AbortSignal): Promise<RemoteDest> {
  const q = shellQuote(l.path);
  const json = shellQuote(`${assertBackupId(id)}.json`);
  const script = [
    'command -v base64 >/dev/null 2>&1 || { echo "base64 (coreutils) is needed on this host" >&2; exit 1; }',
    `if [ ! -e ${q} ] && [ ! -L ${q} ]; then mkdir -m 700 -- ${q} || exit 1; echo zkops-created; fi`,
    `cd -- ${q} || exit 1`,
    '[ -w . ] || { echo "$(id -un) cannot write this directory" >&2; exit 1; }',
    'echo "zkops-mode $(stat -c \'%a %U\' .)"',
    `find . -maxdepth 1 -type d -regex '\\./\\${STAGE_PREFIX}[0-9a-f]*' -mmin +1 | while read -r s; do p=$(cat "$s/guard" 2>/dev/null); if [ -z "$p" ] || ! kill -0 "$p" 2>/dev/null; then rm -rf -- "$s"; fi; done`,
    // the one entry, framed as a catalog read frames it
    dumpScript(json),
    archiveScript(id),
  ].join('\n');
  const r = await session.exec(script, { timeoutMs: 60_000, ...(signal ? { signal } : {}) });
  if (r.exitCode !== 0) throw failed(session, l, `cannot use the directory ${l.path}`, r);
  const dump = parseDump(r.stdout, locationText(l, session.master.user));
  const mode = /^zkops-mode (\d+) (\S+)$/m.exec(r.stdout);
  return { created: /^zkops-created$/m.test(r.stdout), mode: mode?.[1], owner: mode?.[2], entry: dump.entries.find((e) => e.id === id), archive: dump.archive ?? { kind: 'none' } };
}

/** The guard: makes the staging directory, then removes it once it is gone from use or the channel is dead. */
function guardScript(stage: string): string {
  return [
    `S=${shellQuote(stage)}`,
    'mkdir -m 700 -- "$S" || exit 1',
    'echo $$ > "$S/guard" || { rm -rf -- "$S"; exit 1; }',
    "trap '' PIPE",
    `trap 'rm -rf -- "$S"; exit 1' HUP INT TERM`,
    'echo zkops-staged || { rm -rf -- "$S"; exit 1; }',
    // a write to a channel whose sshd is gone fails (EPIPE): the connection is dead
    'while [ -d "$S" ]; do sleep 0.2 2>/dev/null || sleep 1; printf . 2>/dev/null || break; done',
    'rm -rf -- "$S"',
  ].join('\n');
}

/** Check the staged archive, write the metadata beside it, fsync, rename both into the catalog (metadata last). */
function commitScript(dir: string, stage: string, id: string, size: number): string {
  const d = shellQuote(dir);
  const s = shellQuote(stage);
  const a = shellQuote(`${id}.tar.gz`);
  const j = shellQuote(`${id}.json`);
  return [
    `cd -- ${d} || exit 1`,
    'umask 077',
    `cat > ${s}/${j} || exit 1`,
    `[ -f ${s}/${a} ] && [ ! -L ${s}/${a} ] && [ "$(stat -c %s -- ${s}/${a})" = ${size} ] || { echo "the staged archive is missing or not ${size} bytes" >&2; exit 1; }`,
    `sync -- ${s}/${a} ${s}/${j} 2>/dev/null || true`,
    `if [ -e ${j} ] || [ -L ${j} ]; then echo "${id}.json appeared in the directory during the copy" >&2; exit 3; fi`,
    `mv -fT -- ${s}/${a} ${a} && mv -fT -- ${s}/${j} ${j} || exit 1`,
    'sync -- . 2>/dev/null || true',
    `rm -rf -- ${s}`,
    'echo zkops-committed',
  ].join('\n');
}

export interface PutEntryOptions {
  signal?: AbortSignal;
  onProgress?: (p: TransferProgress) => void;
}

/**
 * Copy one READY backup (its archive file here, `meta` as the destination will hold it) into a
 * remote catalog prepared by prepareRemoteDest. The bytes that arrived must have the
 * metadata's sha256. Any failure leaves nothing there: zkops removes the staging directory
 * when it still can, the guard on the host when the connection is gone.
 */
export async function putRemoteEntry(session: Session, l: RemoteLocation, meta: BackupMeta, archiveFile: string, opts: PutEntryOptions = {}): Promise<TransferResult> {
  const id = assertBackupId(meta.id);
  const stage = `${l.path}/${STAGE_PREFIX}${randomBytes(8).toString('hex')}`;
  let staged: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (staged = resolve));
  let heard = '';
  const guard = session.exec(guardScript(stage), {
    onStdout: (c) => {
      heard = (heard + c.toString('utf8')).slice(-64);
      if (heard.includes('zkops-staged')) staged();
    },
  });
  guard.catch(() => undefined);
  try {
    const started = await Promise.race([ready.then(() => undefined), guard]);
    if (started !== undefined) throw failed(session, l, `cannot make the staging directory ${stage}`, started);
    const sent = await session.put(archiveFile, `${stage}/${id}.tar.gz`, { mode: 0o600, ...opts });
    if (sent.sha256 !== meta.sha256) {
      throw new OperationFailed(`the archive ${archiveFile} does not match its metadata: sha256 ${sent.sha256}, the metadata says ${meta.sha256}; it was not copied`, {
        hint: `the source catalog's archive changed or is damaged: \`zkops verify ${id}\``,
      });
    }
    const c = await session.exec(commitScript(l.path, stage, id, sent.bytes), { stdin: `${JSON.stringify(meta, null, 2)}\n`, timeoutMs: 120_000, ...(opts.signal ? { signal: opts.signal } : {}) });
    if (c.exitCode === 3) throw new SafetyRefusal(`another copy of ${id} reached ${locationText(l, session.master.user)} during this one: left as it is`, { where: session.master.name });
    if (c.exitCode !== 0 || !/zkops-committed/.test(c.stdout)) throw failed(session, l, `cannot move the copy of ${id} into place`, c);
    await settle(guard);
    return sent;
  } catch (err) {
    await cleanUp(session, stage, guard);
    throw explainCut(err, session, l);
  }
}

/** Wait a little for the guard to see its directory gone (it looks every 0.2 s). */
async function settle(guard: Promise<ExecResult>): Promise<void> {
  await Promise.race([guard.catch(() => undefined), new Promise((r) => setTimeout(r, 5000).unref())]);
}

/** Remove the staging directory while the connection lives; the guard does it once it does not. */
async function cleanUp(session: Session, stage: string, guard: Promise<ExecResult>): Promise<void> {
  if (!session.connected) return;
  await session.exec(`rm -rf -- ${shellQuote(stage)}`, { timeoutMs: 30_000 }).catch(() => undefined);
  await settle(guard);
}

/** A dropped connection: say what became of the destination. */
function explainCut(err: unknown, session: Session, l: RemoteLocation): unknown {
  if (!(err instanceof TransportError) || (err.kind !== 'dropped' && err.kind !== 'timeout')) return err;
  return err.with({
    hint: `nothing was kept on ${locationText(l, session.master.user)}: zkops's guard there removes the partial copy once the connection is gone; run the copy again`,
  });
}
