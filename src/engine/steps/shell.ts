// kind: shell — one command on one master, every substitution shell-quoted.

import { formatDuration } from '../../util/duration.js';
import { render } from '../../playbook/template.js';
import type { ShellStep } from '../../playbook/schema.js';
import { TaskFailure, tail, type Executor, type TaskContext, type TaskOutput } from './types.js';

export const runShell: Executor<ShellStep> = (ctx, step) => runCommand(ctx, render(step.command, ctx.vars, 'shell'), step.become, true);

/** Run a rendered command on the task's master: its output, or a TaskFailure with it; `live`: its output streams as task-output events. */
export async function runCommand(ctx: TaskContext, command: string, become: boolean, live = false): Promise<TaskOutput> {
  const session = await ctx.session();
  const stream = live ? { onStdout: (c: Buffer) => ctx.output('stdout', c), onStderr: (c: Buffer) => ctx.output('stderr', c) } : {};
  const res = await session.exec(command, { become, timeoutMs: ctx.timeoutMs, signal: ctx.signal, ...stream });
  const value = { stdout: res.stdout.trim(), stderr: res.stderr.trim(), rc: res.exitCode, master: ctx.master?.name };
  const printed = { stdout: res.stdout, stderr: res.stderr };
  if (res.timedOut) {
    throw new TaskFailure(`timed out after ${formatDuration(ctx.timeoutMs)}`, { ...printed, value, timedOut: true });
  }
  if (res.exitCode !== 0) {
    const why = res.signal ? `killed by ${res.signal}` : `exit ${res.exitCode}`;
    const err = tail(res.stderr.trim() || res.stdout.trim(), 5);
    throw new TaskFailure(`${why}${err ? `: ${err}` : ''}`, { rc: res.exitCode, ...printed, value });
  }
  return { value, rc: 0, ...printed, command };
}
