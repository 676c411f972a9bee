// The documented, stable --json shapes a monitoring script may read: `zkops list --json` and
// `zkops status --json` (with and without --wait). Stable means: the keys below keep their
// names, types and meaning; a key may be added (and is added here, in the README and in
// test/unit/metrics-json-shapes.test.ts at once), never removed or renamed. The key lists are
// checked against the types at compile time, so neither can drift from the other.

import type { BackupMeta, CatalogEntry, CorruptEntry } from '../catalog/store.js';
import type { MasterHealth } from '../exhibitor/status.js';
import type { RunLeftovers } from '../playbook/run-dir.js';
import type { JsonErrorDoc } from './json.js';

/** `zkops list [LABEL] --json`: the catalog's entries as they are, newest first, CORRUPT ones last (a bare array, no envelope). */
export type ListJson = CatalogEntry[];

/** What every document of an operation starts with (ui/json.ts). */
export interface OperationEnvelope {
  ok: boolean;
  exitCode: number;
  error: JsonErrorDoc | null;
}

/** `zkops status -i INV --json` (exit 0 healthy, 4 not healthy; 1 or 3 with only the envelope when no Exhibitor answered). */
export interface StatusJson extends OperationEnvelope {
  healthy: boolean;
  /** Why not healthy; null when healthy. */
  reason: string | null;
  /** The master whose Exhibitor answered. */
  from: string;
  masters: MasterHealth[];
  /** Per master: what unfinished zkops runs left there (the lock, each job's events), or why it could not be read. */
  leftovers: Record<string, RunLeftovers | string>;
}

/** `zkops status -i INV --wait --json`: polls and ms until healthy, the last rows and the leader. */
export interface StatusWaitJson extends OperationEnvelope {
  healthy: boolean;
  rows?: MasterHealth[];
  polls?: number;
  ms?: number;
  leader?: string;
  /** The failure's per-master details (null when healthy). */
  details: unknown;
}

type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
type OptionalKeys<T> = Exclude<keyof T, RequiredKeys<T>>;

/** Keys of a READY/ERROR/BACKING_UP entry of `list --json`: always there... */
export const LIST_ENTRY_KEYS = [
  'id',
  'label',
  'cluster',
  'status',
  'error',
  'remoteArchive',
  'sourceMaster',
  'created',
  'finished',
  'size',
  'sha256',
  'zxidRange',
  'files',
  'leaderZxid',
  'masterZxid',
  'zookeeperVersion',
  'dcosVersion',
  'stopWindowMs',
  'zkopsVersion',
  'runId',
] as const;
/** ...and there when the zkops that wrote the entry knew them. */
export const LIST_ENTRY_OPTIONAL_KEYS = ['jobLauncher', 'method', 'hot', 'rehearsed', 'tree', 'copies', 'service'] as const;
/** Keys of a CORRUPT entry of `list --json`. */
export const LIST_CORRUPT_KEYS = ['id', 'label', 'status', 'reason', 'file'] as const;
export const ENVELOPE_KEYS = ['ok', 'exitCode', 'error'] as const;
export const STATUS_KEYS = [...ENVELOPE_KEYS, 'healthy', 'reason', 'from', 'masters', 'leftovers'] as const;
export const STATUS_WAIT_KEYS = [...ENVELOPE_KEYS, 'healthy', 'details'] as const;
export const STATUS_WAIT_OPTIONAL_KEYS = ['rows', 'polls', 'ms', 'leader'] as const;
export const STATUS_MASTER_KEYS = ['master', 'host', 'state', 'code', 'leader'] as const;

// compile-time: the lists are the types' keys, no more, no fewer
const pins: [
  Exact<(typeof LIST_ENTRY_KEYS)[number], RequiredKeys<BackupMeta>>,
  Exact<(typeof LIST_ENTRY_OPTIONAL_KEYS)[number], OptionalKeys<BackupMeta>>,
  Exact<(typeof LIST_CORRUPT_KEYS)[number], keyof CorruptEntry>,
  Exact<(typeof STATUS_KEYS)[number], keyof StatusJson>,
  Exact<(typeof STATUS_WAIT_KEYS)[number], RequiredKeys<StatusWaitJson>>,
  Exact<(typeof STATUS_WAIT_OPTIONAL_KEYS)[number], OptionalKeys<StatusWaitJson>>,
  Exact<(typeof STATUS_MASTER_KEYS)[number], keyof MasterHealth>,
] = [true, true, true, true, true, true, true];
void pins;
