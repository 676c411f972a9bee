// kind: verify — the offline archive check of `zkops verify`, as a step, so a playbook can
// make the deletion of a remote archive depend on a verified local copy (SPEC rule 4.3).

import { resolve } from 'node:path';
import { inspectArchive, treeRecord } from '../../catalog/inspect.js';
import { verifyArchive } from '../../catalog/verify.js';
import type { VerifyStep } from '../../playbook/schema.js';
import { render } from '../../playbook/template.js';
import { TaskFailure, type Executor } from './types.js';

export const runVerify: Executor<VerifyStep> = async (ctx, step) => {
  const file = resolve(render(step.src, ctx.vars));
  const expected = step.sha256 ? render(step.sha256, ctx.vars).trim() : undefined;
  const inspected = step.deep ? await inspectArchive(file, expected || undefined) : undefined;
  const deep = inspected?.inspection;
  const report = inspected && deep ? { ...inspected.report, problems: deep.problems, ok: deep.ok, zxidRange: deep.zxidRange } : await verifyArchive(file, expected || undefined);
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
  };
  if (!report.ok) throw new TaskFailure(`${file} does not verify: ${report.problems.join('; ')}`, { rc: 1, stderr: report.problems.join('\n'), value });
  const tree = deep?.tree ? `, ${deep.tree.znodes} znodes to ${deep.tree.lastZxid}, digest ${deep.tree.digest.sha256.slice(0, 16)}` : '';
  return { value, rc: 0, stderr: '', stdout: `${report.files.length} members, zxid ${report.zxidRange?.from}..${report.zxidRange?.to}${tree}`, command: `verify ${step.deep ? '--deep ' : ''}${file}` };
};
