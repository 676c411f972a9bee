// kind: job — a detached remote job whose finally-command runs whatever happens (SPEC rule
// 4.2): if the command fails, if the SSH connection drops, if zkops is killed. The guarantee
// lives on the master (a trap in the job's shell), because nothing on the bastion survives a
// dropped connection. zkops then follows the job to its end, reconnecting when needed.
// A leased job (rule 4.11) also waits on the master for zkops's go-ahead, given to every
// master of the step at once (lease.ts); the script itself is in job-script.ts.

import { formatDuration } from '../../util/duration.js';
import { render } from '../../playbook/template.js';
import type { JobStep } from '../../playbook/schema.js';
import { shellQuote } from '../../util/shell-quote.js';
import { TransportError } from '../../errors.js';
import type { Session } from '../../transport/types.js';
import { prepareRunDirCommand } from '../../playbook/run-dir.js';
import { jobDir, jobScript, jobUnit, launchCommand, leaseCommand, type JobCommands } from '../../playbook/job-script.js';
import type { LeaseGroup } from './lease.js';
import { TaskFailure, tail, type Executor, type TaskContext } from './types.js';

/** How long a launched job may take to write its pid file before zkops calls it not started. */
export const START_MS = 30_000;

/** How long zkops keeps trying to reach a master whose job it follows before it gives up. */
export const LOST_CONTACT_MS = 90_000;

interface Launched {
  dir: string;
  unit: string;
  commands: JobCommands;
  lease: LeaseGroup | undefined;
}

export const runJob: Executor<JobStep> = async (ctx, step) => {
  const run = ctx.vars.run as { tmp: string; parent: string };
  const master = ctx.master?.name ?? 'local';
  const dir = jobDir(run.tmp, step.id, master);
  const lease = ctx.lease;
  let job: Launched;
  try {
    const commands: JobCommands = {
      main: render(step.command, ctx.vars, 'shell'),
      finally: render(step.finally, ctx.vars, 'shell'),
      go: step.go === undefined ? undefined : render(step.go, ctx.vars, 'shell'),
      rollback: step.rollback === undefined ? undefined : render(step.rollback, ctx.vars, 'shell'),
    };
    if (lease?.decision) throw new TaskFailure(`not started: ${lease.decision.decision} was decided before this master's job started (${lease.decision.why})`);
    job = { dir, unit: jobUnit(ctx.runId, step.id), commands, lease };
    await launch(ctx, step, job, run);
  } catch (err) {
    lease?.report(master, 'failed', `the job could not start on ${master}: ${(err as Error).message}`);
    throw err;
  }
  lease?.launched(master, dir);
  // an interrupt is a rollback at once, not after the poll on the master returns
  const onAbort = () => lease?.abort('zkops was interrupted before the go-ahead');
  if (ctx.signal.aborted) onAbort();
  else ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await follow(ctx, step, job);
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    lease?.ended(master, `the job on ${master} ended before it was ready`);
  }
};

async function launch(ctx: TaskContext, step: JobStep, job: Launched, run: { tmp: string; parent: string }): Promise<void> {
  const launcher = (process.env.ZKOPS_JOB_LAUNCHER as 'systemd-run' | 'setsid' | undefined) ?? 'auto';
  const q = shellQuote(job.dir);
  const script = jobScript({ dir: job.dir, unit: job.unit, leased: job.lease !== undefined, mainTimeoutS: ctx.timeoutMs / 1000 }, job.commands);
  const leaseFirst = job.lease ? ` && ${leaseCommand(job.dir, (ctx.lease as LeaseGroup).leaseMs / 1000, { first: true })}` : '';
  const session = await ctx.session();
  const setup = await session.exec(
    `${prepareRunDirCommand(run.parent, run.tmp, { fresh: false })} && mkdir -p ${shellQuote(`${run.tmp}/jobs`)} && mkdir ${q} && cat > ${q}/job.sh${leaseFirst} && ${launchCommand(job.dir, job.unit, launcher)}`,
    { become: step.become, stdin: script, timeoutMs: 60_000, signal: ctx.signal },
  );
  if (setup.exitCode !== 0) {
    throw new TaskFailure(`could not start the job in ${job.dir}: ${tail(setup.stderr || setup.stdout, 5)}`, { rc: setup.exitCode, stdout: setup.stdout, stderr: setup.stderr });
  }
}

