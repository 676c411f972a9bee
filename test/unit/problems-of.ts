// Shared by the validation tables: the problems a parse throws, or a failed test.
import { expect } from 'vitest';
import { ExitCode, ValidationError, type Problem } from '../../src/errors.js';

/** Run a parse that must fail with a ValidationError (exit 2); its problems. */
export function problemsOf(parse: () => unknown, input: string): Problem[] {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).exitCode).toBe(ExitCode.usage);
    return (err as ValidationError).problems;
  }
  throw new Error(`expected a ValidationError for:\n${input}`);
}
