// kind: wait_healthy — poll Exhibitor until every inventory master serves and exactly one
// leads, `stablePolls` polls in a row and for `stableFor`, rotating over the masters asked (SPEC section 1).

import { formatDuration } from '../../util/duration.js';
import { HealthTimeout, OperationFailed } from '../../errors.js';
import { CERT_HINT, hostsOf, refusedCertificate } from '../../exhibitor/health.js';
import { judgeHealth, StabilityCounter, type HealthVerdict } from '../../exhibitor/status.js';
import type { WaitHealthyStep } from '../../playbook/schema.js';
import { TaskFailure, type Executor } from './types.js';

export const runWaitHealthy: Executor<WaitHealthyStep> = async (ctx, step) => {
  const needed = step.stable_polls ?? ctx.inventory.exhibitor.stablePolls;
  const interval = step.interval ?? ctx.inventory.exhibitor.pollIntervalMs;
  const counter = new StabilityCounter(needed, step.stable_for ?? ctx.inventory.exhibitor.stableForMs);
  const started = ctx.now();
  let last: HealthVerdict | undefined;
  let lastError = '';
  let polls = 0;
  for (;;) {
    if (ctx.signal.aborted) throw new TaskFailure('interrupted while waiting for Exhibitor');
    polls++;
    try {
      const { entries } = await ctx.status.fetch(ctx.signal);
      last = judgeHealth(entries, hostsOf(ctx.inventory));
      lastError = '';
    } catch (err) {
      // A certificate that does not verify will not start verifying: say so now, not at the timeout.
      const cert = refusedCertificate(err);
      if (cert) throw new OperationFailed(`cannot check Exhibitor's health: ${cert.message}`, { cause: cert, hint: CERT_HINT });
      lastError = (err as Error).message;
      last = undefined;
    }
    const healthy = last?.healthy ?? false;
    const stable = counter.record(healthy, ctx.now());
    ctx.health(last?.rows ?? [], healthy, counter.count, needed, last?.reason ?? lastError);
    if (stable && last) {
      const value = { healthy: true, polls, ms: ctx.now() - started, rows: last.rows, leader: last.rows.find((r) => r.leader)?.master };
      return { value, rc: 0, stderr: '', stdout: `healthy after ${polls} polls: ${last.serving} serving, leader ${value.leader}` };
    }
    if (ctx.now() - started >= ctx.timeoutMs) {
      const why = last?.reason ?? lastError;
      throw new HealthTimeout(`the cluster did not become healthy within ${formatDuration(ctx.timeoutMs)}: ${why}`, {
        hint: `see \`zkops status -i ${ctx.inventory.file}\`; check each master's Exhibitor and ZooKeeper logs`,
        details: { rows: last?.rows ?? [], reason: why },
      });
    }
    await ctx.sleep(interval);
  }
};
