// The Plan: every step resolved once, without opening a socket: its masters (or that they are
// chosen at run time), timeout, lease, whether it runs from the bastion, the run's remote
// directory and the base variables, and the concrete commands per master. The engine runs
// this Plan and nothing else; `zkops plan` and `--dry-run` print the same one. Templates that
// read a value registered at run time are rendered by the engine when the task starts (they
// show as ⟨name⟩ here). Pure.

import type { Inventory, Master } from '../inventory/types.js';
import { formatDuration } from '../util/duration.js';
import { baseVars, CLUSTER_KINDS, findMaster, masterView, resolveTargets, type RunInfo } from './context.js';
import { jobDir, jobScript, jobUnit } from './job-script.js';
import { lockCommand, lockOwner, unlockCommand } from './lock.js';
import { registeredNames, type Playbook } from './load.js';
import { needsOf, topoOrder } from './graph.js';
import { DEFAULT_TIMEOUT_MS, type Step } from './schema.js';
import { references, render, type Vars } from './template.js';

export interface PlannedTask {
  master: string;
  /** What would run there, concretely. */
  commands: string[];
}

export interface PlannedStep {
  /** The validated step the engine runs. */
  step: Step;
  /** Line of its `id:` in the playbook, for messages. */
  line: number;
  /** Runs once, from the bastion (cluster kinds and `target: local`). */
  fromBastion: boolean;
  /** Its masters when known before the run; undefined when chosen at run time (a registered value, `target: {step}`). */
  masters: string[] | undefined;
  timeoutMs: number;
  leaseMs: number | undefined;
  id: string;
  name: string;
  kind: Step['kind'];
  needs: string[];
  always: boolean;
  when: string | undefined;
  target: string;
  serial: number | undefined;
  become: boolean;
  timeout: string;
  /** A leased job's lease (SPEC rule 4.11). */
  lease: string | undefined;
  retries: number;
  onFailure: Step['on_failure'];
  register: string | undefined;
  tasks: PlannedTask[];
}

export interface Plan {
  playbook: string;
  /** The playbook file, for messages (file:line). */
  file: string;
  cluster: string;
  masters: string[];
  /** The run: its id, remote directory (`run.tmp`) and start. */
  run: RunInfo;
  /** Built-in, playbook and extra variables, rendered once. */
  base: Vars;
  /** In dependency order. */
  steps: PlannedStep[];
}

/** Replace {{ x.y }} of run-time names with ⟨x.y⟩ so the rest renders concretely. */
function deferRuntime(template: string, runtime: Set<string>): string {
  return template.replace(/\{\{\s*(.*?)\s*\}\}/gs, (whole) => {
    const ref = references(whole)[0];
    return ref && (runtime.has(ref.root) || ref.root === 'steps' || ref.root === 'result') ? `⟨${ref.path}⟩` : whole;
  });
}

/** Build the plan. Throws the template errors a run would hit (undefined variables). */
export function buildPlan(playbook: Playbook, inv: Inventory, extra: Vars, run: RunInfo): Plan {
  const runtime = registeredNames(playbook.steps);
  const base = baseVars(inv, playbook, extra, run);
  const r = (t: string, vars: Vars, mode: 'text' | 'shell' = 'text') => render(deferRuntime(t, runtime), vars, mode);
  const steps = topoOrder(playbook.steps).map((step): PlannedStep => {
    const where = targetsOf(step, inv, base, runtime);
    const timeoutMs = step.timeout ?? (step.kind === 'wait_healthy' ? inv.exhibitor.timeoutMs : DEFAULT_TIMEOUT_MS[step.kind]);
    const leaseMs = step.kind === 'job' && step.lease !== undefined ? (step.lease === true ? inv.dcos.leaseMs : step.lease) : undefined;
    const tasks = where.views.map((m) => {
      const vars: Vars = m ? { ...base, master: m } : base;
      return { master: m ? String(m.name) : 'local', commands: commandsOf(step, vars, r, inv, { timeoutMs, leaseMs }) };
    });
    return {
      step,
      line: playbook.lineOf[step.id] ?? 0,
      fromBastion: where.fromBastion,
      masters: where.known,
      timeoutMs,
      leaseMs,
      id: step.id,
      name: step.name ?? step.id,
      kind: step.kind,
      needs: needsOf(step),
      always: step.always,
      when: typeof step.when === 'boolean' ? String(step.when) : step.when,
      target: where.text,
      serial: step.serial,
      become: becomes(step),
      timeout: timeoutMs > 0 ? formatDuration(timeoutMs) : 'none',
      lease: leaseMs === undefined ? undefined : formatDuration(leaseMs),
      retries: step.retries,
      onFailure: step.on_failure,
      register: step.register,
      tasks,
    };
  });
  return { playbook: playbook.name, file: playbook.file, cluster: inv.cluster, masters: inv.masters.map((m) => m.name), run, base, steps };
}

