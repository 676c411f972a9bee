// Load, plan and run a playbook: what `zkops run` does, and what backup, restore and
// `status --wait` do under their own playbooks. The Plan is built once here and handed to the
// engine; the report comes back whole.

import { loadInventory } from '../inventory/load.js';
import type { Inventory, Master } from '../inventory/types.js';
import { BUILTIN_VARS, loadPlaybook, registeredNames, requireContract, type Contract, type Playbook } from '../playbook/load.js';
import { buildPlan, type Plan } from '../playbook/plan.js';
import { runInfo } from '../playbook/context.js';
import { refuseUnsafeLimit, selectMasters, stepsBeyondLimit } from '../playbook/limit.js';
import { newRunId } from '../playbook/run-dir.js';
import type { Vars } from '../playbook/template.js';
import { PlaybookRun } from '../engine/run.js';
import type { RunReport } from '../engine/report.js';
import { UsageError } from '../errors.js';
import type { Answer, Deps } from './deps.js';

export interface Loaded {
  inventory: Inventory;
  playbook: Playbook;
  extra: Vars;
  runId: string;
  /** `zkops run --limit`: the pattern and the masters it selected, in inventory order. */
  limit?: { pattern: string; masters: string[] };
}

/**
 * Inventory and playbook, validated together: every required variable given, no built-in
 * replaced, and, for a procedure, everything it reads back provided (`contract`).
 */
export async function loadForRun(inventoryFile: string, playbookFile: string, extra: Vars, contract?: Contract): Promise<Loaded> {
  const inventory = await loadInventory(inventoryFile);
  const playbook = await loadPlaybook(playbookFile, Object.keys(extra));
  if (contract) requireContract(playbook, contract);
  refuseOverrides(extra, playbook);
  // own keys only: `requires: [constructor]` is not given by Object.prototype
  const missing = playbook.requires.filter((k) => !Object.hasOwn(extra, k));
  if (missing.length > 0) {
    throw new UsageError(`playbook ${playbookFile} needs ${missing.map((k) => `-e ${k}=…`).join(' ')}`, { where: playbookFile });
  }
  return { inventory, playbook, extra, runId: newRunId() };
}

/**
 * Extra variables give a playbook's own names; they never replace one that zkops or a step
 * provides (`-e cluster=…`, `-e run=…`, `-e chosen=…`), which would silently change what
 * every later step sees.
 */
function refuseOverrides(extra: Vars, playbook: Playbook): void {
  const registered = registeredNames(playbook.steps);
  for (const name of Object.keys(extra)) {
    const builtin = (BUILTIN_VARS as readonly string[]).includes(name);
    if (!builtin && !registered.has(name)) continue;
    throw new UsageError(`-e ${name}=…: "${name}" is ${builtin ? 'a built-in variable of every run' : `set by a step of ${playbook.file}`}; an extra variable cannot replace it`, {
      hint: 'give your value another name, and use that name in the playbook',
      where: playbook.file,
    });
  }
}

/** The Plan of a loaded playbook: what `plan`/`--dry-run` print and what the engine runs. */
export function planOf(l: Loaded, now: Date = new Date()): Plan {
  return buildPlan(l.playbook, l.inventory, l.extra, runInfo(l.inventory, l.runId, now, l.limit?.masters));
}

/**
 * `zkops run --limit PATTERN`: the masters the run's steps may target (exit 2 when a part of
 * the pattern matches no master or none is left), refused (exit 3, nothing changed) where a
 * safety rule needs every master (a leased job; a playbook of backup or restore). The engine
 * then keeps every step to them, except the lock and the steps that follow it, which keep the
 * masters the playbook names (playbook/context.ts, resolveTargets).
 */
export function limitRun(l: Loaded, pattern: string): Loaded {
  const names = selectMasters(pattern, l.inventory.masters).map((m) => m.name);
  refuseUnsafeLimit(
    l.playbook,
    pattern,
    l.inventory.masters.filter((m) => !names.includes(m.name)).map((m) => m.name),
  );
  return { ...l, limit: { pattern, masters: names } };
}

/** What `zkops run --list-hosts` says: the masters the run's steps would touch, and what else does. */
export interface HostList {
  /** The masters its steps run on: every master, or those --limit selected, in inventory order. */
  hosts: Master[];
  /** Masters outside --limit that the lock steps still cover, and those steps (with their followers). */
  lockedToo: { masters: string[]; steps: string[] };
  /** Steps that read Exhibitor's status through an SSH session to any master (exhibitor.via: ssh). */
  statusVia: string[];
}

/** The hosts of a run, from its Plan (nothing is contacted). */
export function listHosts(l: Loaded): HostList {
  const limit = l.limit?.masters;
  const hosts = limit ? l.inventory.masters.filter((m) => limit.includes(m.name)) : [...l.inventory.masters];
  if (!limit || limit.length === l.inventory.masters.length) return { hosts, lockedToo: { masters: [], steps: [] }, statusVia: [] };
  const plan = planOf(l);
  const locks = plan.steps.filter((s) => s.kind === 'lock').flatMap((s) => s.masters ?? []);
  const masters = l.inventory.masters.map((m) => m.name).filter((n) => locks.includes(n) && !limit.includes(n));
  const statusVia = l.inventory.exhibitor.via === 'ssh' ? plan.steps.filter((s) => s.kind === 'wait_healthy' || s.kind === 'choose' || s.step.healthy_between).map((s) => s.id) : [];
  return { hosts, lockedToo: { masters, steps: masters.length > 0 ? stepsBeyondLimit(l.playbook.steps) : [] }, statusVia };
}

export interface RunPlanOptions {
  /** The command as the journal records it. */
  command: string;
  /** A step asks on the terminal (the display then uses plain lines). */
  interactive?: boolean;
  /** Answers `confirm` steps (default: the dependencies' confirm). */
  confirm?: (question: string) => Promise<Answer>;
}

/** Run a Plan with the run's sink and signals; never throws for a failed step (see RunReport). */
export async function runPlan(plan: Plan, inventory: Inventory, deps: Deps, o: RunPlanOptions): Promise<RunReport> {
  const sink = deps.openSink({ steps: plan.steps.map((s) => ({ id: s.id, name: s.name })), runId: plan.run.id, command: o.command, interactive: o.interactive === true });
  let run: PlaybookRun | undefined;
  const stopListening = deps.interrupts.onSignal((sig, count) =>
    sink.emit({ type: 'signal', signal: sig, count, running: run?.runningTasks() ?? [], at: deps.now() }),
  );
  try {
    run = new PlaybookRun({
      plan,
      inventory,
      transport: deps.transport,
      sink,
      concurrency: deps.concurrency,
      signal: deps.interrupts.signal,
      confirm: o.confirm ?? deps.confirm,
      now: deps.now,
    });
    return await run.execute();
  } finally {
    stopListening();
    await sink.close();
  }
}

/** Load, plan and run: `zkops run PLAYBOOK`. */
export async function runLoaded(l: Loaded, deps: Deps, o: RunPlanOptions): Promise<{ plan: Plan; report: RunReport }> {
  const plan = planOf(l, new Date(deps.now()));
  return { plan, report: await runPlan(plan, l.inventory, deps, o) };
}
