// The playbook grammar (SPEC section 8) as a zod schema. One step kind a schema; keys
// shared by every kind live in `common`. Unknown keys are errors.

import { z } from 'zod';
import { durationMs } from '../util/duration.js';

const duration = durationMs();
// 0 refused: a step timeout of 0 means none, and a poll of 0 asks again without a pause.
const stepTimeout = durationMs("0 would let the step run without a timeout (leave timeout out for the step's default)");
const pollInterval = (what: string) => durationMs(`0 would poll ${what} without a pause`);

const id = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'use lowercase letters, digits, - and _');
const varName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'use letters, digits and _');

/** Where a step runs: all masters, one (the first that answers), a master name or a template, a list, or the masters a step ran on. */
export const targetSchema = z.union([
  z.literal('all'),
  z.literal('one'),
  z.literal('local'),
  z.string().min(1),
  z.array(z.string().min(1)).min(1),
  z.strictObject({ step: id }),
]);

const common = {
  id,
  name: z.string().optional(),
  target: targetSchema.default('all'),
  serial: z.number().int().min(1).optional(),
  /** With serial: wait until Exhibitor is healthy after each batch before the next one. */
  healthy_between: z.boolean().default(false),
  needs: z.union([id, z.array(id)]).optional(),
  when: z.union([z.string(), z.boolean()]).optional(),
  retries: z.number().int().min(0).max(100).default(0),
  delay: duration.default(1000),
  timeout: stepTimeout.optional(),
  register: varName.optional(),
  always: z.boolean().default(false),
  on_failure: z.enum(['fail', 'refuse', 'continue']).default('fail'),
  fail_message: z.string().optional(),
};

export const stepSchemas = {
  shell: z.strictObject({ ...common, kind: z.literal('shell'), command: z.string().min(1), become: z.boolean().default(false) }),
  job: z.strictObject({
    ...common,
    kind: z.literal('job'),
    command: z.string().min(1),
    finally: z.string().min(1),
    become: z.boolean().default(false),
    poll: pollInterval('the master').default(500),
    /**
     * A leased job (SPEC rule 4.11): every master's job waits after its main command until zkops
     * says go (to all at once, when all are ready) or rollback; without word for the lease
     * (`true`: the inventory's dcos.lease) it rolls back by itself. Then `go` or `rollback` runs.
     */
    lease: z.union([z.literal(true), duration.refine((ms) => ms >= 5000, 'a lease is at least 5s (it is renewed every quarter of it, over SSH)')]).optional(),
    go: z.string().min(1).optional(),
    rollback: z.string().min(1).optional(),
  }),
  get: z.strictObject({ ...common, kind: z.literal('get'), src: z.string().min(1), dest: z.string().min(1), become: z.boolean().default(false) }),
  put: z.strictObject({
    ...common,
    kind: z.literal('put'),
    src: z.string().min(1),
    dest: z.string().min(1),
    become: z.boolean().default(false),
    /** The sha256 the file must have on arrival (e.g. the catalog's), beside the check of what was sent. */
    sha256: z.string().optional(),
  }),
  wait_healthy: z.strictObject({
    ...common,
    kind: z.literal('wait_healthy'),
    stable_polls: z.number().int().min(1).optional(),
    /** How long the cluster must stay healthy (the inventory's stableFor when left out; 0s: the polls alone). */
    stable_for: duration.optional(),
    interval: pollInterval('Exhibitor').optional(),
  }),
  choose: z.strictObject({
    ...common,
    kind: z.literal('choose'),
    prefer: z.enum(['follower', 'leader', 'any']).default('follower'),
    master: z.string().optional(),
  }),
  set: z.strictObject({ ...common, kind: z.literal('set'), vars: z.record(z.string(), z.unknown()) }),
  fail: z.strictObject({ ...common, kind: z.literal('fail'), message: z.string().min(1) }),
  confirm: z.strictObject({ ...common, kind: z.literal('confirm'), message: z.string().min(1) }),
  /**
   * deep: also read the ZooKeeper files (every checksum, the replay; `zkops verify --deep`) and register the tree's summary.
   * trim_torn (a condition, deep only): cut off the newest log's torn last record, the one thing a copy of a running
   * ZooKeeper may leave (catalog/trim.ts). min_zxid (deep only): the replay must reach at least this zxid.
   */
  verify: z.strictObject({
    ...common,
    kind: z.literal('verify'),
    src: z.string().min(1),
    sha256: z.string().optional(),
    deep: z.boolean().optional(),
    trim_torn: z.union([z.boolean(), z.string()]).optional(),
    min_zxid: z.string().optional(),
  }),
  /** Take the cluster lock on the step's masters and make the run's directory (playbook/lock.ts); runs as root. */
  lock: z.strictObject({ ...common, kind: z.literal('lock') }),
  /** Release the lock where this run holds it; runs as root. */
  unlock: z.strictObject({ ...common, kind: z.literal('unlock') }),
} as const;

export type StepKind = keyof typeof stepSchemas;
export const STEP_KINDS = Object.keys(stepSchemas) as StepKind[];

export type ShellStep = z.output<(typeof stepSchemas)['shell']>;
export type JobStep = z.output<(typeof stepSchemas)['job']>;
export type GetStep = z.output<(typeof stepSchemas)['get']>;
export type PutStep = z.output<(typeof stepSchemas)['put']>;
export type WaitHealthyStep = z.output<(typeof stepSchemas)['wait_healthy']>;
export type ChooseStep = z.output<(typeof stepSchemas)['choose']>;
export type SetStep = z.output<(typeof stepSchemas)['set']>;
export type VerifyStep = z.output<(typeof stepSchemas)['verify']>;
export type FailStep = z.output<(typeof stepSchemas)['fail']>;
export type ConfirmStep = z.output<(typeof stepSchemas)['confirm']>;
export type LockStep = z.output<(typeof stepSchemas)['lock']>;
export type UnlockStep = z.output<(typeof stepSchemas)['unlock']>;
export type Step = ShellStep | JobStep | GetStep | PutStep | WaitHealthyStep | ChooseStep | SetStep | VerifyStep | FailStep | ConfirmStep | LockStep | UnlockStep;
export type Target = z.output<typeof targetSchema>;

export const playbookHeaderSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  vars: z.record(varName, z.unknown()).default({}),
  /** Variables the caller must give (with -e or from the command); listed in --help and checked. */
  requires: z.array(varName).default([]),
  /**
   * What a procedure (`zkops backup`, `zkops restore`) reads back from a run of this playbook:
   * registered names and step ids. Checked on load against the steps, and by the procedure
   * against what it needs, so a copy that renames one fails at once with exit 2.
   */
  provides: z.strictObject({ registered: z.array(varName).default([]), steps: z.array(id).default([]) }).optional(),
  steps: z.array(z.unknown()).min(1, 'a playbook needs at least one step'),
});

/** Default timeouts for steps that touch the network and give none. */
export const DEFAULT_TIMEOUT_MS: Record<StepKind, number> = {
  shell: 5 * 60_000,
  job: 60 * 60_000,
  get: 60 * 60_000,
  put: 60 * 60_000,
  wait_healthy: 10 * 60_000,
  choose: 60_000,
  set: 0,
  verify: 60 * 60_000,
  fail: 0,
  confirm: 0,
  lock: 60_000,
  unlock: 60_000,
};