/** Follow a launched job to its end, reconnecting when needed; a leased job reports ready or failed on the way. */
async function follow(ctx: TaskContext, step: JobStep, job: Launched): Promise<ReturnType<typeof finishJob>> {
  const { dir, lease } = job;
  const master = ctx.master?.name ?? 'local';
  const launchedAt = ctx.now();
  // a leased job also waits for its decision (at most a lease) after its main command's timeout
  const leaseMs = lease?.leaseMs ?? 0;
  const deadline = launchedAt + ctx.timeoutMs + leaseMs;
  const lostContactMs = Math.max(LOST_CONTACT_MS, 2 * leaseMs + 30_000);
  let interrupted = false;
  let lostSince: number | undefined;
  let reportedMain = false;
  for (;;) {
    if (ctx.signal.aborted && !interrupted) {
      interrupted = true;
      // a leased job is never cut short: it is told to roll back, and puts its master back first
      if (lease) lease.abort('zkops was interrupted before the go-ahead');
      else await stopJob(ctx, dir, step.become);
    }
    let lost = false;
    const done = await poll(ctx, dir, step.become, lease !== undefined && !reportedMain).catch((err: unknown) => {
      if (err instanceof TransportError && ctx.master) ctx.sessions.drop(ctx.master);
      lost = true;
      if (lostSince === undefined) {
        lostSince = ctx.now();
        ctx.warn(`following job ${step.id} on ${master}: ${(err as Error).message}; the job goes on there; reconnecting`);
      }
      return undefined;
    });
    if (!lost && lostSince !== undefined) {
      ctx.warn(`following job ${step.id} on ${master}: reconnected after ${formatDuration(ctx.now() - lostSince)}`);
      lostSince = undefined;
    }
    if (done === 'unborn') {
      if (ctx.now() - launchedAt > START_MS) {
        const e = new TaskFailure(
          `job ${step.id} did not start on ${master}: no pid file in ${dir} ${formatDuration(START_MS)} after it was launched (it never ran, or cannot write its files there)`,
          { value: { dir } },
        );
        lease?.report(master, 'failed', e.message);
        throw e;
      }
    } else if (done && 'dead' in done) return rescueDeadJob(ctx, job, step, done.finallyRc, interrupted);
    else if (done) {
      // a leased job says how its main command ended, even when zkops first sees it finished
      if (lease && done.mainRc !== null) lease.report(master, done.mainRc === 0 ? 'ready' : 'failed', `the job's main command failed on ${master} (exit ${done.mainRc}): ${tail(done.out, 3)}`);
      reportedMain = true;
      if ('rc' in done) return finishJob(ctx, job, step, done, interrupted);
    }
    if (lostSince !== undefined && ctx.now() - lostSince > lostContactMs) {
      throw new TaskFailure(
        `lost contact with ${master} for ${formatDuration(lostContactMs)} while job ${step.id} ran there; the job goes on without zkops and runs its finally-command (${tail(job.commands.finally, 1)}) whatever happens${lease ? ', after its rollback unless it had the go-ahead' : ''}; its files are in ${dir} on the master`,
        { value: { dir, master }, timedOut: true },
      );
    }
    if (ctx.now() > deadline + (interrupted ? 60_000 : 0)) {
      throw new TaskFailure(
        `job still running after ${formatDuration(ctx.timeoutMs)}; its finally-command will still run on the master; follow it with: cat ${dir}/events.log`,
        { value: { dir, master }, timedOut: true },
      );
    }
    await new Promise((r) => setTimeout(r, step.poll));
  }
}

interface JobFiles {
  rc: number;
  finallyRc: number | null;
  out: string;
  finallyLog: string;
  startAt: number | null;
  resumedAt: number | null;
  finallyAt: number | null;
  endAt: number | null;
  launcher: 'systemd-run' | 'setsid';
  mainRc: number | null;
  decision: 'go' | 'rollback' | null;
  decidedBy: string | null;
  afterRc: number | null;
  afterLog: string;
  events: string[];
}

const SEP = '\n--zkops-sep--\n';
// resumed.at: `zkops_mark resumed` in the main command (a backup's `systemctl start` returned)
const FILES = ['rc', 'finally.rc', 'start.at', 'finally.at', 'end.at', 'launcher', 'out.log', 'finally.log', 'main.rc', 'decision.by', 'after.rc', 'events.log', 'resumed.at'] as const;

/**
 * One look at the job's files: undefined while it runs, 'unborn' before it wrote its pid,
 * `dead` when its process is gone without an exit status (killed with SIGKILL, or with the
 * cgroup of the SSH session that started it), `mainRc` while a leased job waits for (or acts
 * on) its decision, else what it left.
 */
