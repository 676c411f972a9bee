// The variables a task sees and the masters a step targets. Pure.

import { hostname, userInfo } from 'node:os';
import type { Inventory, Master } from '../inventory/types.js';
import type { Playbook } from './load.js';
import type { Step, StepKind } from './schema.js';
import { render, type Vars } from './template.js';
import { prepareRunDirCommand, runParent, runTmpDir } from './run-dir.js';

/** Kinds that run once for the cluster, from the bastion, whatever their target says. */
export const CLUSTER_KINDS: ReadonlySet<StepKind> = new Set<StepKind>(['set', 'choose', 'wait_healthy', 'verify', 'fail', 'confirm']);

/** The part of a master that playbooks may read. */
export function masterView(m: Master): Record<string, unknown> {
  return { name: m.name, host: m.host, port: m.port, user: m.user, index: m.index };
}

/** A registered value: one per master, or one for the cluster. */
export type Registered = { scope: 'cluster'; value: unknown } | { scope: 'master'; byMaster: Record<string, unknown> };

export interface RunInfo {
  id: string;
  /** Remote working directory of this run on every master. */
  tmp: string;
  /** Its parent, zkops's own directory (owner and mode checked), beside the cluster lock. */
  parent: string;
  /** Shell that checks the parent and creates `tmp` fresh (a playbook's lock step runs it as `{{ run.prepare | raw }}`). */
  prepare: string;
  started: string;
  /** `zkops run --limit`: the only masters its steps may target (names); absent: every master. */
  limit?: string[];
}

/** The run's remote directories and when it started; `limit`: the masters --limit selected. */
export function runInfo(inv: Inventory, runId: string, started: Date, limit?: readonly string[]): RunInfo {
  const tmp = runTmpDir(inv.dcos.remoteTmpDir, runId);
  const parent = runParent(inv.dcos.remoteTmpDir);
  const run: RunInfo = { id: runId, tmp, parent, prepare: prepareRunDirCommand(parent, tmp, { fresh: true }), started: started.toISOString() };
  return limit === undefined ? run : { ...run, limit: [...limit] };
}

/** Built-in, playbook and extra variables, rendered once at the start (playbook vars may use earlier ones). */
export function baseVars(inv: Inventory, playbook: Playbook, extra: Vars, run: RunInfo): Vars {
  // extra first: a built-in always wins (loadForRun refuses -e of one; this holds for any caller)
  const vars: Vars = {
    ...extra,
    cluster: inv.cluster,
    inventory: { file: inv.file, cluster: inv.cluster, masterCount: inv.masters.length },
    dcos: { ...inv.dcos },
    exhibitor: { ...inv.exhibitor },
    masters: inv.masters.map(masterView),
    run: { ...run },
    local: { cwd: process.cwd(), user: safeUser(), host: hostname(), pid: process.pid },
    steps: {},
  };
  for (const [key, value] of Object.entries(playbook.vars)) {
    if (Object.hasOwn(extra, key)) continue;
    vars[key] = typeof value === 'string' ? render(value, vars) : value;
  }
  return vars;
}

/** The variables of one task: base + registered (scoped to the master when per-master). */
export function taskVars(base: Vars, registered: ReadonlyMap<string, Registered>, steps: Vars, master: Master | undefined): Vars {
  const vars: Vars = { ...base, steps };
  for (const [name, reg] of registered) {
    if (reg.scope === 'cluster') vars[name] = reg.value;
    else {
      const own = master && Object.hasOwn(reg.byMaster, master.name) ? reg.byMaster[master.name] : undefined;
      const values = Object.values(reg.byMaster);
      vars[name] = own ?? (values.length === 1 ? values[0] : { by_master: reg.byMaster });
    }
  }
  if (master) vars.master = masterView(master);
  return vars;
}

/** Find a master by name or host. */
export function findMaster(inv: Inventory, key: string): Master | undefined {
  return inv.masters.find((m) => m.name === key) ?? inv.masters.find((m) => m.host === key || m.inventoryHost === key);
}

/**
 * The masters a step runs on. `ranOn` gives, for a step id, the masters where it started.
 * Under `zkops run --limit` (`run.limit`) only the limited masters, except for a lock step (the
 * cluster lock covers the masters the playbook names) and a step targeted at another step's
 * masters, which follows them (the unlock and cleanup after a lock). Throws a plain Error
 * naming the bad target.
 */
export function resolveTargets(step: Step, inv: Inventory, vars: Vars, ranOn: (stepId: string) => string[]): Master[] {
  const t = step.target;
  const limit = (vars.run as RunInfo | undefined)?.limit;
  const follows = typeof t === 'object' && !Array.isArray(t);
  const allowed = (m: Master): boolean => limit === undefined || step.kind === 'lock' || follows || limit.includes(m.name);
  if (t === 'all') return inv.masters.filter(allowed);
  if (t === 'one') return inv.masters.filter(allowed).slice(0, 1);
  if (t === 'local') return [];
  const names: string[] = [];
  if (typeof t === 'string') names.push(...splitNames(render(t, vars)));
  else if (Array.isArray(t)) t.forEach((x) => names.push(...splitNames(render(x, vars))));
  else names.push(...ranOn(t.step));
  const out: Master[] = [];
  for (const name of names) {
    const m = findMaster(inv, name);
    if (!m) throw new Error(`target "${name}" of step "${step.id}" is not a master of ${inv.file} (masters: ${inv.masters.map((x) => x.name).join(', ')})`);
    if (!out.includes(m) && allowed(m)) out.push(m);
  }
  return out;
}

function splitNames(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}
