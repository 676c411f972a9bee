// How a command hands its result to main: not by printing JSON or throwing an error it already
// printed, but by returning one outcome, which main renders once (ui/json.ts for --json, the
// error on stderr) and turns into the exit code.

import type { Argv, CommandModule } from 'yargs';
import type { GlobalOptions } from './options.js';

export interface Outcome {
  /** The --json body: an operation's report (main adds ok, exitCode and error first), or, with `raw`, data printed as it is. */
  json?: unknown;
  /** Print `json` as it is (a catalog read: the entries, the metadata). */
  raw?: boolean;
  /** The command's failure; main prints it (with `alsoFailed`) and exits with its code. */
  error?: unknown;
  /** The always phase's other failures, shown after the error. */
  alsoFailed?: string[];
}

export interface ZkCommand<A> {
  command: string;
  describe: string;
  builder?: (y: Argv<GlobalOptions>) => Argv<A>;
  run(argv: A & GlobalOptions): Promise<Outcome | void>;
}

let last: Outcome | undefined;

/** The yargs module of a command: its outcome is kept for main. */
export function toYargs<A>(c: ZkCommand<A>): CommandModule<GlobalOptions, A & GlobalOptions> {
  return {
    command: c.command,
    describe: c.describe,
    ...(c.builder ? { builder: c.builder as never } : {}),
    handler: async (argv) => {
      last = (await c.run(argv as unknown as A & GlobalOptions)) ?? {};
    },
  };
}

/** The outcome of the command that ran (undefined when none did, e.g. --help). */
export function takeOutcome(): Outcome | undefined {
  const o = last;
  last = undefined;
  return o;
}
