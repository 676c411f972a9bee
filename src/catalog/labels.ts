// Backup labels and ids (SPEC section 5): the DC/OS backup service's own label rule, and
// ids `<label>-<uuid v4>`. Validated before they are used anywhere (SPEC rule 4.9).

import { randomUUID } from 'node:crypto';
import { UsageError } from '../errors.js';

const LABEL = /^[A-Za-z0-9_][A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}';
const ID = new RegExp(`^(.+)-(${UUID})$`);

/** Why a label is invalid, or undefined when it is valid. */
export function labelProblem(label: string): string | undefined {
  if (label.length < 3 || label.length > 25) return `must be 3 to 25 characters long (it has ${label.length})`;
  if (!LABEL.test(label)) {
    if (/^[.-]|^.[.-]/.test(label)) return 'its first two characters may not be "." or "-"';
    return 'may contain only letters, digits, "_", "." and "-"';
  }
  return undefined;
}

export function assertLabel(label: string): string {
  const problem = labelProblem(label);
  if (problem) throw new UsageError(`invalid label "${label}": ${problem}`, { hint: 'e.g. --label pre-upgrade_2.2' });
  return label;
}

/** The default label: zk-YYYYMMDD-HHMM (UTC). */
export function defaultLabel(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `zk-${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}`;
}

export function newBackupId(label: string): string {
  return `${assertLabel(label)}-${randomUUID()}`;
}

/** The label of a valid id, or undefined. */
export function parseBackupId(id: string): { label: string; uuid: string } | undefined {
  const m = ID.exec(id);
  if (!m || labelProblem(m[1] as string)) return undefined;
  return { label: m[1] as string, uuid: m[2] as string };
}

export function assertBackupId(id: string): string {
  if (!parseBackupId(id)) {
    throw new UsageError(`invalid backup id "${id}"`, { hint: 'ids look like <label>-<uuid>; see `zkops list`' });
  }
  return id;
}
