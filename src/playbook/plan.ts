// The Plan: the step graph with the concrete commands per master, built without opening a
// socket. `zkops plan` and `--dry-run` print it. Pure.

import type { Inventory } from '../inventory/types.js';
import { formatDuration } from '../util/duration.js';
import { baseVars, CLUSTER_KINDS, masterView, resolveTargets, type RunInfo } from './context.js';
import { jobDir, jobScript, jobUnit } from './job-script.js';
import type { Playbook } from './load.js';
import { needsOf, topoOrder } from './graph.js';
import { DEFAULT_TIMEOUT_MS, type Step } from './schema.js';
import { references, render, type Vars } from './template.js';

export interface PlannedTask {
  master: string;
  /** What would run there, concretely. */
  commands: string[];
}

export interface PlannedStep {
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
  cluster: string;
  masters: string[];
  steps: PlannedStep[];
}

/** Names known only at run time: registered results and `set` variables. */
export function runtimeNames(playbook: Playbook): Set<string> {
  const names = new Set<string>();
  for (const s of playbook.steps) {
    if (s.register) names.add(s.register);
    if (s.kind === 'set') Object.keys(s.vars).forEach((k) => names.add(k));
  }
  return names;
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
  const runtime = runtimeNames(playbook);
  const base = baseVars(inv, playbook, extra, run);
  const r = (t: string, vars: Vars, mode: 'text' | 'shell' = 'text') => render(deferRuntime(t, runtime), vars, mode);
  const steps = topoOrder(playbook.steps).map((step): PlannedStep => {
    let target: string;
    let masters: (Vars | undefined)[];
    if (CLUSTER_KINDS.has(step.kind) || step.target === 'local') {
      target = 'cluster (from the bastion)';
      masters = [undefined];
    } else if (typeof step.target === 'object' && !Array.isArray(step.target)) {
      target = `the masters where "${step.target.step}" ran`;
      masters = [{ name: `⟨masters of ${step.target.step}⟩`, host: '⟨host⟩' }];
    } else {
      const raw = Array.isArray(step.target) ? step.target.join(',') : step.target;
      const deferred = deferRuntime(raw, runtime);
      if (deferred !== raw) {
        target = `chosen at run time: ${deferred}`;
        masters = [{ name: deferred, host: '⟨host⟩' }];
      } else {
        const found = resolveTargets(step, inv, base, () => []);
        target = step.target === 'all' || step.target === 'one' ? step.target : found.map((m) => m.name).join(', ');
        masters = found.map(masterView);
      }
    }
    const tasks = masters.map((m) => {
      const vars: Vars = m ? { ...base, master: m } : base;
      return { master: m ? String(m.name) : 'local', commands: commandsOf(step, vars, r, inv) };
    });
    const timeoutMs = step.timeout ?? (step.kind === 'wait_healthy' ? inv.exhibitor.timeoutMs : DEFAULT_TIMEOUT_MS[step.kind]);
    return {
      id: step.id,
      name: step.name ?? step.id,
      kind: step.kind,
      needs: needsOf(step),
      always: step.always,
      when: typeof step.when === 'boolean' ? String(step.when) : step.when,
      target,
      serial: step.serial,
      become: 'become' in step ? step.become : false,
      timeout: timeoutMs > 0 ? formatDuration(timeoutMs) : 'none',
      lease: step.kind === 'job' && step.lease !== undefined ? formatDuration(step.lease === true ? inv.dcos.leaseMs : step.lease) : undefined,
      retries: step.retries,
      onFailure: step.on_failure,
      register: step.register,
      tasks,
    };
  });
  return { playbook: playbook.name, cluster: inv.cluster, masters: inv.masters.map((m) => m.name), steps };
}

type Renderer = (t: string, vars: Vars, mode?: 'text' | 'shell') => string;

function commandsOf(step: Step, vars: Vars, r: Renderer, inv: Inventory): string[] {
  switch (step.kind) {
    case 'shell':
      return [r(step.command, vars, 'shell')];
    case 'job': {
      const dir = jobDir((vars.run as RunInfo).tmp, step.id, String((vars.master as Vars | undefined)?.name ?? 'local'));
      const unit = jobUnit((vars.run as RunInfo).id, step.id);
      const leaseMs = step.lease === true ? inv.dcos.leaseMs : step.lease;
      const commands = {
        main: r(step.command, vars, 'shell'),
        finally: r(step.finally, vars, 'shell'),
        go: step.go === undefined ? undefined : r(step.go, vars, 'shell'),
        rollback: step.rollback === undefined ? undefined : r(step.rollback, vars, 'shell'),
      };
      const timeoutMs = step.timeout ?? DEFAULT_TIMEOUT_MS.job;
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
        `poll ${inv.exhibitor.statusUrl} (via ${inv.exhibitor.via}) until ${inv.masters.length} serving and 1 leader, ${plural(step.stable_polls ?? inv.exhibitor.stablePolls, 'poll')} in a row`,
      ];
    case 'choose': {
      // As the engine does: a named master is taken as it is; one that renders empty means "by prefer".
      const given = step.master ? r(step.master, vars).trim() : '';
      if (given) return [`choose ${given} (named)`];
      return [`choose a ${step.prefer}${step.prefer === 'follower' ? ' (highest zxid; never the leader unless one master)' : ''}`];
    }
    case 'verify':
      return [`verify ${r(step.src, vars)}: sha256${step.sha256 ? ` = ${r(step.sha256, vars)}` : ''}, gzip tar readable, ./zookeeper/ members, a snapshot, no myid`];
    case 'fail':
      return [`fail: ${r(step.message, vars)}`];
    case 'confirm':
      return [`ask: ${r(step.message, vars)} (--yes answers yes; no TTY and no --yes refuses)`];
    case 'set':
      return Object.entries(step.vars).map(([k, v]) => `${k} = ${typeof v === 'string' ? r(v, vars) : JSON.stringify(v)}`);
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
