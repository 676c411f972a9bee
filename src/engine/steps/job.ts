// kind: job — a detached remote job whose finally-command runs whatever happens (SPEC rule
// 4.2): if the command fails, if the SSH connection drops, if zkops is killed. The guarantee
// lives on the master (a trap in the job's shell), because nothing on the bastion survives a
// dropped connection. zkops then follows the job to its end, reconnecting when needed.

import { formatDuration } from '../../config/duration.js';
import { render } from '../../playbook/template.js';
import type { JobStep } from '../../playbook/schema.js';
import { shellQuote } from '../../transport/quote.js';
import { TransportError } from '../../errors.js';
import type { Session } from '../../transport/types.js';
import { TaskFailure, tail, type Executor, type TaskContext } from './types.js';

/** The job script: main in a subshell with `set -e`, finally from an EXIT path that signals cannot skip. */
export function jobScript(dir: string, main: string, fin: string, unit: string): string {
  const d = shellQuote(dir);
  return `#!/bin/sh
# zkops detached job; the finally-command runs whatever happens to the main command.
D=${d}
echo $$ > "$D/pid"
# how it was detached: in a systemd unit of its own, or a setsid session beside the SSH one
if grep -q ${shellQuote(`/${unit}.service`)}'$' /proc/self/cgroup 2>/dev/null; then echo systemd-run; else echo setsid; fi > "$D/launcher"
stamp() { date +%s%3N 2>/dev/null || date +%s000; }
finish() {
  trap '' INT TERM HUP
  rc=$1
  # never let the finally-command overlap the main command
  [ -n "$child" ] && wait "$child" 2>/dev/null
  stamp > "$D/finally.at"
  ( ${fin.trim()}
  ) > "$D/finally.log" 2>&1
  echo $? > "$D/finally.rc"
  stamp > "$D/end.at"
  echo "$rc" > "$D/rc.tmp" && mv "$D/rc.tmp" "$D/rc"
  exit "$rc"
}
trap 'finish 143' TERM HUP INT
child=
stamp > "$D/start.at"
( set -e
${main.trim()}
) > "$D/out.log" 2>&1 &
child=$!
wait "$child"
finish $?
`;
}

/** The systemd unit a job runs as when systemd is init (without `.service`). */
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

/** How long a launched job may take to write its pid file before zkops calls it not started. */
export const START_MS = 30_000;

/** How long zkops keeps trying to reach a master whose job it follows before it gives up. */
export const LOST_CONTACT_MS = 90_000;

