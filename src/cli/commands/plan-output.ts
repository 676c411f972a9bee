// The dry-run block of run, plan, backup and restore: print the Plan, run nothing.

import { planView, type Plan } from '../../playbook/plan.js';
import { formatPlan } from '../../ui/plan.js';
import type { Outcome } from '../command.js';
import { say, type GlobalOptions } from '../options.js';

/** The plan as --json or text; nothing runs. */
export function planOutcome(argv: GlobalOptions, plan: Plan): Outcome {
  if (argv.json) return { json: planView(plan), raw: true };
  process.stdout.write(`${formatPlan(plan)}\n`);
  if (!argv.quiet) say('(plan only: nothing was run)');
  return {};
}
