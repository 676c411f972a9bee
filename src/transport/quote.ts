// The one shell-quoting helper of zkops (SPEC rule 4.9): every remote argument goes through it.
// POSIX single quotes: nothing inside is special to sh except the quote itself, written '\''.

const SAFE = /^[A-Za-z0-9_./:=@%+-]+$/;

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
