// The shell side of a detached job (kind: job): the script that runs on the master, how it is
// launched, and where its files live. Pure: strings in, strings out (plan prints them too).
//
// A plain job: main in a subshell with `set -e`, then the finally-command from an EXIT path
// that signals cannot skip (SPEC rule 4.2).
//
// A leased job (`lease:`, SPEC rule 4.11) adds a decision between main and finally. When main
// ends, the job waits for one of two words in $D/decision: `go` (written by zkops once every
// master of the step is ready) or `rollback` (written by zkops when one is not, or by the job
// itself when its lease, renewed by zkops while it is alive, runs out). The decision is a
// symlink made with `ln -s`, which is atomic and fails when the link exists: whoever writes
// first wins, and both sides then read the same word with readlink. The job then runs `go:`
// or `rollback:`, then `finally:`. So a master whose bastion died or went quiet puts its
// previous state back and starts Exhibitor by itself, at most one lease after the last word.

import { shellQuote } from '../util/shell-quote.js';
import { ARCHIVE_FUNCTION } from './zk-archive.js';
import { HOT_COPY_FUNCTION } from './zk-hot-copy.js';

export interface JobCommands {
  main: string;
  finally: string;
  /** Leased jobs only: run after the go-ahead, and after a rollback decision. */
  go?: string | undefined;
  rollback?: string | undefined;
}

export interface JobScriptOptions {
  dir: string;
  unit: string;
  /** Leased jobs: the main command is TERMed after this many seconds, so the job always reaches its decision. */
  mainTimeoutS?: number;
  leased: boolean;
}

/** Where a job keeps its files on a master: per step and master (masters may share a filesystem in tests). */
export function jobDir(runTmp: string, stepId: string, master: string): string {
  return `${runTmp}/jobs/${stepId}.${master}`.replace(/[^A-Za-z0-9_./@-]/g, '-');
}

/** The systemd unit a job runs as when systemd is init (without `.service`); each master has its own systemd. */
export function jobUnit(runId: string, stepId: string): string {
  return `zkops-${runId}-${stepId}`.replace(/[^A-Za-z0-9_.-]/g, '-');
}

/** Start the script detached: systemd-run where systemd is init, else setsid/nohup. */
export function launchCommand(dir: string, unit: string, launcher: 'auto' | 'systemd-run' | 'setsid' = 'auto'): string {
  const script = shellQuote(`${dir}/job.sh`);
  const viaSystemd = `systemd-run --quiet --collect --unit=${shellQuote(unit)} -p KillMode=mixed /bin/sh ${script}`;
  // braces: only the job goes to the background, not the `cat > job.sh` before it (which
  // would then read /dev/null)
  const viaSetsid = `{ setsid nohup /bin/sh ${script} </dev/null >/dev/null 2>&1 & }`;
  if (launcher === 'systemd-run') return viaSystemd;
  if (launcher === 'setsid') return viaSetsid;
  return `if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1; then ${viaSystemd}; else ${viaSetsid}; fi`;
}

/** Exit status of leaseCommand when the job has a decision already (printed, then who took it): a renewal cannot undo it. */
export const DECIDED_RC = 9;

/**
 * Shell that sets a leased job's lease to end `seconds` from now on the master's own clock (no
 * clock skew). It looks for a decision before and after the write, so zkops learns of a lease
 * that ran out before the renewal arrived instead of counting that master as renewed.
 */
export function leaseCommand(dir: string, seconds: number, o: { first?: boolean } = {}): string {
  const q = shellQuote(dir);
  const decided = `{ [ ! -L ${q}/decision ] || { readlink ${q}/decision; cat ${q}/decision.by 2>/dev/null; exit ${DECIDED_RC}; }; }`;
  const write = `t=$(date +%s) && echo $((t + ${Math.ceil(seconds)})) > ${q}/lease.tmp && mv -f ${q}/lease.tmp ${q}/lease`;
  return o.first ? write : `${decided} && ${write} && ${decided}`;
}

/** Shell that delivers a decision: prints the word that holds on the master (the first one written wins). */
export function decideCommand(dir: string, decision: 'go' | 'rollback'): string {
  const q = shellQuote(dir);
  // who decided is renamed into place: the job reads it the moment the link appears, and must
  // never see it created but not yet written (an empty name; zkops killed between the two)
  return `ln -s ${decision} ${q}/decision 2>/dev/null && echo zkops > ${q}/decision.by.tmp && mv -f ${q}/decision.by.tmp ${q}/decision.by; readlink ${q}/decision`;
}

/** The job script: the shared head, then the main command, then either finish (plain) or the decision (leased). */
export function jobScript(o: JobScriptOptions, c: JobCommands): string {
  const head = scriptHead(o, c);
  const main = mainPart(c);
  if (!o.leased) {
    return `${head}trap 'finish 143' TERM HUP INT
${main}wait "$child"
finish $?
`;
  }
  return leasedTail(head, main, o, c);
}

