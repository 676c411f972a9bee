// kind: shell — one command on one master, every substitution shell-quoted.

import { formatDuration } from '../../util/duration.js';
import { render } from '../../playbook/template.js';
import type { ShellStep } from '../../playbook/schema.js';
import { TaskFailure, tail, type Executor } from './types.js';

export const runShell: Executor<ShellStep> = async (ctx, step) => {
  const command = render(step.command, ctx.vars, 'shell');
  const session = await ctx.session();
  const res = await session.exec(command, { become: step.become, timeoutMs: ctx.timeoutMs, signal: ctx.signal });
  const value = { stdout: res.stdout.trim(), stderr: res.stderr.trim(), rc: res.exitCode, master: ctx.master?.name };
  const output = tail(`${res.stdout}${res.stderr ? `\n${res.stderr}` : ''}`);
  if (res.timedOut) {
    throw new TaskFailure(`timed out after ${formatDuration(ctx.timeoutMs)}`, null, output, value, true);
  }
  if (res.exitCode !== 0) {
    const why = res.signal ? `killed by ${res.signal}` : `exit ${res.exitCode}`;
    const err = tail(res.stderr.trim() || res.stdout.trim(), 5);
    throw new TaskFailure(`${why}${err ? `: ${err}` : ''}`, res.exitCode, output, value);
  }
  return { value, exitCode: 0, output, command };
};
