// Load a playbook: YAML with positions → schema per step kind → semantic rules (unique ids,
// known dependencies, no cycles, known variables). Every problem has file:line (exit 2).

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ValidationError, UsageError, type Problem } from '../errors.js';
import { parseYamlSource, problemAt, problemsFromZod, type YamlSource } from '../util/yaml-source.js';
import { playbookHeaderSchema, stepSchemas, STEP_KINDS, type Step, type StepKind } from './schema.js';
import { references, TemplateError } from './template.js';
import { findCycle, needsOf } from './graph.js';

export interface Playbook {
  file: string;
  name: string;
  description: string | undefined;
  vars: Record<string, unknown>;
  requires: string[];
  steps: Step[];
  /** Line of each step's `id:` for messages at run time. */
  lineOf: Record<string, number>;
  /** What the playbook promises a procedure (registered names, step ids); checked against its steps. */
  provides: { registered: string[]; steps: string[]; line: number } | undefined;
}

/** Variables every run has (see engine/context.ts). */
export const BUILTIN_VARS = ['cluster', 'inventory', 'dcos', 'exhibitor', 'masters', 'master', 'run', 'steps', 'local', 'result'] as const;

/** Template-bearing fields of each kind (the ones checked for unknown variables). */
const TEMPLATE_FIELDS: Record<StepKind, string[]> = {
  shell: ['command'],
  job: ['command', 'finally', 'go', 'rollback'],
  get: ['src', 'dest'],
  put: ['src', 'dest', 'sha256'],
  wait_healthy: [],
  choose: ['master'],
  set: [],
  verify: ['src', 'sha256', 'trim_torn', 'min_zxid'],
  fail: ['message'],
  confirm: ['message'],
  lock: [],
  unlock: [],
};

/** Read and validate a playbook file. `extraVars` are the -e names (values are not needed here). */
export async function loadPlaybook(file: string, extraVars: readonly string[] = []): Promise<Playbook> {
  const abs = resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read playbook ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      hint: 'give the path of a playbook file, e.g. playbooks/backup.yaml',
    });
  }
  return parsePlaybook(file, text, extraVars);
}

/** Validate playbook text (pure). */
export function parsePlaybook(file: string, text: string, extraVars: readonly string[] = []): Playbook {
  const src = parseYamlSource(file, text);
  const header = playbookHeaderSchema.safeParse(src.value);
  if (!header.success) throw new ValidationError(problemsFromZod(src, header.error), { hint: 'see README.md, "Playbooks"' });
  const h = header.data;
  const problems: Problem[] = [];
  const { steps, lineOf } = parseSteps(src, h.steps, problems);
  const indexOf = new Map(h.steps.map((raw, i) => [(raw as { id?: unknown })?.id, i]));
  const at: At = (stepId, message, ...rest) => problems.push(problemAt(src, ['steps', indexOf.get(stepId) ?? 0, ...rest], message));
  checkDependencies(steps, at);
  checkLeases(steps, at);
  const cycle = problems.length === 0 ? findCycle(steps) : undefined;
  if (cycle) at(cycle[0] as string, `dependency cycle: ${cycle.join(' → ')}`, 'needs');
  checkVariables(steps, new Set<string>([...BUILTIN_VARS, ...Object.keys(h.vars), ...h.requires, ...extraVars, ...registeredNames(steps)]), at);
  if (h.provides) checkProvides(h.provides, steps, (path, message) => problems.push(problemAt(src, ['provides', ...path], message)));
  if (problems.length > 0) {
    throw new ValidationError(problems.sort((x, y) => x.line - y.line), { hint: 'see README.md, "Playbooks"' });
  }
  return {
    file,
    name: h.name,
    description: h.description,
    vars: h.vars,
    requires: h.requires,
    steps,
    lineOf,
    provides: h.provides ? { ...h.provides, line: problemAt(src, ['provides'], '').line } : undefined,
  };
}

/** Report a problem at a key of a step: the step id, the message, the key path inside the step. */
type At = (stepId: string, message: string, ...path: PropertyKey[]) => void;

/** Each step against its kind's schema; ids unique. */
function parseSteps(src: YamlSource, raws: unknown[], problems: Problem[]): { steps: Step[]; lineOf: Record<string, number> } {
  const steps: Step[] = [];
  const lineOf: Record<string, number> = {};
  raws.forEach((raw, i) => {
    const step = parseStep(src, raw, i, problems);
    if (!step) return;
    if (Object.hasOwn(lineOf, step.id)) {
      problems.push(problemAt(src, ['steps', i, 'id'], `duplicate step id "${step.id}" (first at line ${lineOf[step.id]})`));
      return;
    }
    lineOf[step.id] = problemAt(src, ['steps', i, 'id'], '').line;
    steps.push(step);
  });
  return { steps, lineOf };
}

/** Every `needs` and `target: {step}` names a step of the playbook. */
function checkDependencies(steps: Step[], at: At): void {
  const ids = new Set(steps.map((s) => s.id));
  for (const step of steps) {
    for (const dep of needsOf(step)) if (!ids.has(dep)) at(step.id, `step "${step.id}" needs unknown step "${dep}"`, 'needs');
    if (typeof step.target === 'object' && !Array.isArray(step.target) && !ids.has(step.target.step)) at(step.id, `target refers to unknown step "${step.target.step}"`, 'target');
  }
}