/** The shebang, the job's files and pid, the helper functions (zkops_event, zkops_decided, zkops_wait_stopped) and finish. */
function scriptHead(o: JobScriptOptions, c: JobCommands): string {
  const d = shellQuote(o.dir);
  return `#!/bin/sh
# zkops detached job; the finally-command runs whatever happens to the main command.
D=${d}
ZKOPS_JOB_DIR=$D
if [ "\${1:-}" != rescue ]; then
  echo $$ > "$D/pid"
  # how it was detached: in a systemd unit of its own, or a setsid session beside the SSH one
  if grep -q ${shellQuote(`/${o.unit}.service`)}'$' /proc/self/cgroup 2>/dev/null; then echo systemd-run; else echo setsid; fi > "$D/launcher"
fi
stamp() { date +%s%3N 2>/dev/null || date +%s000; }
# one line per event in events.log, read by zkops status after a crash
zkops_event() { printf '%s %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >> "$D/events.log"; }
# true once a decision exists: main may skip work that a rollback would undo
zkops_decided() { [ -L "$D/decision" ]; }
# zkops_mark NAME: when something happened, in milliseconds, in $D/NAME.at (read by zkops: resumed)
zkops_mark() { stamp > "$D/$1.at"; }
${ARCHIVE_FUNCTION}
${HOT_COPY_FUNCTION}
# zkops_wait_stopped UNIT HOST: after \`systemctl stop UNIT\`, wait until the unit is inactive AND
# nothing listens on ZooKeeper's client port (DCOS-57231: Exhibitor's unit can report inactive
# while its ZooKeeper still serves); gives up after 120 s
zkops_wait_stopped() {
  i=0
  while systemctl is-active --quiet "$1" || ss -Hltn | awk '{print $4}' | grep -qxF -e "0.0.0.0:2181" -e "*:2181" -e "[::]:2181" -e "$2:2181" -e "[::ffff:$2]:2181"; do
    i=$((i + 1))
    [ "$i" -le 1200 ] || { echo "ZooKeeper still running 120s after systemctl stop" >&2; return 1; }
    sleep 0.1
  done
  echo "stopped after $i checks"
  zkops_event "stopped after $i checks"
}
finish() {
  trap '' INT TERM HUP
  rc=$1
  # never let the finally-command overlap the main command
  [ -n "$child" ] && wait "$child" 2>/dev/null
  stamp > "$D/finally.at"
  ( ${c.finally.trim()}
  ) > "$D/finally.log" 2>&1
  frc=$?
  echo $frc > "$D/finally.rc"
  zkops_event "finally-command ended (exit $frc)"
  stamp > "$D/end.at"
  echo "$rc" > "$D/rc.tmp" && mv "$D/rc.tmp" "$D/rc"
  exit "$rc"
}
`;
}

/** The main command in a subshell with `set -e`, its output in out.log. */
function mainPart(c: JobCommands): string {
  return `child=
stamp > "$D/start.at"
zkops_event "started"
( set -e
${c.main.trim()}
) > "$D/out.log" 2>&1 &
child=$!
`;
}

/** A leased job after its main command: wait for the word (or the lease's end), then go or rollback, then finish. */
function leasedTail(head: string, main: string, o: JobScriptOptions, c: JobCommands): string {
  const timeout = Math.max(1, Math.ceil(o.mainTimeoutS ?? 3600));
  return `${head}
# Leased: wait for zkops's word, or take rollback when the lease (an epoch second in $D/lease,
# moved forward by zkops while it is alive) runs out.
decide() {
  while [ ! -L "$D/decision" ]; do
    if [ "$(date +%s)" -ge "$(cat "$D/lease" 2>/dev/null || echo 0)" ]; then
      if ln -s rollback "$D/decision" 2>/dev/null; then
        echo lease > "$D/decision.by"
        zkops_event "the lease ran out with no word from zkops: rollback"
      elif [ ! -L "$D/decision" ]; then
        # its directory is gone or not writable: no word can ever come, roll back all the same
        echo rollback
        return
      fi
    else
      sleep 0.1
    fi
  done
  readlink "$D/decision"
}
settle() {
  trap '' INT TERM HUP
  mrc=$1
  [ -n "$child" ] && wait "$child" 2>/dev/null
  [ -n "$watchdog" ] && kill "$watchdog" 2>/dev/null
  echo "$mrc" > "$D/main.rc.tmp" && mv "$D/main.rc.tmp" "$D/main.rc"
  if [ "$mrc" = 0 ]; then
    zkops_event "ready; waiting for the go-ahead until the lease ends at $(date -u -d "@$(cat "$D/lease" 2>/dev/null || echo 0)" +%H:%M:%SZ 2>/dev/null)"
  else
    zkops_event "main command failed (exit $mrc): rollback"
    ln -s rollback "$D/decision" 2>/dev/null && echo self > "$D/decision.by"
  fi
  word=$(decide)
  # no name yet (zkops's link is there, its name not): zkops decided
  by=$(cat "$D/decision.by" 2>/dev/null)
  zkops_event "decision: $word (from \${by:-zkops})"
  if [ "$word" = go ] && [ "$mrc" = 0 ]; then
    ( set -e
${(c.go ?? 'true').trim()}
    ) > "$D/go.log" 2>&1
  else
    ( set -e
${(c.rollback ?? 'true').trim()}
    ) > "$D/rollback.log" 2>&1
  fi
  arc=$?
  echo $arc > "$D/after.rc"
  zkops_event "$word ended (exit $arc)"
  if [ "$word" = go ] && [ "$mrc" = 0 ]; then finish $arc; elif [ "$mrc" != 0 ]; then finish $mrc; else finish 75; fi
}
# \`sh job.sh rescue\`: zkops found the job's process gone without an exit status
# (a main command that had ended keeps its exit status; one cut short counts as killed)
if [ "\${1:-}" = rescue ]; then child=; watchdog=; zkops_event "rescued by zkops: the job's process was gone"; settle "$(cat "$D/main.rc" 2>/dev/null || echo 137)"; fi
trap 'settle 143' TERM HUP INT
${main}# the main command never keeps the job from its decision: TERM the whole job after the step's timeout
watchdog=
( trap 'kill $s 2>/dev/null; exit 0' TERM
  sleep ${timeout} & s=$!
  wait $s || exit 0
  zkops_event "main command still running after ${timeout}s: stopping it"
  kill -s TERM -- -$$ 2>/dev/null || kill -s TERM $$ ) &
watchdog=$!
wait "$child"
settle $?
`;
}
