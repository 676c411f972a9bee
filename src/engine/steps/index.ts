// The executor of every step kind.

import { renderDeep } from '../../playbook/template.js';
import { runChoose } from './choose.js';
import { runJob } from './job.js';
import { runShell } from './shell.js';
import { runGet, runPut } from './transfer.js';
import { runWaitHealthy } from './wait-healthy.js';
import { runVerify } from './verify.js';
import type { ExecutorMap } from './types.js';

export const executors: ExecutorMap = {
  shell: runShell,
  job: runJob,
  get: runGet,
  put: runPut,
  wait_healthy: runWaitHealthy,
  choose: runChoose,
  verify: runVerify,
  set: async (ctx, step) => {
    const value = renderDeep(step.vars, ctx.vars);
    return { value, exitCode: 0, output: Object.keys(value).join(', ') };
  },
};
