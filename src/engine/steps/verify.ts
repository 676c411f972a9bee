// kind: verify — the offline archive check of `zkops verify`, as a step, so a playbook can
// make the deletion of a remote archive depend on a verified local copy (SPEC rule 4.3).
// A hot backup's archive (trim_torn) may end its newest log inside a record, torn by the copy:
// that record is cut off (catalog/trim.ts), the archive read again, and the cut registered;
// min_zxid is the zxid the master reported before the copy began, which the replay must reach.

import { resolve } from 'node:path';
import { inspectArchive, treeRecord } from '../../catalog/inspect.js';
import { tornTailOf, writeTrimmed, type TornTail } from '../../catalog/trim.js';
import { verifyArchive } from '../../catalog/verify.js';
import type { VerifyStep } from '../../playbook/schema.js';
import { evaluateCondition, render } from '../../playbook/template.js';
import { TaskFailure, type Executor } from './types.js';

export const runVerify: Executor<VerifyStep> = async (ctx, step) => {
  const file = resolve(render(step.src, ctx.vars));
  const expected = step.sha256 ? render(step.sha256, ctx.vars).trim() : undefined;
  const trim = step.deep === true && step.trim_torn !== undefined && evaluateCondition(step.trim_torn, ctx.vars);
  const minZxid = step.deep && step.min_zxid ? render(step.min_zxid, ctx.vars).trim() : '';
  let inspected = step.deep ? await inspectArchive(file, expected || undefined) : undefined;
  let trimmed: (TornTail & { bytesBefore: number; sha256Before: string }) | undefined;
  const torn = trim && inspected && !inspected.inspection.ok ? tornTailOf(inspected.inspection.files, inspected.report.problems, inspected.treeProblems) : undefined;
  if (torn && inspected) {
    const first = inspected;
    const t = await writeTrimmed(file, torn);
    const again = await inspectArchive(t.part);
    // the cut must leave a clean archive with the same tree: else keep what was downloaded
    const same = again.inspection.tree?.lastZxid === first.inspection.tree?.lastZxid && again.inspection.tree?.digest.sha256 === first.inspection.tree?.digest.sha256;
    if (!again.inspection.ok || !same) {
      await t.discard();
      const why = again.inspection.ok ? `the tree changed (${first.inspection.tree?.lastZxid} → ${again.inspection.tree?.lastZxid})` : again.inspection.problems.join('; ');
      throw new TaskFailure(`${file}: cutting the torn last record of ${torn.member} did not leave a clean archive: ${why}`, { rc: 1 });
    }
    await t.commit();
    trimmed = { ...torn, bytesBefore: first.report.bytes, sha256Before: first.report.sha256 };
    inspected = { ...again, inspection: { ...again.inspection, file } };
  }
  const deep = inspected?.inspection;
  const report = inspected && deep ? { ...inspected.report, problems: deep.problems, ok: deep.ok, zxidRange: deep.zxidRange } : await verifyArchive(file, expected || undefined);
  const reached = deep?.tree?.lastZxid;
  const value = {
    path: file,
    sha256: report.sha256,
    bytes: report.bytes,
    files: report.files,
    zxid_range: report.zxidRange,
    snapshots: report.snapshots.length,
    logs: report.logs.length,
    refused_members: report.refusedMembers,
    ...(deep ? { tree: treeRecord(deep) } : {}),
    ...(trim ? { trimmed: trimmed ? { file: trimmed.member, offset: trimmed.offset, reason: trimmed.reason, sha256_before: trimmed.sha256Before, bytes_before: trimmed.bytesBefore } : null } : {}),
    ...(minZxid ? { min_zxid: minZxid, reached_zxid: reached ?? null } : {}),
  };
  if (!report.ok) throw new TaskFailure(`${file} does not verify: ${report.problems.join('; ')}`, { rc: 1, stderr: report.problems.join('\n'), value });
  if (minZxid && (!reached || !/^0x[0-9a-f]+$/i.test(minZxid) || BigInt(reached) < BigInt(minZxid))) {
    const why = !/^0x[0-9a-f]+$/i.test(minZxid) ? `the zxid to reach, ${JSON.stringify(minZxid)}, is not a hex zxid` : `the archive replays to ${reached ?? 'nothing'}, short of ${minZxid}, the zxid the master reported before the copy began`;
    throw new TaskFailure(`${file}: ${why}; a copy of a running ZooKeeper must hold every txn it had applied`, { rc: 1, value });
  }
  const tree = deep?.tree ? `, ${deep.tree.znodes} znodes to ${deep.tree.lastZxid}, digest ${deep.tree.digest.sha256.slice(0, 16)}` : '';
  const cut = trimmed ? `; the torn last record of ${trimmed.member.slice(trimmed.member.lastIndexOf('/') + 1)} cut off at byte ${trimmed.offset} (${trimmed.reason})` : '';
  const reach = minZxid ? `; reaches ${reached} ≥ ${minZxid} (noted before the copy)` : '';
  return { value, rc: 0, stderr: '', stdout: `${report.files.length} members, zxid ${report.zxidRange?.from}..${report.zxidRange?.to}${tree}${cut}${reach}`, command: `verify ${step.deep ? '--deep ' : ''}${file}` };
};