/** Where a step runs, as far as the plan knows: the text, a view per task (placeholders when chosen at run time), the names when known. */
interface PlannedTargets {
  text: string;
  fromBastion: boolean;
  views: (Vars | undefined)[];
  known: string[] | undefined;
}

function targetsOf(step: Step, inv: Inventory, base: Vars, runtime: Set<string>): PlannedTargets {
  if (CLUSTER_KINDS.has(step.kind) || step.target === 'local') return { text: 'cluster (from the bastion)', fromBastion: true, views: [undefined], known: [] };
  if (typeof step.target === 'object' && !Array.isArray(step.target)) {
    return { text: `the masters where "${step.target.step}" ran`, fromBastion: false, views: [{ name: `⟨masters of ${step.target.step}⟩`, host: '⟨host⟩' }], known: undefined };
  }
  const raw = Array.isArray(step.target) ? step.target.join(',') : step.target;
  const deferred = deferRuntime(raw, runtime);
  if (deferred !== raw) return { text: `chosen at run time: ${deferred}`, fromBastion: false, views: [{ name: deferred, host: '⟨host⟩' }], known: undefined };
  const found = resolveTargets(step, inv, base, () => []);
  const text = step.target === 'all' || step.target === 'one' ? step.target : found.map((m) => m.name).join(', ');
  return { text, fromBastion: false, views: found.map(masterView), known: found.map((m) => m.name) };
}

/** Whether a step's commands run as root on the master (lock and unlock always do). */
export function becomes(step: Step): boolean {
  if (step.kind === 'lock' || step.kind === 'unlock') return true;
  return 'become' in step ? step.become : false;
}

/**
 * The masters of a planned step at run time: those the Plan names, or, when they are chosen at
 * run time, the step's target rendered with the task's variables (`ranOn`: where a step ran).
 * Throws a plain Error naming a target that is not a master.
 */
export function mastersOf(ps: PlannedStep, inv: Inventory, vars: Vars, ranOn: (stepId: string) => string[]): Master[] {
  if (ps.masters) return ps.masters.map((name) => findMaster(inv, name) as Master);
  return resolveTargets(ps.step, inv, vars, ranOn);
}

/** The Plan as `zkops plan --json` and `--dry-run --json` print it: what runs where, without the engine's inputs. */
export function planView(plan: Plan): Record<string, unknown> {
  return {
    playbook: plan.playbook,
    cluster: plan.cluster,
    masters: plan.masters,
    runId: plan.run.id,
    steps: plan.steps.map(({ step: _step, line: _line, fromBastion: _b, masters: _m, timeoutMs: _t, leaseMs: _l, ...shown }) => shown),
  };
}

type Renderer = (t: string, vars: Vars, mode?: 'text' | 'shell') => string;

