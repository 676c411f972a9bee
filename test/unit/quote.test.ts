// shellQuote round-trips hostile strings through a real /bin/sh.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellJoin, shellQuote } from '../../src/util/shell-quote.js';

const HOSTILE: [name: string, value: string][] = [
  ['empty', ''],
  ['plain word', 'backup-2024'],
  ['space', 'two words'],
  ['single quote', "it's"],
  ['only quotes', "'''"],
  ['double quote', 'say "hi"'],
  ['command substitution', '$(touch /tmp/zkops-pwned)'],
  ['backticks', '`id`'],
  ['variable', '$HOME ${PATH}'],
  ['newline', 'line1\nline2\n'],
  ['semicolon', 'a; rm -rf /'],
  ['and-and', 'true && false'],
  ['pipe and redirect', 'a | b > c < d'],
  ['glob', '*.tar.gz ?[ab]'],
  ['tilde', '~root'],
  ['backslashes', 'a\\b\\\\c\\'],
  ['leading dash', '-rf'],
  ['hash', '# comment'],
  ['unicode', 'zkø-备份-🦓'],
  ['tab and CR', 'a\tb\rc'],
  ['bang', '!!'],
  ['ampersand', 'sleep 1 &'],
  ['mixed quotes', `'"'"'`],
];

function roundTrip(s: string): string {
  return execFileSync('/bin/sh', ['-c', `printf %s ${shellQuote(s)}`], { encoding: 'utf8' });
}

describe('shellQuote', () => {
  it.each(HOSTILE)('%s round-trips through /bin/sh', (_name, value) => {
    expect(roundTrip(value)).toBe(value);
  });

  it.each([
    ['abc', 'abc'],
    ['/var/tmp/x.tar.gz', '/var/tmp/x.tar.gz'],
    ['a b', "'a b'"],
    ["it's", "'it'\\''s'"],
    ['', "''"],
    // security review: an assignment and an option-looking word are never left bare
    ['NAME=value', "'NAME=value'"],
    ['--unit=x', "'--unit=x'"],
    ['-rf', "'-rf'"],
    ['-', "'-'"],
    ['a-b', 'a-b'],
    ['x.tar.gz-1', 'x.tar.gz-1'],
  ])('%j quotes as %s', (input, expected) => {
    expect(shellQuote(input)).toBe(expected);
  });

  it('a quoted NAME=value as the first word is not an assignment', () => {
    const out = execFileSync('/bin/sh', ['-c', `${shellQuote('ZKOPS_Q=1')} 2>/dev/null; echo "\${ZKOPS_Q-unset}"`], { encoding: 'utf8' });
    expect(out).toBe('unset\n');
  });
});

describe('shellJoin', () => {
  it('joins quoted args that sh splits back exactly', () => {
    const args = HOSTILE.map(([, v]) => v);
    const out = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${shellJoin(args)}`], { encoding: 'utf8' });
    expect(out.split('\0').slice(0, -1)).toEqual(args);
  });
});
