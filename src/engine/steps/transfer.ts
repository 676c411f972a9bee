// kind: get / put — archives over SSH, sha256 computed in the stream and compared with the
// master's sha256sum by the transport; `*.part` until verified.

import { resolve } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { render } from '../../playbook/template.js';
import type { GetStep, PutStep } from '../../playbook/schema.js';
import { shellQuote } from '../../util/shell-quote.js';
import { TaskFailure, type Executor } from './types.js';

export const runGet: Executor<GetStep> = async (ctx, step) => {
  const src = render(step.src, ctx.vars);
  const dest = resolve(render(step.dest, ctx.vars));
  await mkdir(dirname(dest), { recursive: true });
  const session = await ctx.session();
  const r = await session.get(src, dest, { become: step.become, onProgress: ctx.progress, signal: ctx.signal, timeoutMs: ctx.timeoutMs });
  const value = { path: dest, remote_path: src, sha256: r.sha256, remote_sha256: r.remoteSha256, bytes: r.bytes, ms: r.durationMs };
  return { value, rc: 0, stdout: `${r.bytes} bytes sha256 ${r.sha256}`, stderr: '', command: `get ${src} → ${dest}` };
};

export const runPut: Executor<PutStep> = async (ctx, step) => {
  const src = resolve(render(step.src, ctx.vars));
  const dest = render(step.dest, ctx.vars);
  const session = await ctx.session();
  const r = await session.put(src, dest, { become: step.become, onProgress: ctx.progress, signal: ctx.signal, timeoutMs: ctx.timeoutMs });
  const expected = step.sha256 === undefined ? '' : render(step.sha256, ctx.vars).trim().toLowerCase();
  if (expected && r.remoteSha256 !== expected) {
    // what arrived is what was sent, but not what was verified: the local file changed in between
    await session.exec(`rm -f ${shellQuote(dest)}`, { become: step.become, timeoutMs: 60_000 }).catch(() => undefined);
    throw new TaskFailure(`${dest} arrived with sha256 ${r.remoteSha256}, not the expected ${expected} (${src} changed after it was verified?); removed it`, { rc: 1 });
  }
  const value = { path: dest, local_path: src, sha256: r.sha256, remote_sha256: r.remoteSha256, bytes: r.bytes, ms: r.durationMs };
  return { value, rc: 0, stdout: `${r.bytes} bytes sha256 ${r.sha256}`, stderr: '', command: `put ${src} → ${dest}` };
};