export const runJob: Executor<JobStep> = async (ctx, step) => {
  const dir = `${String((ctx.vars.run as { tmp: string }).tmp)}/jobs/${step.id}`;
  const main = render(step.command, ctx.vars, 'shell');
  const fin = render(step.finally, ctx.vars, 'shell');
  const unit = jobUnit(ctx.runId, step.id);
  const launcher = (process.env.ZKOPS_JOB_LAUNCHER as 'systemd-run' | 'setsid' | undefined) ?? 'auto';
  const q = shellQuote(dir);
  const session = await ctx.session();
  const setup = await session.exec(`umask 077 && mkdir -p ${q} && cat > ${q}/job.sh && ${launchCommand(dir, unit, launcher)}`, {
    become: step.become,
    stdin: jobScript(dir, main, fin, unit),
    timeoutMs: 60_000,
    signal: ctx.signal,
  });
  if (setup.exitCode !== 0) {
    throw new TaskFailure(`could not start the job in ${dir}: ${tail(setup.stderr || setup.stdout, 5)}`, setup.exitCode, setup.stderr);
  }
  const launchedAt = ctx.now();
  const deadline = launchedAt + ctx.timeoutMs;
  let interrupted = false;
  let lostSince: number | undefined;
  for (;;) {
    if (ctx.signal.aborted && !interrupted) {
      interrupted = true;
      await stopJob(ctx, dir, step.become);
    }
    let lost = false;
    const done = await poll(ctx, dir, step.become).catch((err: unknown) => {
      if (err instanceof TransportError && ctx.master) ctx.sessions.drop(ctx.master);
      lost = true;
      if (lostSince === undefined) {
        lostSince = ctx.now();
        ctx.warn(`following job ${step.id} on ${ctx.master?.name}: ${(err as Error).message}; the job goes on there; reconnecting`);
      }
      return undefined;
    });
    if (!lost && lostSince !== undefined) {
      ctx.warn(`following job ${step.id} on ${ctx.master?.name}: reconnected after ${formatDuration(ctx.now() - lostSince)}`);
      lostSince = undefined;
    }
    if (done === 'unborn') {
      if (ctx.now() - launchedAt > START_MS) {
        throw new TaskFailure(
          `job ${step.id} did not start on ${ctx.master?.name}: no pid file in ${dir} ${formatDuration(START_MS)} after it was launched (it never ran, or cannot write its files there)`,
          null,
          '',
          { dir },
        );
      }
    } else if (done && 'dead' in done) return rescueDeadJob(ctx, dir, step, fin, done.finallyRc, interrupted);
    else if (done) return finishJob(ctx, { dir, unit }, step, done, main, interrupted);
    if (lostSince !== undefined && ctx.now() - lostSince > LOST_CONTACT_MS) {
      throw new TaskFailure(
        `lost contact with ${ctx.master?.name} for ${formatDuration(LOST_CONTACT_MS)} while job ${step.id} ran there; the job goes on without zkops and runs its finally-command (${tail(fin, 1)}) whatever happens; its files are in ${dir} on the master`,
        null,
        '',
        { dir },
        true,
      );
    }
    if (ctx.now() > deadline + (interrupted ? 60_000 : 0)) {
      throw new TaskFailure(
        `job still running after ${formatDuration(ctx.timeoutMs)}; its finally-command will still run on the master; follow it with: cat ${dir}/rc`,
        null,
        '',
        { dir },
        true,
      );
    }
    await new Promise((r) => setTimeout(r, step.poll));
  }
};

interface JobFiles {
  rc: number;
  finallyRc: number | null;
  out: string;
  finallyLog: string;
  startAt: number | null;
  finallyAt: number | null;
  endAt: number | null;
  launcher: 'systemd-run' | 'setsid';
}

const SEP = '\n--zkops-sep--\n';

/**
 * One look at the job's files: undefined while it runs, 'unborn' before it wrote its pid,
 * `dead` when its process is gone without an exit status (killed with SIGKILL, or with the
 * cgroup of the SSH session that started it), else what it left.
 */
async function poll(ctx: TaskContext, dir: string, become: boolean): Promise<JobFiles | { dead: true; finallyRc: number | null } | 'unborn' | undefined> {
  const session: Session = await ctx.session();
  const q = shellQuote(dir);
  const files = ['rc', 'finally.rc', 'start.at', 'finally.at', 'end.at', 'launcher', 'out.log', 'finally.log'];
  // rc is looked at again after the liveness check: the job writes it just before it exits;
  // a dead job says whether its finally-command had finished
  const running = `p=$(cat ${q}/pid 2>/dev/null) || exit 5; kill -0 "$p" 2>/dev/null && exit 3; [ -f ${q}/rc ] || { cat ${q}/finally.rc 2>/dev/null; exit 4; }`;
  const cmd = `[ -f ${q}/rc ] || { ${running}; }; for f in ${files.join(' ')}; do cat ${q}/$f 2>/dev/null; printf '${SEP.replace(/\n/g, '\\n')}'; done`;
  const res = await session.exec(cmd, { become, timeoutMs: 30_000 });
  if (res.exitCode === 3) return undefined;
  if (res.exitCode === 4) return { dead: true, finallyRc: /^\d+$/.test(res.stdout.trim()) ? Number(res.stdout.trim()) : null };
  if (res.exitCode === 5) return 'unborn';
  if (res.exitCode !== 0) throw new Error(`cannot read ${dir}: ${res.stderr.trim()}`);
  const parts = res.stdout.split(SEP);
  const num = (s: string | undefined) => (s && s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : null);
  return {
    rc: num(parts[0]) ?? 1,
    finallyRc: num(parts[1]),
    startAt: num(parts[2]),
    finallyAt: num(parts[3]),
    endAt: num(parts[4]),
    launcher: parts[5]?.trim() === 'systemd-run' ? 'systemd-run' : 'setsid',
    out: parts[6] ?? '',
    finallyLog: parts[7] ?? '',
  };
}

