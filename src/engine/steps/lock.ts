// kind: lock / unlock — the cluster lock (playbook/lock.ts has the shell and why), as root on
// each of the step's masters.

import { lockCommand, lockOwner, unlockCommand } from '../../playbook/lock.js';
import type { RunInfo } from '../../playbook/context.js';
import type { LockStep, UnlockStep } from '../../playbook/schema.js';
import { runCommand } from './shell.js';
import type { Executor } from './types.js';

export const runLock: Executor<LockStep> = (ctx) => runCommand(ctx, lockCommand(ctx.vars.run as RunInfo, lockOwner(ctx.vars), ctx.master?.name ?? 'local'), true);

export const runUnlock: Executor<UnlockStep> = (ctx) => runCommand(ctx, unlockCommand(ctx.vars.run as RunInfo), true);
