// Durations as operators write them (SPEC section 3: 500ms, 10s, 5m) and as messages print them;
// the limits every key that waits shares (security review: 600h and 1e300 fired at once).
import { describe, expect, it } from 'vitest';
import { durationProblem, formatDuration, MAX_DURATION_MS, parseDuration } from '../../src/util/duration.js';
import { parseInventory } from '../../src/inventory/load.js';
import { parsePlaybook } from '../../src/playbook/load.js';
import { problemsOf } from './problems-of.js';

const valid: [input: string | number, ms: number][] = [
  ['500ms', 500],
  ['10s', 10_000],
  ['5m', 300_000],
  ['1h', 3_600_000],
  ['168h', MAX_DURATION_MS],
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
  // above 2^31-1 ms Node's setTimeout fires at once; zkops caps every duration at 7 days
  ['600h', 'longer than 7 days'],
  ['168.1h', 'just over 7 days'],
  [`${'9'.repeat(400)}s`, 'a number too big for a double'],
  [1e300, 'a YAML number of seconds beyond any timer'],
  [604_801, 'a bare number just over 7 days'],
];

describe('parseDuration', () => {
  it.each(valid)('%j is %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(invalid)('%j is rejected (%s)', (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });
});

describe('durationProblem', () => {
  it.each([
    ['10 parsecs', undefined, /^"10 parsecs" is not a duration: write it like 500ms, 10s, 5m or 1h$/],
    ['600h', undefined, /^"600h" is too long: write a duration of at most 168h \(7 days\)$/],
    [1e300, undefined, /^1e\+300 is too long: .*at most 168h/],
    ['0s', 'a poll of 0 spins', /^"0s" is refused here: a poll of 0 spins; give a duration above 0$/],
    [0, 'a poll of 0 spins', /^0 is refused here/],
    ['0.4ms', 'a poll of 0 spins', /refused here/],
  ] as const)('%j: %s', (input, zero, message) => {
    expect(durationProblem(input, zero)).toMatch(message);
  });

  it('0 is fine where nothing says why it cannot be', () => {
    expect(durationProblem('0s')).toBeUndefined();
  });
});

// Every key that waits, in a playbook and in an inventory: too long refused everywhere, 0
// refused where it would spin or never (or at once) end; each problem with file:line.
const step = (kind: string, extra: string) =>
  `name: p\nsteps:\n  - id: a\n    kind: ${kind}\n${kind === 'job' ? '    command: x\n    finally: y\n' : kind === 'shell' ? '    command: x\n' : ''}    ${extra}\n`;

describe('duration limits in playbooks', () => {
  it.each([
    ['shell timeout 600h', step('shell', 'timeout: 600h'), 'steps[0].timeout', /too long/],
    ['shell timeout 1e300', step('shell', 'timeout: 1e300'), 'steps[0].timeout', /too long/],
    ['shell timeout 0', step('shell', 'timeout: 0s'), 'steps[0].timeout', /refused here: 0 would let the step run without a timeout/],
    ['job poll 0', step('job', 'poll: 0'), 'steps[0].poll', /refused here: 0 would poll the master without a pause/],
    ['job poll 600h', step('job', 'poll: 600h'), 'steps[0].poll', /too long/],
    ['wait_healthy interval 0', step('wait_healthy', 'interval: 0ms'), 'steps[0].interval', /refused here: 0 would poll Exhibitor without a pause/],
    ['retry delay 1e300', step('shell', 'delay: 1e300'), 'steps[0].delay', /too long/],
  ])('%s is refused with file:line', (_name, text, path, message) => {
    const [p] = problemsOf(() => parsePlaybook('pb.yaml', text), text);
    // the key under test is the step's last line
    expect(p).toMatchObject({ file: 'pb.yaml', line: text.split('\n').length - 1, path });
    expect(p?.message).toMatch(message);
  });

  it('7 days, and a retry delay of 0, are accepted', () => {
    expect(parsePlaybook('pb.yaml', step('shell', 'timeout: 168h')).steps[0]?.timeout).toBe(MAX_DURATION_MS);
    expect(parsePlaybook('pb.yaml', step('shell', 'delay: 0s')).steps[0]?.delay).toBe(0);
  });
});

describe('duration limits in inventories', () => {
  const inv = (section: string, key: string, value: string) => `cluster: c\n${section}:\n  ${key}: ${value}\nmasters:\n  - host: a\n`;
  it.each([
    ['exhibitor', 'pollInterval', '0s', /refused here: 0 would poll Exhibitor without a pause/],
    ['exhibitor', 'timeout', '0', /refused here: 0 would give up before the first poll/],
    ['ssh', 'connectTimeout', '0ms', /refused here: 0 would give up before connecting/],
    ['exhibitor', 'timeout', '600h', /too long: write a duration of at most 168h/],
    ['ssh', 'keepalive', '1e300', /too long/],
  ])('%s.%s: %s is refused with file:line', (section, key, value, message) => {
    const text = inv(section, key, value);
    const [p] = problemsOf(() => parseInventory('inv.yaml', text), text);
    expect(p).toMatchObject({ file: 'inv.yaml', line: 3, path: `${section}.${key}` });
    expect(p?.message).toMatch(message);
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
