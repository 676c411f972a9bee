// Load, plan or run a playbook with the run's displays, journal and signal handling. Shared
// by `run`, `plan` and the built-in procedures (backup, restore).

import { loadInventory } from '../inventory/load.js';
import type { Inventory } from '../inventory/types.js';
import { BUILTIN_VARS, loadPlaybook, type Playbook } from '../playbook/load.js';
import { buildPlan, runtimeNames, type Plan } from '../playbook/plan.js';
import { PlaybookRun, type RunResult } from '../engine/run.js';
import { runInfo } from '../playbook/context.js';
import { createSshTransport } from '../transport/index.js';
import { UsageError } from '../errors.js';
import type { Vars } from '../playbook/template.js';
import { journalFile, makeDisplay, newRunId, say, trapSignals, type GlobalOptions } from './options.js';

export interface Loaded {
  inventory: Inventory;
  playbook: Playbook;
  extra: Vars;
  runId: string;
}

/** Inventory and playbook, validated together (every required variable given). */
export async function loadForRun(inventoryFile: string, playbookFile: string, extra: Vars): Promise<Loaded> {
  const inventory = await loadInventory(inventoryFile);
  const playbook = await loadPlaybook(playbookFile, Object.keys(extra));
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
  const registered = runtimeNames(playbook);
  for (const name of Object.keys(extra)) {
    const builtin = (BUILTIN_VARS as readonly string[]).includes(name);
    if (!builtin && !registered.has(name)) continue;
    throw new UsageError(`-e ${name}=…: "${name}" is ${builtin ? 'a built-in variable of every run' : `set by a step of ${playbook.file}`}; an extra variable cannot replace it`, {
      hint: 'give your value another name, and use that name in the playbook',
      where: playbook.file,
    });
  }
}

export function planOf(l: Loaded): Plan {
  return buildPlan(l.playbook, l.inventory, l.extra, runInfo(l.inventory, l.runId, new Date()));
}

/** Human rendering of a plan. */
export function formatPlan(plan: Plan): string {
  const lines = [`plan: ${plan.playbook} on ${plan.cluster} (${plan.masters.length} masters: ${plan.masters.join(', ')})`];
  plan.steps.forEach((s, i) => {
    const meta = [
      `kind ${s.kind}`,
      `target ${s.target}`,
      s.serial ? `serial ${s.serial}` : '',
      s.needs.length ? `needs ${s.needs.join(', ')}` : '',
      s.when ? `when ${s.when}` : '',
      s.become ? 'become' : '',
      `timeout ${s.timeout}`,
      s.lease ? `lease ${s.lease}` : '',
      s.retries ? `retries ${s.retries}` : '',
      s.onFailure !== 'fail' ? `on_failure ${s.onFailure}` : '',
      s.register ? `register ${s.register}` : '',
      s.always ? 'ALWAYS' : '',
    ].filter(Boolean);
    lines.push(`${i + 1}. ${s.id}: ${s.name}`, `   ${meta.join(' · ')}`);
    for (const t of s.tasks) {
      const [first, ...rest] = t.commands;
      lines.push(`   ${t.master}: ${(first ?? '').split('\n').join('\n      ')}`);
      for (const more of rest) lines.push(`      ${more.split('\n').join('\n      ')}`);
    }
  });
  return lines.join('\n');
}

export interface ExecuteOptions {
  global: GlobalOptions;
  /** Catalog directory: the journal goes there. */
  dir: string;
  command: string;
  /** Answers `confirm` steps. */
  confirm?: (question: string) => Promise<'yes' | 'no' | 'no-tty'>;
  /** A step may ask on the terminal: plain lines, since a live display would draw over the question. */
  interactive?: boolean;
}

/** Run a loaded playbook with displays, journal and signals. */
export async function executeRun(l: Loaded, o: ExecuteOptions): Promise<RunResult> {
  const plan = planOf(l);
  const display = makeDisplay(
    o.global,
    plan.steps.map((s) => ({ id: s.id, name: s.name })),
    { file: journalFile(o.dir), runId: l.runId, command: o.command },
    o.interactive === true,
  );
  let run: PlaybookRun | undefined;
  const signals = trapSignals((sig, count) =>
    display.emit({ type: 'signal', signal: sig, count, running: run?.runningTasks() ?? [], at: Date.now() }),
  );
  try {
    run = new PlaybookRun({
      inventory: l.inventory,
      playbook: l.playbook,
      extraVars: l.extra,
      transport: createSshTransport(),
      sink: display,
      runId: l.runId,
      concurrency: o.global.concurrency,
      signal: signals.signal,
      ...(o.confirm ? { confirm: o.confirm } : {}),
    });
    return await run.execute();
  } finally {
    await display.close();
    signals.release();
  }
}

export { say };