function commandsOf(step: Step, vars: Vars, r: Renderer, inv: Inventory, limits: { timeoutMs: number; leaseMs: number | undefined }): string[] {
  switch (step.kind) {
    case 'shell':
      return [r(step.command, vars, 'shell')];
    case 'job': {
      const dir = jobDir((vars.run as RunInfo).tmp, step.id, String((vars.master as Vars | undefined)?.name ?? 'local'));
      const unit = jobUnit((vars.run as RunInfo).id, step.id);
      const { leaseMs, timeoutMs } = limits;
      const commands = {
        main: r(step.command, vars, 'shell'),
        finally: r(step.finally, vars, 'shell'),
        go: step.go === undefined ? undefined : r(step.go, vars, 'shell'),
        rollback: step.rollback === undefined ? undefined : r(step.rollback, vars, 'shell'),
      };
      return [
        `detached job in ${dir} (systemd unit ${unit}.service where systemd is init, else setsid); finally-command runs whatever happens`,
        ...(leaseMs === undefined
          ? []
          : [
              `lease ${formatDuration(leaseMs)}: after its main command the job waits for zkops's word, given to every master at once when all are ready; with no word for ${formatDuration(leaseMs)} it rolls back by itself, then runs its finally-command`,
            ]),
        jobScript({ dir, unit, leased: leaseMs !== undefined, mainTimeoutS: timeoutMs / 1000 }, commands),
      ];
    }
    case 'get':
      return [`get ${r(step.src, vars)} → ${r(step.dest, vars)} (sha256 in the stream, compared with the master's sha256sum)`];
    case 'put':
      return [`put ${r(step.src, vars)} → ${r(step.dest, vars)} (sha256 in the stream, compared with the master's sha256sum${step.sha256 ? ` and with ${r(step.sha256, vars)}` : ''})`];
    case 'wait_healthy':
      return [
        `poll ${inv.exhibitor.statusUrl} (via ${inv.exhibitor.via}) every ${formatDuration(step.interval ?? inv.exhibitor.pollIntervalMs)} until ${inv.masters.length} serving and 1 leader, ${plural(step.stable_polls ?? inv.exhibitor.stablePolls, 'poll')} in a row and for ${formatDuration(step.stable_for ?? inv.exhibitor.stableForMs)}`,
      ];
    case 'choose': {
      // As the engine does: a named master is taken as it is; one that renders empty means "by prefer".
      const given = step.master ? r(step.master, vars).trim() : '';
      if (given) return [`choose ${given} (named)`];
      return [`choose a ${step.prefer}${step.prefer === 'follower' ? ' (highest zxid; never the leader unless one master)' : ''}`];
    }
    case 'verify':
      return [
        `verify ${r(step.src, vars)}: sha256${step.sha256 ? ` = ${r(step.sha256, vars)}` : ''}, gzip tar readable, ./zookeeper/ members, a snapshot, no myid${step.deep ? '; every snapshot and log read, the txns replayed' : ''}`,
        ...(step.deep && step.trim_torn !== undefined && step.trim_torn !== false ? [`  when ${typeof step.trim_torn === 'string' ? r(step.trim_torn, vars) : 'true'}: cut off a torn last record of the newest log (a copy of a running ZooKeeper)`] : []),
        ...(step.deep && step.min_zxid ? [`  the replay reaches at least ${r(step.min_zxid, vars)}`] : []),
      ];
    case 'fail':
      return [`fail: ${r(step.message, vars)}`];
    case 'confirm':
      return [`ask: ${r(step.message, vars)} (--yes answers yes; no TTY and no --yes refuses)`];
    case 'set':
      return Object.entries(step.vars).map(([k, v]) => `${k} = ${typeof v === 'string' ? r(v, vars) : JSON.stringify(v)}`);
    case 'lock':
      return [lockCommand(vars.run as RunInfo, lockOwner(vars), String((vars.master as Vars | undefined)?.name ?? 'local'))];
    case 'unlock':
      return [unlockCommand(vars.run as RunInfo)];
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
