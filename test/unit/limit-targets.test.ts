// Where the steps of a `zkops run --limit` run, through the path the CLI takes (limitRun, then
// the Plan, then the engine) on in-memory masters: `all`, `one`, names and targets chosen at
// run time keep to the limited masters (a step left with none is skipped); a lock step keeps
// the masters its playbook names, and the steps that follow it (`target: { step: lock }`)
// follow it; nothing else is ever asked of a master outside the limit.
import { describe, expect, it } from 'vitest';
import { PlaybookRun } from '../../src/engine/run.js';
import { parseInventory } from '../../src/inventory/load.js';
import { parsePlaybook } from '../../src/playbook/load.js';
import { limitRun, listHosts, planOf, type Loaded } from '../../src/procedures/run.js';
import { MemoryTransport } from '../helpers/memory-transport.js';

const INVENTORY = parseInventory(
  '/memory/inventory.yaml',
  ['cluster: memory', 'ssh:', '  user: root', 'masters:', ...[1, 2, 3, 4].map((i) => `  - { name: master-${i}, host: 10.0.0.${i} }`)].join('\n'),
);

const PLAYBOOK = `name: limited
steps:
  - { id: lock, kind: lock }
  - { id: every, kind: shell, needs: lock, command: echo every }
  - { id: first, kind: shell, needs: lock, target: one, command: echo first }
  - { id: named, kind: shell, needs: lock, target: [master-1, master-3], command: echo named }
  - { id: elsewhere, kind: shell, needs: lock, target: master-4, command: echo elsewhere }
  - { id: pick, kind: set, needs: lock, vars: { who: master-2 } }
  - { id: picked, kind: shell, needs: pick, target: "{{ who }}", command: echo picked }
  - { id: follow, kind: shell, needs: every, target: { step: every }, command: echo follow }
  - { id: tidy, kind: shell, always: true, target: { step: lock }, command: echo tidy }
  - { id: unlock, kind: unlock, always: true, target: { step: lock } }
`;

function loaded(yaml = PLAYBOOK): Loaded {
  return { inventory: INVENTORY, playbook: parsePlaybook('limited.yaml', yaml), extra: {}, runId: 'limit-test' };
}

/** Run under --limit `pattern`: each step's masters (where it ran) and status, and every exec per master. */
async function run(pattern: string) {
  const l = limitRun(loaded(), pattern);
  const memory = new MemoryTransport();
  const report = await new PlaybookRun({
    plan: planOf(l),
    inventory: l.inventory,
    transport: memory,
    sink: { emit: () => undefined },
    concurrency: 10,
    signal: new AbortController().signal,
  }).execute();
  const ran = Object.fromEntries(Object.entries(report.steps).map(([id, s]) => [id, s.status === 'skipped' ? `skipped: ${s.reason}` : s.masters]));
  const asked = (master: string) =>
    memory.calls
      .filter((c) => c.op === 'exec' && c.master === master)
      .map((c) => /echo (\w+)/.exec(c.what)?.[1] ?? (c.what.includes('mkdir') ? 'lock' : c.what.includes('rm -rf') ? 'unlock' : '?'));
  return { report, ran, asked };
}

describe('a limited run', () => {
  it('keeps every step to the limited masters, except the lock and what follows it', async () => {
    const { report, ran, asked } = await run('master-2,master-3');
    expect(report.ok, report.error?.message).toBe(true);
    expect(ran).toEqual({
      lock: ['master-1', 'master-2', 'master-3', 'master-4'],
      every: ['master-2', 'master-3'],
      first: ['master-2'],
      named: ['master-3'],
      elsewhere: 'skipped: no target master',
      pick: [],
      picked: ['master-2'],
      follow: ['master-2', 'master-3'],
      tidy: ['master-1', 'master-2', 'master-3', 'master-4'],
      unlock: ['master-1', 'master-2', 'master-3', 'master-4'],
    });
    for (const m of ['master-1', 'master-4']) expect(asked(m).sort(), `${m} outside the limit`).toEqual(['lock', 'tidy', 'unlock']);
    expect(asked('master-2').sort()).toEqual(['every', 'first', 'follow', 'lock', 'picked', 'tidy', 'unlock']);
  });

  it('a target chosen at run time outside the limit: that step is skipped, the master never asked', async () => {
    const { ran, asked } = await run('!master-2');
    expect(ran.picked).toBe('skipped: no target master');
    expect(asked('master-2').sort()).toEqual(['lock', 'tidy', 'unlock']);
  });

  it('the plan (--dry-run, plan) shows the limited tasks', () => {
    const plan = planOf(limitRun(loaded(), 'master-4'));
    const tasks = (id: string) => plan.steps.find((s) => s.id === id)?.tasks.map((t) => t.master);
    expect(tasks('every')).toEqual(['master-4']);
    expect(tasks('elsewhere')).toEqual(['master-4']);
    expect(tasks('named')).toEqual([]);
    expect(tasks('lock')).toEqual(['master-1', 'master-2', 'master-3', 'master-4']);
  });
});

describe('--list-hosts', () => {
  it('the limited masters, and the others the lock still covers', () => {
    const h = listHosts(limitRun(loaded(), 'master-[34]'));
    expect(h.hosts.map((m) => [m.name, m.host])).toEqual([
      ['master-3', '10.0.0.3'],
      ['master-4', '10.0.0.4'],
    ]);
    expect(h.lockedToo).toEqual({ masters: ['master-1', 'master-2'], steps: ['lock', 'tidy', 'unlock'] });
  });

  it('without --limit, or with one that keeps them all: every master, nothing else to say', () => {
    for (const l of [loaded(), limitRun(loaded(), 'all')]) {
      const h = listHosts(l);
      expect(h.hosts.map((m) => m.name)).toEqual(['master-1', 'master-2', 'master-3', 'master-4']);
      expect(h.lockedToo.masters).toEqual([]);
    }
  });
});