async function poll(
  ctx: TaskContext,
  dir: string,
  become: boolean,
  untilMain: boolean,
): Promise<JobFiles | { dead: true; finallyRc: number | null } | { mainRc: number; out: string } | 'unborn' | undefined> {
  const session: Session = await ctx.session();
  const q = shellQuote(dir);
  // Wait on the master (up to 2 s, 0.1 s steps) for the next change: the main command's end
  // (leased jobs, before it was seen), the job's end, or its death. One exec then reports
  // within 0.1 s of the change, instead of an exec every few hundred milliseconds (every exec
  // starts a shell on the master; a sandbox's masters share the bastion's cores).
  const same = `[ ! -f ${q}/rc ]${untilMain ? ` && [ ! -f ${q}/main.rc ]` : ''} && kill -0 "$(cat ${q}/pid 2>/dev/null)" 2>/dev/null`;
  const wait = `i=0; while [ $i -lt 20 ] && ${same}; do sleep 0.1; i=$((i + 1)); done; `;
  // rc is looked at again after the liveness check: the job writes it just before it exits;
  // a dead job says whether its finally-command had finished
  const running = `p=$(cat ${q}/pid 2>/dev/null) || exit 5; if kill -0 "$p" 2>/dev/null; then [ -f ${q}/main.rc ] && { cat ${q}/main.rc; cat ${q}/out.log 2>/dev/null | tail -n 5; exit 6; }; exit 3; fi; [ -f ${q}/rc ] || { cat ${q}/finally.rc 2>/dev/null; exit 4; }`;
  const cmd = `${wait}[ -f ${q}/rc ] || { ${running}; }; for f in ${FILES.join(' ')}; do cat ${q}/$f 2>/dev/null; printf '${SEP.replace(/\n/g, '\\n')}'; done; readlink ${q}/decision 2>/dev/null || true`;
  const res = await session.exec(cmd, { become, timeoutMs: 30_000 });
  if (res.exitCode === 3) return undefined;
  if (res.exitCode === 6) {
    const [rc = '', ...out] = res.stdout.split('\n');
    return { mainRc: Number(rc.trim()), out: out.join('\n') };
  }
  if (res.exitCode === 4) return { dead: true, finallyRc: /^\d+$/.test(res.stdout.trim()) ? Number(res.stdout.trim()) : null };
  if (res.exitCode === 5) return 'unborn';
  if (res.exitCode !== 0) throw new Error(`cannot read ${dir}: ${res.stderr.trim()}`);
  const parts = res.stdout.split(SEP);
  const num = (s: string | undefined) => (s && s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : null);
  const decision = parts[FILES.length]?.trim();
  return {
    rc: num(parts[0]) ?? 1,
    finallyRc: num(parts[1]),
    startAt: num(parts[2]),
    resumedAt: num(parts[12]),
    finallyAt: num(parts[3]),
    endAt: num(parts[4]),
    launcher: parts[5]?.trim() === 'systemd-run' ? 'systemd-run' : 'setsid',
    out: parts[6] ?? '',
    finallyLog: parts[7] ?? '',
    mainRc: num(parts[8]),
    decidedBy: parts[9]?.trim() || null,
    afterRc: num(parts[10]),
    events: (parts[11] ?? '').split('\n').filter(Boolean),
    decision: decision === 'go' || decision === 'rollback' ? decision : null,
    afterLog: '',
  };
}

/**
 * The job's process died without an exit status. If its finally-command did not run either,
 * zkops runs it now over SSH (Exhibitor must not stay stopped because the job was killed);
 * a leased job's own script does it (`job.sh rescue`: rollback unless it had the go-ahead,
 * then finally). The step fails either way, since nobody knows how far the main command got.
 */
