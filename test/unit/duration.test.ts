// Durations as operators write them (SPEC section 3: 500ms, 10s, 5m) and as messages print them.
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/config/duration.js';

const valid: [input: string | number, ms: number][] = [
  ['500ms', 500],
  ['10s', 10_000],
  ['5m', 300_000],
  ['1h', 3_600_000],
  ['0s', 0],
  ['1.5s', 1500],
  ['0.5m', 30_000],
  ['10 s', 10_000],
  ['  2m  ', 120_000],
  ['10ms', 10],
  // A bare YAML number is seconds.
  [10, 10_000],
  [0.25, 250],
  [0, 0],
];

const invalid: [input: string | number, why: string][] = [
  ['', 'empty'],
  ['10', 'a string needs a unit'],
  ['ten seconds', 'words'],
  ['10sec', 'unknown unit'],
  ['10d', 'days are not a unit'],
  ['10S', 'units are lowercase'],
  ['-5s', 'negative'],
  ['5s5m', 'two durations'],
  ['1e3ms', 'exponent'],
  ['.5s', 'no leading digit'],
  ['5 m s', 'trailing garbage'],
  [-1, 'negative number'],
  [Number.NaN, 'NaN'],
  [Number.POSITIVE_INFINITY, 'infinity'],
];

describe('parseDuration', () => {
  it.each(valid)('%j is %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(invalid)('%j is rejected (%s)', (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [500, '500ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [10_000, '10s'],
    [60_000, '1m'],
    [90_000, '1.5m'],
    [300_000, '5m'],
    [3_600_000, '1h'],
    [5_400_000, '1.5h'],
    // rounding never shows a unit's upper bound: 59.99 s is a minute
    [59_949, '59.9s'],
    [59_999, '1m'],
    [3_599_999, '1h'],
    [1049, '1s'],
  ])('%d ms prints as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each(['500ms', '10s', '5m', '1h', '1.5s', '1.5m'])('%s survives format(parse(x))', (text) => {
    expect(formatDuration(parseDuration(text) as number)).toBe(text);
  });
});
