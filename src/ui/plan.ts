// `zkops plan` and `--dry-run`: the Plan the engine would run, as text. Every line goes through
// forTerminal (an inventory host or a label could carry control characters).

import type { Plan } from '../playbook/plan.js';
import { forTerminal } from './text.js';

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
  return lines.map((l) => forTerminal(l)).join('\n');
}
