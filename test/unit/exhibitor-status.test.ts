// Exhibitor's cluster status and what "healthy" means (SPEC section 1: every master serving,
// exactly one leader), the stable-polls counter, and ZooKeeper's `srvr` reply.
import { describe, expect, it } from 'vitest';
import { judgeHealth, parseSrvr, parseStatus, StabilityCounter, type StatusEntry } from '../../src/exhibitor/status.js';

const entry = (hostname: string, code: number, isLeader = false): StatusEntry => ({
  hostname,
  code,
  isLeader,
  description: ({ 1: 'down', 2: 'not serving', 3: 'serving' } as Record<number, string>)[code] ?? '',
});

describe('parseStatus', () => {
  it('parses the body of GET /exhibitor/v1/cluster/status', () => {
    const body = JSON.stringify([
      { code: 3, description: 'serving', hostname: '10.0.0.11', isLeader: false },
      { code: 3, description: 'serving', hostname: '10.0.0.12', isLeader: true },
      { code: 1, description: 'down', hostname: '10.0.0.13', isLeader: false },
    ]);
    expect(parseStatus(body)).toEqual([entry('10.0.0.11', 3), entry('10.0.0.12', 3, true), entry('10.0.0.13', 1)]);
  });

  it.each([
    ['no description: the state name', { code: 2, hostname: 'a' }, { code: 2, hostname: 'a', description: 'not serving', isLeader: false }],
    ['an unknown code keeps its description', { code: 9, hostname: 'a', description: 'odd' }, { code: 9, hostname: 'a', description: 'odd', isLeader: false }],
    ['an unknown code without one', { code: 9, hostname: 'a' }, { code: 9, hostname: 'a', description: '', isLeader: false }],
    ['isLeader must be true, not "true"', { code: 3, hostname: 'a', isLeader: 'true' }, { code: 3, hostname: 'a', description: 'serving', isLeader: false }],
    ['extra fields are ignored', { code: 3, hostname: 'a', isLeader: true, extra: 1 }, { code: 3, hostname: 'a', description: 'serving', isLeader: true }],
  ])('%s', (_name, raw, parsed) => {
    expect(parseStatus(JSON.stringify([raw]))).toEqual([parsed]);
  });

  it('an empty list is a valid (unhealthy) answer', () => {
    expect(parseStatus('[]')).toEqual([]);
  });

  it.each([
    ['an empty body', '', /^Exhibitor status is not JSON: $/],
    ['an HTML error page', '<html><body>502 Bad Gateway</body></html>', /^Exhibitor status is not JSON: <html><body>502 Bad Gateway/],
    ['a long body is cut to 80 characters', `oops ${'x'.repeat(200)}`, /^Exhibitor status is not JSON: oops x{75}$/],
    ['truncated JSON', '[{"code":3,"hostname":"a"', /not JSON/],
    ['an object', '{"code":3,"hostname":"a"}', /^Exhibitor status is not a list$/],
    ['null', 'null', /not a list/],
    ['a number', '42', /not a list/],
    ['an entry without hostname', '[{"code":3}]', /^Exhibitor status entry 0 lacks hostname or code$/],
    ['an entry without code', '[{"code":3,"hostname":"a"},{"hostname":"b"}]', /^Exhibitor status entry 1 lacks hostname or code$/],
    ['a code as a string', '[{"code":"3","hostname":"a"}]', /entry 0 lacks hostname or code/],
    ['a null entry', '[null]', /entry 0 lacks hostname or code/],
    ['a string entry', '["10.0.0.11"]', /entry 0 lacks hostname or code/],
  ])('%s is an error', (_name, body, message) => {
    expect(() => parseStatus(body)).toThrow(message);
  });
});

