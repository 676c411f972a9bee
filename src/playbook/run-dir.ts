// Where a run keeps its files on a master (SPEC rule 4.13). Not `mkdir -p` of a guessable name
// under world-writable /var/tmp, where a local user who creates it first owns what root then
// runs from it: a parent made by zkops with `mkdir` (never -p), checked to be a directory (not
// a link) owned by the user zkops runs as (root, with become) with mode 0700, and inside it one
// directory per run with an unpredictable name. Pure: it only writes shell.

import { randomBytes } from 'node:crypto';
import { shellQuote } from '../util/shell-quote.js';

/** A run id: sortable time plus 48 random bits (it names the run's remote directory: not guessable). */
export function newRunId(now = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `${t}-${randomBytes(6).toString('hex')}`;
}

/** The parent of every run directory on a master, beside the cluster lock. */
export function runParent(remoteTmpDir: string): string {
  return `${remoteTmpDir === '/' ? '' : remoteTmpDir}/zkops`;
}

/** A run's own directory (the run id ends in random bytes). */
export function runTmpDir(remoteTmpDir: string, runId: string): string {
  return `${runParent(remoteTmpDir)}/run-${runId}`;
}

/**
 * Shell that makes sure the parent is zkops's own and creates the run directory in it:
 * `fresh` refuses a run directory that exists already; otherwise an existing one must pass the
 * same owner and mode check. Exits 1 with a message naming what is wrong.
 */
export function prepareRunDirCommand(parent: string, tmp: string, o: { fresh: boolean }): string {
  const p = shellQuote(parent);
  const t = shellQuote(tmp);
  const ours = (q: string) => `[ ! -L ${q} ] && [ -d ${q} ] && [ "$(stat -c %u:%a ${q})" = "$(id -u):700" ]`;
  const refuse = (q: string, what: string) =>
    `{ echo "${what} "${q}" on $(hostname) is not what zkops makes ($(stat -c '%F owned by %U, mode %a' ${q} 2>&1)): it must be a directory owned by $(id -un) with mode 0700; find out who made it, remove it, and run again" >&2; exit 1; }`;
  const tmpCheck = o.fresh
    ? `{ mkdir -m 700 ${t} 2>/dev/null || { echo "the run directory "${t}" on $(hostname) exists already; zkops refuses to use a directory it did not just make" >&2; exit 1; }; }`
    : `{ mkdir -m 700 ${t} 2>/dev/null; ${ours(t)} || ${refuse(t, 'the run directory')}; }`;
  return `{ mkdir -m 700 ${p} 2>/dev/null; ${ours(p)} || ${refuse(p, 'the directory')}; } && ${tmpCheck}`;
}

/** What zkops runs left on one master: the cluster lock, and the events of jobs whose run did not clean up. */
export interface RunLeftovers {
  lock: { info: Record<string, string>; ageS: number } | undefined;
  jobs: { run: string; job: string; events: string[] }[];
}

/** Shell that prints a master's leftovers for parseLeftovers (as root: the parent is 0700). */
export function leftoversCommand(parent: string): string {
  const p = shellQuote(parent);
  return [
    `[ -d ${p} ] || exit 0`,
    `if [ -f ${p}/lock/info ]; then echo @lock $(( $(date +%s) - $(stat -c %Y ${p}/lock) )); cat ${p}/lock/info; fi`,
    `for e in ${p}/run-*/jobs/*/events.log; do [ -f "$e" ] || continue; echo "@job $e"; cat "$e"; done`,
  ].join('; ');
}

export function parseLeftovers(text: string): RunLeftovers {
  const out: RunLeftovers = { lock: undefined, jobs: [] };
  let events: string[] | undefined;
  for (const line of text.split('\n')) {
    const lock = /^@lock (\d+)$/.exec(line);
    const job = /\/run-([^/]+)\/jobs\/([^/]+)\/events\.log$/.exec(line.startsWith('@job ') ? line : '');
    if (lock) {
      out.lock = { info: {}, ageS: Number(lock[1]) };
      events = undefined;
    } else if (job) {
      events = [];
      out.jobs.push({ run: job[1] as string, job: job[2] as string, events });
    } else if (events) {
      if (line.trim()) events.push(line);
    } else if (out.lock) {
      const eq = line.indexOf('=');
      if (eq > 0) out.lock.info[line.slice(0, eq)] = line.slice(eq + 1);
    }
  }
  return out;
}
