// The step graph: dependencies, cycle detection and a stable topological order. Pure.

import type { Step } from './schema.js';

/** The ids a step waits for: its `needs`, and the step its target refers to. */
export function needsOf(step: Pick<Step, 'needs' | 'target'>): string[] {
  const needs = step.needs === undefined ? [] : Array.isArray(step.needs) ? [...step.needs] : [step.needs];
  const t = step.target;
  if (t && typeof t === 'object' && !Array.isArray(t) && !needs.includes(t.step)) needs.push(t.step);
  return needs;
}

/** A cycle as a list of ids that starts and ends with the same id, or undefined. */
export function findCycle(steps: readonly Step[]): string[] | undefined {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    const s = state.get(id);
    if (s === 'done') return undefined;
    if (s === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    const step = byId.get(id);
    for (const dep of step ? needsOf(step) : []) {
      const found = visit(dep);
      if (found) return found;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const step of steps) {
    const found = visit(step.id);
    if (found) return found;
  }
  return undefined;
}

/** Steps in an order where every step comes after what it needs; file order breaks ties. */
export function topoOrder<T extends Pick<Step, 'id' | 'needs' | 'target'>>(steps: readonly T[]): T[] {
  const done = new Set<string>();
  const out: T[] = [];
  const ids = new Set(steps.map((s) => s.id));
  while (out.length < steps.length) {
    const next = steps.find((s) => !done.has(s.id) && needsOf(s).every((d) => done.has(d) || !ids.has(d)));
    if (!next) throw new Error('topoOrder: cycle (validate the playbook first)');
    done.add(next.id);
    out.push(next);
  }
  return out;
}