/** A leased job waits for every master's job at once: no batches, no retries (a retry would launch a second job). */
function checkLeases(steps: Step[], at: At): void {
  for (const step of steps) {
    if (step.kind !== 'job') continue;
    if (step.lease === undefined) {
      for (const key of ['go', 'rollback'] as const) if (step[key] !== undefined) at(step.id, `"${key}" needs "lease" (it runs after zkops's decision)`, key);
      continue;
    }
    if (step.serial !== undefined) at(step.id, 'a leased job runs on all its masters at once: remove "serial"', 'serial');
    if (step.retries > 0) at(step.id, 'a leased job is not retried: remove "retries"', 'retries');
  }
}

/** The template-bearing fields of a step: [key, text]. */
function templatesOf(step: Step): [string, string][] {
  const fields: [string, unknown][] = TEMPLATE_FIELDS[step.kind].map((f) => [f, (step as Record<string, unknown>)[f]]);
  fields.push(['when', step.when], ['fail_message', step.fail_message]);
  if (typeof step.target === 'string') fields.push(['target', step.target]);
  if (Array.isArray(step.target)) step.target.forEach((t) => fields.push(['target', t]));
  if (step.kind === 'set') Object.values(step.vars).forEach((v) => fields.push(['vars', v]));
  return fields.filter((f): f is [string, string] => typeof f[1] === 'string');
}

/** Every template root is known somewhere: built in, vars:, requires:, -e, or registered by a step. */
function checkVariables(steps: Step[], known: Set<string>, at: At): void {
  for (const step of steps) {
    for (const [field, value] of templatesOf(step)) {
      try {
        for (const ref of references(value)) {
          if (!known.has(ref.root) && !ref.hasDefault) {
            at(step.id, `undefined variable "${ref.path}" (define it in vars:, pass -e ${ref.root}=…, or register it in an earlier step)`, field);
          }
        }
      } catch (err) {
        if (!(err instanceof TemplateError)) throw err;
        at(step.id, err.message, field);
      }
    }
  }
}

/** What `provides:` lists exists: registered by a step, a step id. */
function checkProvides(provides: { registered: string[]; steps: string[] }, steps: Step[], at: (path: PropertyKey[], message: string) => void): void {
  const registered = registeredNames(steps);
  const ids = new Set(steps.map((s) => s.id));
  provides.registered.forEach((name, i) => {
    if (!registered.has(name)) at(['registered', i], `provides "${name}", but no step registers it (register: or a set step)`);
  });
  provides.steps.forEach((stepId, i) => {
    if (!ids.has(stepId)) at(['steps', i], `provides step "${stepId}", but the playbook has no step with that id`);
  });
}

function parseStep(src: YamlSource, raw: unknown, i: number, problems: Problem[]): Step | undefined {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push(problemAt(src, ['steps', i], 'a step is a mapping with at least id and kind'));
    return undefined;
  }
  const kind = (raw as { kind?: unknown }).kind;
  if (typeof kind !== 'string' || !(STEP_KINDS as string[]).includes(kind)) {
    const what = kind === undefined ? 'missing "kind"' : `unknown step kind "${String(kind)}"`;
    problems.push(problemAt(src, kind === undefined ? ['steps', i] : ['steps', i, 'kind'], `${what} (known: ${STEP_KINDS.join(', ')})`));
    return undefined;
  }
  const result = stepSchemas[kind as StepKind].safeParse(raw);
  if (!result.success) {
    const shifted = result.error.issues.map((issue) => ({ ...issue, path: ['steps', i, ...issue.path] }));
    problems.push(...problemsFromZod(src, { issues: shifted } as never));
    return undefined;
  }
  return result.data as Step;
}
/** Names a run registers: `register:` of any step and the variables of `set` steps. */
export function registeredNames(steps: readonly Step[]): Set<string> {
  const names = new Set<string>();
  for (const s of steps) {
    if (s.register) names.add(s.register);
    if (s.kind === 'set') Object.keys(s.vars).forEach((k) => names.add(k));
  }
  return names;
}

/** What a procedure reads back from a run of its playbook. */
export interface Contract {
  /** The command, for messages ("zkops backup"). */
  command: string;
  registered: readonly string[];
  steps: readonly string[];
}

/**
 * Refuse a playbook that does not promise what a procedure reads back (exit 2, file:line): a
 * copy of a bundled playbook that renamed a step would otherwise make the procedure misreport.
 */
export function requireContract(playbook: Playbook, contract: Contract): void {
  const p = playbook.provides ?? { registered: [], steps: [], line: 1 };
  const missing = [
    ...contract.registered.filter((n) => !p.registered.includes(n)).map((n) => `registered "${n}"`),
    ...contract.steps.filter((n) => !p.steps.includes(n)).map((n) => `step "${n}"`),
  ];
  if (missing.length === 0) return;
  throw new UsageError(`${playbook.file}:${p.line}: \`${contract.command}\` reads back ${missing.join(', ')} from its playbook, which ${playbook.file} does not provide`, {
    where: `${playbook.file}:${p.line}`,
    hint: `keep those step ids and register names, and list them under provides: (registered: [${contract.registered.join(', ')}], steps: [${contract.steps.join(', ')}]), as the bundled playbook does`,
  });
}