describe('judgeHealth', () => {
  const masters = [
    { name: 'm1', hosts: ['10.0.0.11', 'master-1.internal'] },
    { name: 'm2', hosts: ['10.0.0.12'] },
    { name: 'm3', hosts: ['10.0.0.13'] },
  ];

  const table: [name: string, entries: StatusEntry[], healthy: boolean, serving: number, leaders: number, reason: string][] = [
    ['all serving, one leader', [entry('10.0.0.11', 3), entry('10.0.0.12', 3, true), entry('10.0.0.13', 3)], true, 3, 1, ''],
    ['matched by another host name of the master', [entry('master-1.internal', 3, true), entry('10.0.0.12', 3), entry('10.0.0.13', 3)], true, 3, 1, ''],
    ['in any order', [entry('10.0.0.13', 3), entry('10.0.0.11', 3, true), entry('10.0.0.12', 3)], true, 3, 1, ''],
    ['two leaders', [entry('10.0.0.11', 3, true), entry('10.0.0.12', 3, true), entry('10.0.0.13', 3)], false, 3, 2, '2 leaders'],
    ['no leader', [entry('10.0.0.11', 3), entry('10.0.0.12', 3), entry('10.0.0.13', 3)], false, 3, 0, 'no leader'],
    ['one down', [entry('10.0.0.11', 3), entry('10.0.0.12', 1), entry('10.0.0.13', 3, true)], false, 2, 1, '2/3 serving (m2 down)'],
    ['one not serving, one latent', [entry('10.0.0.11', 2), entry('10.0.0.12', 0), entry('10.0.0.13', 3, true)], false, 1, 1, '1/3 serving (m1 not serving, m2 latent)'],
    ['fewer entries than masters', [entry('10.0.0.11', 3), entry('10.0.0.12', 3, true)], false, 2, 1, '2/3 serving (m3 not listed)'],
    ['no entries', [], false, 0, 0, '0/3 serving (m1 not listed, m2 not listed, m3 not listed)'],
    [
      'a leader that is not an inventory master does not count',
      [entry('10.0.0.11', 3), entry('10.0.0.12', 3), entry('10.0.0.13', 3), entry('10.9.9.9', 3, true)],
      false,
      3,
      0,
      'no leader',
    ],
    ['a serving entry for another host does not fill a gap', [entry('10.0.0.11', 3, true), entry('10.0.0.12', 3), entry('10.9.9.9', 3)], false, 2, 1, '2/3 serving (m3 not listed)'],
  ];

  it.each(table)('%s', (_name, entries, healthy, serving, leaders, reason) => {
    const verdict = judgeHealth(entries, masters);
    expect(verdict).toMatchObject({ healthy, serving, leaders, expected: 3, reason });
  });

  it('gives a row per inventory master, in inventory order, for the status table', () => {
    const verdict = judgeHealth([entry('10.0.0.13', 3, true), entry('master-1.internal', 1)], masters);
    expect(verdict.rows).toEqual([
      { master: 'm1', host: 'master-1.internal', state: 'down', code: 1, leader: false },
      { master: 'm2', host: '10.0.0.12', state: 'not listed', code: null, leader: false },
      { master: 'm3', host: '10.0.0.13', state: 'serving', code: 3, leader: true },
    ]);
  });

  it('a single-master cluster is healthy when it serves and leads', () => {
    expect(judgeHealth([entry('10.0.0.11', 3, true)], [{ name: 'm1', hosts: ['10.0.0.11'] }]).healthy).toBe(true);
  });
});

describe('StabilityCounter', () => {
  it.each([
    ['needs 3 in a row', 3, [true, true, true, true], [false, false, true, true]],
    ['an unhealthy poll resets the streak', 3, [true, true, false, true, true, true], [false, false, false, false, false, true]],
    ['a later failure drops it again', 2, [true, true, false, true], [false, true, false, false]],
    ['1 means the first healthy poll', 1, [false, true], [false, true]],
    ['never healthy', 2, [false, false, false], [false, false, false]],
  ])('%s', (_name, needed, polls, verdicts) => {
    const counter = new StabilityCounter(needed);
    expect(polls.map((p) => counter.record(p))).toEqual(verdicts);
  });

  it('with stableFor: enough polls are not enough until the streak has lasted that long from its first healthy poll', () => {
    const counter = new StabilityCounter(2, 1500);
    // poll times in ms: healthy from 0, a failure at 1000 starts it over from 1250
    const polls: [boolean, number][] = [[true, 0], [true, 250], [true, 750], [false, 1000], [true, 1250], [true, 2500], [true, 2750], [true, 3000]];
    expect(polls.map(([h, at]) => counter.record(h, at))).toEqual([false, false, false, false, false, false, true, true]);
    expect(counter.lasted(3000)).toBe(1750);
  });

  it('with stableFor 0: the polls alone decide, as before', () => {
    const counter = new StabilityCounter(2, 0);
    expect([counter.record(true, 0), counter.record(true, 0)]).toEqual([false, true]);
  });

  it('count is the current streak', () => {
    const counter = new StabilityCounter(5);
    counter.record(true);
    counter.record(true);
    expect(counter.count).toBe(2);
    counter.record(false);
    expect(counter.count).toBe(0);
  });
});

