// What the DC/OS Enterprise backup service (`dcos backup`, Marathon's state) says, read without
// side effects: its label and id rules, its metadata in both documented response shapes (the
// vendor test's `{"backup_info": …}` wrapper and `{}` for an empty list; the swagger's bare
// object and array), and its error answers mapped to our error types. The facts and their
// sources are in ../shared/DCOS-BACKUP-API.md; the HTTP calls are in service-backup-client.ts.

import { OperationFailed, SafetyRefusal, UsageError } from '../errors.js';

export const BACKUP_STATUSES = ['STATUS_UNKNOWN', 'STATUS_BACKING_UP', 'STATUS_RESTORING', 'STATUS_READY', 'STATUS_ERROR'] as const;
export type BackupStatus = (typeof BACKUP_STATUSES)[number];

/** One component's state (`component_status.marathon`); `error` is where a reason is looked for first. */
export interface ComponentStatus {
  status: BackupStatus;
  [field: string]: unknown;
}

export interface RestoreInfo {
  id: string;
  status: BackupStatus;
  component_status: Record<string, ComponentStatus>;
}

/** BackupMetadata; `raw` is the service's object as it came, for `--json` to pass through. */
export interface BackupMetadata {
  id: string;
  dcos_version: string;
  timestamp: string;
  status: BackupStatus;
  component_status: Record<string, ComponentStatus>;
  restores: RestoreInfo[];
  raw: Record<string, unknown>;
}

/** The permission a backup call needs (for the 403 hint). */
export const BACKUP_PERMISSION = 'dcos:adminrouter:ops:system-backup full (or dcos:superuser)';

