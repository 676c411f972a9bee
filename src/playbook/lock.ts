// The cluster lock (SPEC rule 4.8) as two step kinds, `lock` and `unlock`, so the bundled
// playbooks and their copies share one implementation instead of a copied shell block.
//
// The lock is a directory, `<remoteTmpDir>/zkops/lock`, made with mkdir (atomic: one run wins)
// on every master, with an `info` file naming the run (owner, pid, host, time, run id, run
// directory). A refusal says who holds it and, when that run left a job behind, what its job
// did there (its events.log), so an operator knows whether a crashed run changed anything.
// `lock` also makes the run's own directory (`run.prepare`: owner and mode of the parent
// checked); `unlock` removes the lock only when this run holds it, then the parent if empty.

import { shellQuote as q } from '../util/shell-quote.js';
import type { RunInfo } from './context.js';

/** Who takes the lock, written in its info file. */
export interface LockOwner {
  user: string;
  pid: number;
  host: string;
}

/** The owner as the run's variables give it (`local.user`, `local.pid`, `local.host`). */
export function lockOwner(vars: Record<string, unknown>): LockOwner {
  const local = (vars.local ?? {}) as { user?: unknown; pid?: unknown; host?: unknown };
  return { user: String(local.user ?? 'unknown'), pid: Number(local.pid ?? 0), host: String(local.host ?? 'unknown') };
}

/** The lock directory of a run's parent. */
export function lockDir(run: Pick<RunInfo, 'parent'>): string {
  return `${run.parent}/lock`;
}

/** Shell that takes the lock on one master (exit 1 with the holder's description when held). */
export function lockCommand(run: RunInfo, owner: LockOwner, master: string): string {
  const lock = q(lockDir(run));
  return `${run.prepare} || exit 1
if mkdir ${lock} 2>/dev/null; then
  printf 'owner=%s\\npid=%s\\nhost=%s\\ntime=%s\\nrun=%s\\ntmp=%s\\n' ${q(owner.user)} ${q(String(owner.pid))} ${q(owner.host)} "$(date -u +%Y-%m-%dT%H:%M:%SZ)" ${q(run.id)} ${q(run.tmp)} > ${lock}/info
else
  rmdir ${q(run.tmp)}
  age=$(( $(date +%s) - $(stat -c %Y ${lock}) ))
  echo "the cluster lock "${lock}" on "${q(master)}" is held ($(tr '\\n' ' ' < ${lock}/info 2>/dev/null)) for \${age}s" >&2
  t=$(sed -n 's/^tmp=//p' ${lock}/info 2>/dev/null)
  case "$t" in ${q(run.parent)}/run-*)
    for e in "$t"/jobs/*/events.log; do [ -f "$e" ] && echo "what its job $(basename "$(dirname "$e")") did here: $(tr '\\n' ';' < "$e" | sed 's/;$//; s/;/; /g')" >&2; done ;;
  esac
  echo "if that run is gone, remove the lock directory on every master" >&2
  exit 1
fi`;
}

/** Shell that releases the lock when this run holds it, then removes zkops's directory if empty. */
export function unlockCommand(run: RunInfo): string {
  const lock = q(lockDir(run));
  return `if grep -qxF ${q(`run=${run.id}`)} ${lock}/info 2>/dev/null; then rm -rf ${lock}; fi
rmdir ${q(run.parent)} 2>/dev/null || true`;
}