// `echo srvr | nc localhost 2181` on ZooKeeper 3.8.4 (a 3-node ensemble and a standalone node).
const SRVR_LEADER = `Zookeeper version: 3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on 2024-02-12 22:16 UTC
Latency min/avg/max: 0/0.4231/12
Received: 1052
Sent: 1051
Connections: 3
Outstanding: 0
Zxid: 0x200000007
Mode: leader
Node count: 171
Proposal sizes last/min/max: 48/36/1202
`;
const SRVR_FOLLOWER = `Zookeeper version: 3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on 2024-02-12 22:16 UTC
Latency min/avg/max: 0/0.0/0
Received: 12
Sent: 11
Connections: 1
Outstanding: 0
Zxid: 0x1a0000ffff
Mode: follower
Node count: 171
`;
const SRVR_STANDALONE = `Zookeeper version: 3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on 2024-02-12 22:16 UTC
Latency min/avg/max: 0/0.0/0
Received: 1
Sent: 0
Connections: 1
Outstanding: 0
Zxid: 0x0
Mode: standalone
Node count: 5
`;

describe('parseSrvr', () => {
  it.each([
    ['a leader', SRVR_LEADER, { mode: 'leader', zxid: 0x200000007n, version: '3.8.4' }],
    ['a follower', SRVR_FOLLOWER, { mode: 'follower', zxid: 0x1a0000ffffn, version: '3.8.4' }],
    ['a standalone node', SRVR_STANDALONE, { mode: 'standalone', zxid: 0n, version: '3.8.4' }],
    ['CRLF line ends', SRVR_LEADER.replace(/\n/g, '\r\n'), { mode: 'leader', zxid: 0x200000007n, version: '3.8.4' }],
    ['upper-case hex', 'Zxid: 0xABCDEF0123\nMode: follower\n', { mode: 'follower', zxid: 0xabcdef0123n, version: undefined }],
    ['a 64-bit zxid', 'Zxid: 0xffffffffffffffff\n', { mode: undefined, zxid: 18446744073709551615n, version: undefined }],
    ['ZooKeeper 3.4 (DC/OS)', 'Zookeeper version: 3.4.14-4c25d480e66aadd371de8bd2fd8da255ac140bcf, built on 03/06/2019 16:18 GMT\nZxid: 0x10\nMode: follower\n', { mode: 'follower', zxid: 16n, version: '3.4.14' }],
    ['not serving', 'This ZooKeeper instance is not currently serving requests\n', { mode: undefined, zxid: undefined, version: undefined }],
    ['nothing', '', { mode: undefined, zxid: undefined, version: undefined }],
    ['a decimal zxid is not read as one', 'Zxid: 12345\n', { mode: undefined, zxid: undefined, version: undefined }],
  ])('%s', (_name, text, parsed) => {
    expect(parseSrvr(text)).toEqual(parsed);
  });

  it('zxids compare as numbers, epoch first (0x2_00000001 > 0x1_ffffffff)', () => {
    const a = parseSrvr('Zxid: 0x200000001\n').zxid as bigint;
    const b = parseSrvr('Zxid: 0x1ffffffff\n').zxid as bigint;
    expect(a > b).toBe(true);
  });
});
