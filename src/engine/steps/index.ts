// The executor of every step kind.

import { renderDeep } from '../../playbook/template.js';
import { runChoose } from './choose.js';
import { runJob } from './job.js';
import { runShell } from './shell.js';
import { runGet, runPut } from './transfer.js';
import { runWaitHealthy } from './wait-healthy.js';
import { runVerify } from './verify.js';
import { runLock, runUnlock } from './lock.js';
import { TaskFailure, type ExecutorMap } from './types.js';
import { render } from '../../playbook/template.js';
import { SafetyRefusal } from '../../errors.js';

export const executors: ExecutorMap = {
  shell: runShell,
  job: runJob,
  get: runGet,
  put: runPut,
  wait_healthy: runWaitHealthy,
  choose: runChoose,
  verify: runVerify,
  lock: runLock,
  unlock: runUnlock,
  fail: async (ctx, step) => {
    throw new TaskFailure(render(step.message, ctx.vars), { rc: 1 });
  },
  confirm: async (ctx, step) => {
    const question = render(step.message, ctx.vars);
    const answer = await ctx.confirm(question);
    if (answer === 'no-tty') {
      throw new SafetyRefusal(`${question}: no answer possible (no TTY); pass --yes to confirm`, { hint: 'nothing was changed' });
    }
    if (answer !== 'yes') throw new SafetyRefusal('not confirmed; nothing was changed');
    return { value: { confirmed: true }, rc: 0, stdout: 'confirmed', stderr: '' };
  },
  set: async (ctx, step) => {
    const value = renderDeep(step.vars, ctx.vars);
    return { value, rc: 0, stdout: Object.keys(value).join(', '), stderr: '' };
  },
};
