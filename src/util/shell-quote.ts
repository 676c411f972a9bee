// The one shell-quoting helper of zkops (SPEC rule 4.9): every remote argument goes through it.
// POSIX single quotes: nothing inside is special to sh except the quote itself, written '\''.

// Never bare: a word with `=` (as a first word, NAME=value is an assignment, not a command)
// or a leading `-` (quotes do not stop a command reading it as an option, so callers still
// write `--`; they show a reader, and a review, that a value was meant).
const SAFE = /^[A-Za-z0-9_./:@%+][A-Za-z0-9_./:@%+-]*$/;

/** Quote one argument for a POSIX shell; safe words stay bare, the empty string becomes ''. */
export function shellQuote(arg: string): string {
  if (arg === '') return "''";
  if (SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Quote each argument and join them with spaces: a command line for `sh -c`. */
export function shellJoin(args: readonly string[]): string {
  return args.map(shellQuote).join(' ');
}