// The service's label rule (the swagger): 3–25 characters, the first two not "." or "-".
// The same rule as catalog/labels.ts, repeated here because a layer may not import sideways;
// test/unit/service-backup-client.test.ts checks the two agree.
const LABEL = /^[A-Za-z0-9_][A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const ID_CHARS = /^[A-Za-z0-9_.-]+$/;

/** Why a service-backup label is invalid, or undefined when it is valid. */
export function serviceLabelProblem(label: string): string | undefined {
  if (label.length < 3 || label.length > 25) return `must be 3 to 25 characters long (it has ${label.length})`;
  if (!LABEL.test(label)) {
    if (/^[.-]|^.[.-]/.test(label)) return 'its first two characters may not be "." or "-"';
    return 'may contain only letters, digits, "_", "." and "-"';
  }
  return undefined;
}

/** The label, or a UsageError (exit 2) before any request is made. */
export function assertServiceLabel(label: string): string {
  const problem = serviceLabelProblem(label);
  if (problem) throw new UsageError(`invalid service backup label "${label}": ${problem}`, { hint: 'e.g. --label pre-upgrade_2.2' });
  return label;
}

/** Why a service-backup id is invalid (the swagger: 40–62 characters), or undefined. */
export function serviceIdProblem(id: string): string | undefined {
  if (id.length < 40 || id.length > 62) return `must be 40 to 62 characters long (it has ${id.length})`;
  if (!ID_CHARS.test(id)) return 'may contain only letters, digits, "_", "." and "-"';
  return undefined;
}

export function assertServiceId(id: string): string {
  const problem = serviceIdProblem(id);
  if (problem) throw new UsageError(`invalid service backup id "${id}": ${problem}`, { hint: 'ids look like <label>-<uuid>; see `service-backup list`' });
  return id;
}

/** An answer that is neither documented shape. */
export class ServiceResponseError extends OperationFailed {}

/** 401 or 403 from Admin Router: exit 3. The message names the cause, never the token. */
export class ServiceAuthError extends SafetyRefusal {
  constructor(readonly status: 401 | 403, origin: string, message?: string) {
    super(
      message ??
      (status === 401
        ? `the backup service at ${origin} refused the request: no token or an invalid or expired token (HTTP 401)`
        : `the backup service at ${origin} refused the request: the token lacks the permission ${BACKUP_PERMISSION} (HTTP 403)`),
      {
        where: origin,
        hint: status === 401 ? 'set DCOS_ACS_TOKEN or log in again' : `grant ${BACKUP_PERMISSION} to the account`,
      },
    );
  }
}

/** The busy lock's 500: another backup or restore holds the lock (exit 3). */
export class ServiceBusyError extends SafetyRefusal {
  constructor(readonly serviceErrors: string[], origin: string) {
    super(`another backup or restore is running on ${origin}: ${serviceErrors.join('; ')}`, {
      where: origin,
      hint: 'wait for it to reach STATUS_READY or STATUS_ERROR (`service-backup list`), then try again',
    });
  }
}

/** Any other refusal (a 400 with the service's `errors`, a 404, a 5xx): exit 1. */
export class ServiceRequestError extends OperationFailed {
  constructor(readonly status: number, readonly serviceErrors: string[], what: string, origin: string) {
    super(`${what} failed on ${origin}: HTTP ${status}${serviceErrors.length ? `: ${serviceErrors.join('; ')}` : ''}`, { where: origin });
  }
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function parseStatus(x: unknown, where: string): BackupStatus {
  if (typeof x === 'string' && (BACKUP_STATUSES as readonly string[]).includes(x)) return x as BackupStatus;
  throw new ServiceResponseError(`the backup service answered an unknown status ${JSON.stringify(x)} at ${where}`);
}

function parseComponents(x: unknown, where: string): Record<string, ComponentStatus> {
  if (x === undefined || x === null) return {};
  if (!isObject(x)) throw new ServiceResponseError(`the backup service answered a component_status that is not an object at ${where}`);
  const out: Record<string, ComponentStatus> = {};
  for (const [name, c] of Object.entries(x)) {
    if (!isObject(c)) throw new ServiceResponseError(`component_status.${name} is not an object at ${where}`);
    out[name] = { ...c, status: parseStatus(c.status, `${where}.component_status.${name}`) };
  }
  return out;
}

function parseRestore(x: unknown, where: string): RestoreInfo {
  if (!isObject(x) || typeof x.id !== 'string') throw new ServiceResponseError(`a restore without an id at ${where}`);
  return { id: x.id, status: parseStatus(x.status, `${where}.status`), component_status: parseComponents(x.component_status, where) };
}

/** One BackupMetadata object (fields beyond id and status are optional, as the swagger has them). */
export function parseBackupMetadata(x: unknown, where = 'backup_info'): BackupMetadata {
  if (!isObject(x) || typeof x.id !== 'string') throw new ServiceResponseError(`the backup service answered metadata without an id at ${where}`);
  const restores = x.restores === undefined || x.restores === null ? [] : x.restores;
  if (!Array.isArray(restores)) throw new ServiceResponseError(`restores is not a list at ${where}`);
  return {
    id: x.id,
    dcos_version: typeof x.dcos_version === 'string' ? x.dcos_version : '',
    timestamp: typeof x.timestamp === 'string' ? x.timestamp : '',
    status: parseStatus(x.status, `${where}.status`),
    component_status: parseComponents(x.component_status, where),
    restores: restores.map((r, i) => parseRestore(r, `${where}.restores[${i}]`)),
    raw: x,
  };
}

function parseJson(body: string, what: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new ServiceResponseError(`the backup service's answer to ${what} is not JSON: ${body.slice(0, 200)}`);
  }
}

function unwrap(body: string, what: string): unknown {
  const x = parseJson(body, what);
  return isObject(x) && 'backup_info' in x ? x.backup_info : x;
}

/** create's answer: `{"backup_info": {...}}` (vendor test) or the metadata bare (swagger). */
export function parseCreateResponse(body: string): BackupMetadata {
  return parseBackupMetadata(unwrap(body, 'create'));
}

/** restore's answer: the restore's new id, wrapped or bare; the rest passed through. */
export function parseRestoreResponse(body: string): { id: string; raw: Record<string, unknown> } {
  const inner = unwrap(body, 'restore');
  if (!isObject(inner) || typeof inner.id !== 'string') throw new ServiceResponseError('the backup service answered a restore without an id');
  return { id: inner.id, raw: inner };
}

/** list's answer: `{"backup_info": [...]}` or `{}` (vendor test), or a bare array (swagger). */
export function parseListResponse(body: string): BackupMetadata[] {
  const x = parseJson(body, 'list');
  let items: unknown = x;
  if (isObject(x)) items = x.backup_info === undefined || x.backup_info === null ? [] : x.backup_info;
  if (!Array.isArray(items)) throw new ServiceResponseError(`the backup service's list is neither {"backup_info": [...]}, {} nor [...]`);
  return items.map((item, i) => parseBackupMetadata(item, `backup_info[${i}]`));
}

/** The `errors` of an error answer (`{"errors": [...]}`), or nothing for a body without them. */
export function serviceErrorsOf(body: string): string[] {
  try {
    const x = JSON.parse(body) as unknown;
    if (isObject(x) && Array.isArray(x.errors)) return x.errors.map(String);
  } catch {
    // An HTML page (Admin Router) or nothing: no errors to quote.
  }
  return [];
}

const BUSY = /currently busy|lock is already held/;

/** The error for a non-2xx answer. The body of a 401/403 (HTML) is never quoted. */
export function errorForAnswer(status: number, body: string, what: string, origin: string): Error {
  if (status === 401 || status === 403) return new ServiceAuthError(status, origin);
  const errors = serviceErrorsOf(body);
  if (status === 500 && errors.some((e) => BUSY.test(e))) return new ServiceBusyError(errors, origin);
  return new ServiceRequestError(status, errors, what, origin);
}

/**
 * Why a backup or restore ended in STATUS_ERROR: the components' own words (guessed fields:
 * `error`, `message`, `reason`), else the metadata's, else the bare status.
 */
export function failureReason(x: { status: BackupStatus; component_status: Record<string, ComponentStatus>; raw?: Record<string, unknown> }): string {
  const words = (o: Record<string, unknown>) => [o.error, o.message, o.reason].find((v) => typeof v === 'string' && v !== '') as string | undefined;
  const parts = Object.entries(x.component_status)
    .filter(([, c]) => c.status === 'STATUS_ERROR' || words(c))
    .map(([name, c]) => `${name}: ${words(c) ?? c.status}`);
  if (parts.length) return parts.join('; ');
  return (x.raw && words(x.raw)) ?? x.status;
}