/**
 * The job's process died without an exit status. If its finally-command did not run either,
 * zkops runs it now over SSH (Exhibitor must not stay stopped because the job was killed);
 * the step fails either way, since nobody knows how far the main command got.
 */
async function rescueDeadJob(ctx: TaskContext, dir: string, step: JobStep, fin: string, finallyRc: number | null, interrupted: boolean): Promise<never> {
  const where = `job ${step.id} on ${ctx.master?.name} died without an exit status (its process is gone: killed with SIGKILL, or with the SSH session's cgroup)`;
  if (finallyRc !== null) {
    throw new TaskFailure(`${where}; its finally-command had run (exit ${finallyRc}); its files are in ${dir} on the master`, null, '', { dir, rescued: false });
  }
  ctx.warn(`${where}, before its finally-command; zkops runs it now: ${tail(fin, 1)}`);
  const session = await ctx.session();
  const res = await session.exec(fin, { become: step.become, timeoutMs: 10 * 60_000 });
  const outcome = res.exitCode === 0 ? 'zkops ran its finally-command (exit 0)' : `zkops ran its finally-command and it failed with exit ${res.exitCode}: ${tail(res.stderr || res.stdout, 5)}`;
  throw new TaskFailure(`${where}${interrupted ? ' while zkops stopped it' : ''}; ${outcome}; its files are in ${dir} on the master`, res.exitCode, tail(res.stdout + res.stderr), {
    dir,
    rescued: true,
    finally_rc: res.exitCode,
  });
}

/** On interrupt: TERM the job's process group, so its trap runs the finally-command now. */
async function stopJob(ctx: TaskContext, dir: string, become: boolean): Promise<void> {
  const q = shellQuote(dir);
  const session = await ctx.session().catch(() => undefined);
  await session
    ?.exec(`[ -f ${q}/rc ] || { p=$(cat ${q}/pid 2>/dev/null) && kill -TERM -- -"$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; }; true`, {
      become,
      timeoutMs: 15_000,
    })
    .catch(() => undefined);
}

function finishJob(ctx: TaskContext, { dir, unit }: { dir: string; unit: string }, step: JobStep, f: JobFiles, command: string, interrupted: boolean) {
  const value = {
    stdout: f.out.trim(),
    rc: f.rc,
    finally_rc: f.finallyRc,
    finally_output: f.finallyLog.trim(),
    dir,
    started_at: f.startAt,
    finally_at: f.finallyAt,
    ended_at: f.endAt,
    launcher: f.launcher,
    unit: f.launcher === 'systemd-run' ? `${unit}.service` : null,
    master: ctx.master?.name,
  };
  const output = tail(`${f.out}\n[finally] ${f.finallyLog}`);
  if (interrupted) throw new TaskFailure(`interrupted; the job ran its finally-command (exit ${f.finallyRc})`, f.rc, output, value);
  if (f.finallyRc !== 0) {
    throw new TaskFailure(`finally-command failed with exit ${f.finallyRc}: ${tail(f.finallyLog, 5)}`, f.finallyRc, output, value);
  }
  if (f.rc !== 0) throw new TaskFailure(`exit ${f.rc}: ${tail(f.out, 5)}`, f.rc, output, value);
  return { value, exitCode: 0, output, command: `job ${step.id}: ${command.split('\n')[0]}…` };
}
