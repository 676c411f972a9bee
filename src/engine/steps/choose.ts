// kind: choose — pick the master a step works on: a follower (the highest zxid among the
// serving followers, never the leader unless there is one master), the leader, or the
// master the caller named.

import type { ChooseStep } from '../../playbook/schema.js';
import { render } from '../../playbook/template.js';
import { judgeHealth } from '../../exhibitor/status.js';
import { askSrvr } from '../../exhibitor/srvr.js';
import { findMaster } from '../../playbook/context.js';
import type { Master } from '../../inventory/types.js';
import { hostsOf } from '../../exhibitor/health.js';
import { TaskFailure, type Executor, type TaskContext } from './types.js';

async function srvrOf(ctx: TaskContext, m: Master): Promise<{ zxid: bigint | undefined; version: string | undefined }> {
  try {
    const session = await ctx.sessions.session(m);
    return await askSrvr(session, m.host);
  } catch (err) {
    ctx.warn(`cannot read the zxid of ${m.name}: ${(err as Error).message}`);
    return { zxid: undefined, version: undefined };
  }
}

async function zxidOf(ctx: TaskContext, m: Master): Promise<bigint | undefined> {
  return (await srvrOf(ctx, m)).zxid;
}

export const runChoose: Executor<ChooseStep> = async (ctx, step) => {
  const inv = ctx.inventory;
  const given = step.master ? render(step.master, ctx.vars).trim() : '';
  let rows: ReturnType<typeof judgeHealth>['rows'] = [];
  let statusError = '';
  try {
    rows = judgeHealth((await ctx.status.fetch(ctx.signal)).entries, hostsOf(inv)).rows;
  } catch (err) {
    statusError = (err as Error).message;
  }
  const leaderRow = rows.find((r) => r.leader);
  const leader = leaderRow ? findMaster(inv, leaderRow.master) : undefined;
  const pick = async (m: Master, reason: string) => {
    const { zxid, version } = await srvrOf(ctx, m);
    const leaderZxid = leader && leader !== m ? await zxidOf(ctx, leader) : zxid;
    const role = m === leader ? 'leader' : rows.find((r) => r.master === m.name)?.code === 3 ? 'follower' : 'unknown';
    // epoch: the zxid's high 32 bits, which a leader election raises
    const value = { name: m.name, host: m.host, role, reason, zxid: hex(zxid), epoch: zxid === undefined ? null : Number(zxid >> 32n), leader: leader?.name ?? null, leader_zxid: hex(leaderZxid), zk_version: version ?? null };
    return { value, rc: 0, stdout: `${m.name} (${role}): ${reason}`, stderr: '' };
  };

  if (given) {
    const m = findMaster(inv, given);
    if (!m) throw new TaskFailure(`--master "${given}" is not a master of ${inv.file} (masters: ${inv.masters.map((x) => x.name).join(', ')})`);
    return pick(m, 'named by the caller');
  }
  if (inv.masters.length === 1) return pick(inv.masters[0] as Master, 'the only master');
  if (statusError) throw new TaskFailure(`cannot choose a master without Exhibitor's status: ${statusError}`);
  if (step.prefer === 'leader') {
    if (!leader) throw new TaskFailure('no leader: cannot choose it');
    return pick(leader, 'the leader');
  }
  const serving = rows.filter((r) => r.code === 3).map((r) => findMaster(inv, r.master)).filter((m): m is Master => !!m);
  const candidates = step.prefer === 'any' ? serving : serving.filter((m) => m !== leader);
  if (candidates.length === 0) throw new TaskFailure(`no ${step.prefer === 'any' ? 'serving master' : 'serving follower'} to choose`);
  const zxids = await Promise.all(candidates.map((m) => zxidOf(ctx, m)));
  let best = 0;
  zxids.forEach((z, i) => {
    if (z !== undefined && (zxids[best] === undefined || z > (zxids[best] as bigint))) best = i;
  });
  return pick(candidates[best] as Master, step.prefer === 'any' ? 'serving' : 'the follower with the highest zxid');
};

function hex(z: bigint | undefined): string | null {
  return z === undefined ? null : `0x${z.toString(16)}`;
}
