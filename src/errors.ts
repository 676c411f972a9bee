// The closed set of exit codes (SPEC section 2) and the one error type that carries them.
// Only src/cli/main.ts turns an error into process.exitCode.

export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  refused: 3,
  unhealthy: 4,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface ZkopsErrorOptions {
  /** What to do about it, one line ("run `zkops check -i masters.yaml`"). */
  hint?: string;
  /** Where: a master name, or file:line. */
  where?: string;
  cause?: unknown;
  /** Extra structured data for --json and the journal (per-master tables). */
  details?: unknown;
}

/** An error a user can act on: cause first, then where, then a hint. */
export class ZkopsError extends Error {
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  readonly where: string | undefined;
  readonly details: unknown;

  constructor(exitCode: ExitCode, message: string, opts: ZkopsErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = opts.hint;
    this.where = opts.where;
    this.details = opts.details;
  }

  /**
   * The same error with some fields told differently (a step's name before the message, a
   * hint about what was kept): a new error of the same class whose cause is this one. Errors
   * are never changed after they are thrown, since another part may hold and show them.
   */
  with(changes: { message?: string; where?: string; hint?: string; details?: unknown }): this {
    const copy = Object.create(Object.getPrototypeOf(this) as object) as this;
    for (const key of Reflect.ownKeys(this)) {
      Object.defineProperty(copy, key, Object.getOwnPropertyDescriptor(this, key) as PropertyDescriptor);
    }
    const set = (key: string, value: unknown) => Object.defineProperty(copy, key, { value, writable: false, enumerable: true, configurable: true });
    if (changes.message !== undefined) Object.defineProperty(copy, 'message', { value: changes.message, writable: true, enumerable: false, configurable: true });
    if (changes.where !== undefined) set('where', changes.where);
    if (changes.hint !== undefined) set('hint', changes.hint);
    if (changes.details !== undefined) set('details', changes.details);
    Object.defineProperty(copy, 'cause', { value: this, writable: true, enumerable: false, configurable: true });
    return copy;
  }
}

/** The first error of class `type` in the chain of causes (the error itself included). */
export function findCause<T extends Error>(err: unknown, type: abstract new (...args: never[]) => T): T | undefined {
  const seen = new Set<unknown>();
  for (let e = err; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    if (e instanceof type) return e;
  }
  return undefined;
}

/** Bad command line, inventory or playbook (exit 2). */
export class UsageError extends ZkopsError {
  constructor(message: string, opts: ZkopsErrorOptions = {}) {
    super(ExitCode.usage, message, opts);
  }
}

/** One problem found while validating a file: where it is and what is wrong. */
export interface Problem {
  file: string;
  line: number;
  column: number;
  /** Dotted key path, e.g. "masters[1].port". */
  path: string;
  message: string;
}

/** All problems of one file at once (exit 2). */
export class ValidationError extends UsageError {
  readonly problems: Problem[];
  constructor(problems: Problem[], opts: ZkopsErrorOptions = {}) {
    const lines = problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ''}${p.message}`);
    super(lines.join('\n'), opts);
    this.problems = problems;
  }
}

/** A safety check refused to go on; nothing was changed (exit 3). */
export class SafetyRefusal extends ZkopsError {
  constructor(message: string, opts: ZkopsErrorOptions = {}) {
    super(ExitCode.refused, message, opts);
  }
}

/** The operation failed (exit 1). */
export class OperationFailed extends ZkopsError {
  constructor(message: string, opts: ZkopsErrorOptions = {}) {
    super(ExitCode.failed, message, opts);
  }
}

/** The cluster did not become healthy in time (exit 4). */
export class HealthTimeout extends ZkopsError {
  constructor(message: string, opts: ZkopsErrorOptions = {}) {
    super(ExitCode.unhealthy, message, opts);
  }
}

/** SIGINT/SIGTERM (exit 130). */
export class Interrupted extends ZkopsError {
  constructor(message = 'interrupted', opts: ZkopsErrorOptions = {}) {
    super(ExitCode.interrupted, message, opts);
  }
}

/** Why an SSH operation failed, so callers can decide (refuse, retry, report). */
export type TransportErrorKind =
  | 'hostkey-unknown'
  | 'hostkey-changed'
  | 'auth'
  | 'connect'
  | 'timeout'
  | 'dropped'
  | 'checksum'
  | 'remote'
  | 'local';

/** An SSH failure mapped to our terms, always naming the master. */
export class TransportError extends ZkopsError {
  readonly kind: TransportErrorKind;
  readonly master: string;
  constructor(kind: TransportErrorKind, master: string, message: string, opts: ZkopsErrorOptions = {}) {
    const code = kind === 'hostkey-unknown' || kind === 'hostkey-changed' ? ExitCode.refused : ExitCode.failed;
    super(code, message, { where: master, ...opts });
    this.kind = kind;
    this.master = master;
  }
}

/** Render any error for a human: message, where, hint; the stack only when verbose. */
export function formatError(err: unknown, verbose: boolean): string {
  if (err instanceof ZkopsError) {
    const parts = [`error: ${err.message}`];
    if (err.where && !err.message.includes(err.where)) parts.push(`  where: ${err.where}`);
    if (err.hint) parts.push(`  hint: ${err.hint}`);
    if (verbose && err.stack) parts.push(err.stack);
    return parts.join('\n');
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return verbose && e.stack ? `error: ${e.stack}` : `error: ${e.message}`;
}

/** The exit code for any thrown value (unknown errors are failures). */
export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof ZkopsError ? err.exitCode : ExitCode.failed;
}