async function rescueDeadJob(ctx: TaskContext, job: Launched, step: JobStep, finallyRc: number | null, interrupted: boolean): Promise<never> {
  const { dir } = job;
  const where = `job ${step.id} on ${ctx.master?.name} died without an exit status (its process is gone: killed with SIGKILL, or with the SSH session's cgroup)`;
  if (finallyRc !== null) {
    throw new TaskFailure(`${where}; its finally-command had run (exit ${finallyRc}); its files are in ${dir} on the master`, { value: { dir, rescued: false } });
  }
  const rescue = job.lease ? `/bin/sh ${shellQuote(`${dir}/job.sh`)} rescue; cat ${shellQuote(`${dir}/finally.rc`)}` : job.commands.finally;
  ctx.warn(`${where}, before its finally-command; zkops runs it now: ${job.lease ? `${dir}/job.sh rescue (rollback unless it had the go-ahead, then ` : ''}${tail(job.commands.finally, 1)}${job.lease ? ')' : ''}`);
  const session = await ctx.session();
  const res = await session.exec(rescue, { become: step.become, timeoutMs: 10 * 60_000 });
  const outcome = res.exitCode === 0 ? 'zkops ran its finally-command (exit 0)' : `zkops ran its finally-command and it failed with exit ${res.exitCode}: ${tail(res.stderr || res.stdout, 5)}`;
  throw new TaskFailure(`${where}${interrupted ? ' while zkops stopped it' : ''}; ${outcome}; its files are in ${dir} on the master`, {
    rc: res.exitCode,
    stdout: res.stdout,
    stderr: res.stderr,
    value: { dir, rescued: true, finally_rc: res.exitCode },
  });
}

/** On interrupt: TERM the job's process group, so its trap runs the finally-command now. */
async function stopJob(ctx: TaskContext, dir: string, become: boolean): Promise<void> {
  const q = shellQuote(dir);
  const session = await ctx.session().catch(() => undefined);
  await session
    ?.exec(`[ -f ${q}/rc ] || { p=$(cat ${q}/pid 2>/dev/null) && kill -s TERM -- -"$p" 2>/dev/null || kill -s TERM "$p" 2>/dev/null; }; true`, {
      become,
      timeoutMs: 15_000,
    })
    .catch(() => undefined);
}

function finishJob(ctx: TaskContext, job: Launched, step: JobStep, f: JobFiles, interrupted: boolean) {
  const master = ctx.master?.name ?? 'local';
  const value = {
    stdout: f.out.trim(),
    rc: f.rc,
    finally_rc: f.finallyRc,
    finally_output: f.finallyLog.trim(),
    dir: job.dir,
    started_at: f.startAt,
    resumed_at: f.resumedAt,
    finally_at: f.finallyAt,
    ended_at: f.endAt,
    launcher: f.launcher,
    unit: f.launcher === 'systemd-run' ? `${job.unit}.service` : null,
    master,
    ...(job.lease ? { main_rc: f.mainRc, decision: f.decision, decided_by: f.decidedBy, after_rc: f.afterRc, events: f.events } : {}),
  };
  // what the job printed, then what its finally-command printed
  const output = { stdout: `${f.out}${f.finallyLog ? `\n[finally] ${f.finallyLog}` : ''}`, stderr: '' };
  if (job.lease) leasedOutcome(job.lease, f, master, output, value);
  if (interrupted && !job.lease) throw new TaskFailure(`interrupted; the job ran its finally-command (exit ${f.finallyRc})`, { rc: f.rc, ...output, value });
  if (f.finallyRc !== 0) {
    throw new TaskFailure(`finally-command failed with exit ${f.finallyRc}: ${tail(f.finallyLog, 5)}`, { rc: f.finallyRc, ...output, value });
  }
  if (f.rc !== 0) throw new TaskFailure(`exit ${f.rc}: ${tail(f.out, 5)}`, { rc: f.rc, ...output, value });
  return { value, rc: 0, ...output, command: `job ${step.id}: ${job.commands.main.split('\n')[0]}…` };
}

/** A leased job that did not go ahead fails its task, saying who decided and why. */
function leasedOutcome(lease: LeaseGroup, f: JobFiles, master: string, output: { stdout: string; stderr: string }, value: unknown): void {
  const after = `${f.afterRc === 0 ? 'put its previous state back' : `tried to put its previous state back (rollback exit ${f.afterRc})`} and ran its finally-command (exit ${f.finallyRc})`;
  if (f.decision === 'go' && f.mainRc === 0) {
    if (f.afterRc !== 0) throw new TaskFailure(`after the go-ahead, the go-command failed with exit ${f.afterRc}`, { rc: f.afterRc, ...output, value });
    return;
  }
  if (f.mainRc !== 0) throw new TaskFailure(`exit ${f.mainRc}: ${tail(f.out, 5)}; ${master} ${after}`, { rc: f.mainRc, ...output, value });
  if (f.decidedBy === 'lease') throw new TaskFailure(`the lease ran out before zkops's word reached ${master}; it ${after}`, { rc: f.rc, ...output, value });
  throw new TaskFailure(`rolled back (${lease.decision?.why ?? 'zkops said rollback'}); ${master} ${after}`, { rc: f.rc, ...output, value });
}
