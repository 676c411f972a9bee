// The step graph (needs, cycles, topological order) and the Plan: the concrete command per
// master that `zkops plan` and `--dry-run` print, built from a parsed inventory (SPEC section 8).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import { runInfo } from '../../src/playbook/context.js';
import { findCycle, needsOf, topoOrder } from '../../src/playbook/graph.js';
import { parsePlaybook } from '../../src/playbook/load.js';
import { buildPlan, type Plan } from '../../src/playbook/plan.js';
import type { Step } from '../../src/playbook/schema.js';
import { UndefinedVariableError } from '../../src/playbook/template.js';

/** Minimal step shapes for the graph functions (they read id, needs and target only). */
const s = (id: string, needs?: string | string[], target: Step['target'] = 'all') => ({ id, needs, target }) as Step;

describe('needsOf', () => {
  it.each([
    ['no needs', s('a'), []],
    ['one need', s('a', 'b'), ['b']],
    ['a list', s('a', ['b', 'c']), ['b', 'c']],
    ['a step target adds that step', s('a', 'b', { step: 'c' }), ['b', 'c']],
    ['a step target already needed is not repeated', s('a', ['c'], { step: 'c' }), ['c']],
    ['a string target is not a dependency', s('a', undefined, '{{ chosen.name }}'), []],
  ])('%s', (_name, step, needs) => {
    expect(needsOf(step)).toEqual(needs);
  });
});

describe('findCycle', () => {
  it.each([
    ['no steps', [], undefined],
    ['a chain', [s('a'), s('b', 'a'), s('c', ['a', 'b'])], undefined],
    ['a diamond', [s('a'), s('b', 'a'), s('c', 'a'), s('d', ['b', 'c'])], undefined],
    ['two steps', [s('a', 'b'), s('b', 'a')], ['a', 'b', 'a']],
    ['a self-loop', [s('a'), s('b', 'b')], ['b', 'b']],
    ['three steps', [s('a', 'c'), s('b', 'a'), s('c', 'b')], ['a', 'c', 'b', 'a']],
    ['behind a step outside it', [s('x', 'a'), s('a', 'b'), s('b', 'a')], ['a', 'b', 'a']],
    ['through a step target', [s('a', 'b'), s('b', undefined, { step: 'a' })], ['a', 'b', 'a']],
  ])('%s', (_name, steps, cycle) => {
    expect(findCycle(steps)).toEqual(cycle);
  });
});

describe('topoOrder', () => {
  const ids = (steps: Step[]) => topoOrder(steps).map((x) => x.id);

  it.each([
    ['file order when independent', [s('a'), s('b'), s('c')], ['a', 'b', 'c']],
    ['a dependency declared later runs first', [s('a', 'c'), s('b'), s('c')], ['b', 'c', 'a']],
    ['a chain written backwards', [s('c', 'b'), s('b', 'a'), s('a')], ['a', 'b', 'c']],
    ['a diamond', [s('d', ['b', 'c']), s('c', 'a'), s('b', 'a'), s('a')], ['a', 'c', 'b', 'd']],
    ['a step target orders like needs', [s('cleanup', undefined, { step: 'lock' }), s('lock')], ['lock', 'cleanup']],
    ['unknown needs are ignored here (load reports them)', [s('a', 'ghost'), s('b')], ['a', 'b']],
  ])('%s', (_name, steps, order) => {
    expect(ids(steps)).toEqual(order);
  });

  it('a cycle throws instead of looping', () => {
    expect(() => topoOrder([s('a', 'b'), s('b', 'a')])).toThrow(/cycle/);
  });
});

const INVENTORY = `cluster: prod-east
ssh:
  user: centos
dcos:
  exhibitorUnit: my-exhibitor
masters:
  - host: 10.0.0.11
    name: m1
  - host: 10.0.0.12
    name: m2
  - host: 10.0.0.13
    name: m3
`;
const inv = parseInventory('/etc/zkops/masters.yaml', INVENTORY);
const RUN = runInfo(inv, 'r1', new Date('2026-01-01T00:00:00Z'));

const bundled = (name: string, extra: Record<string, string> = {}): Plan =>
  buildPlan(parsePlaybook(`playbooks/${name}.yaml`, readFileSync(`playbooks/${name}.yaml`, 'utf8'), Object.keys(extra)), inv, extra, RUN);

const stepOf = (plan: Plan, id: string) => {
  const step = plan.steps.find((x) => x.id === id);
  if (!step) throw new Error(`no step ${id} in the plan`);
  return step;
};

describe('buildPlan: playbooks/rolling-restart.yaml', () => {
  const plan = bundled('rolling-restart');

  it('lists the cluster, the masters and the steps in dependency order', () => {
    expect(plan).toMatchObject({ playbook: 'rolling-restart', cluster: 'prod-east', masters: ['m1', 'm2', 'm3'] });
    expect(plan.steps.map((x) => x.id)).toEqual(['healthy-before', 'restart', 'healthy-after']);
  });

  it('renders the restart for every master, one at a time, with the inventory unit', () => {
    const restart = stepOf(plan, 'restart');
    expect(restart).toMatchObject({ kind: 'shell', target: 'all', serial: 1, become: true, timeout: '5m', needs: ['healthy-before'] });
    expect(restart.tasks.map((t) => t.master)).toEqual(['m1', 'm2', 'm3']);
    for (const t of restart.tasks) {
      expect(t.commands).toHaveLength(1);
      expect(t.commands[0]).toMatch(/^systemctl restart my-exhibitor\n/);
      expect(t.commands[0]).not.toContain('{{');
    }
  });

  it('waits for health from the bastion, with the inventory timeout when the step gives none', () => {
    expect(stepOf(plan, 'healthy-before')).toMatchObject({ target: 'cluster (from the bastion)', timeout: '2m', onFailure: 'refuse' });
    const after = stepOf(plan, 'healthy-after');
    expect(after.timeout).toBe('10m');
    expect(after.tasks).toEqual([
      { master: 'local', commands: ['poll http://127.0.0.1:8181/exhibitor/v1/cluster/status (via ssh) every 250ms until 3 serving and 1 leader, 3 polls in a row and for 1.5s'] },
    ]);
  });
});

describe('buildPlan: playbooks/restore.yaml', () => {
  const hostile = `x[$(touch ${tmpdir()}/zkops-plan-arith-${process.pid})]`;
  const plan = bundled('restore', { archive_local: '/b/a.tar.gz', archive_sha256: 'ab'.repeat(32), backup_id: 'b-1', archive_unpacked_bytes: hostile });

  it('the restore is a leased job: plan shows the lease (the inventory default, 2m) and the rollback', () => {
    const restore = stepOf(plan, 'restore');
    expect(restore).toMatchObject({ kind: 'job', lease: '2m', timeout: '30m', target: 'all' });
    const [what, lease, script] = restore.tasks[1]?.commands ?? [];
    expect(what).toBe('detached job in /var/tmp/zkops/run-r1/jobs/restore.m2 (systemd unit zkops-r1-restore.service where systemd is init, else setsid); finally-command runs whatever happens');
    expect(lease).toMatch(/^lease 2m: after its main command the job waits for zkops's word, given to every master at once when all are ready; with no word for 2m it rolls back by itself/);
    expect(script).toContain('dcos-zk restore /var/tmp/zkops/run-r1/b-1.tar.gz -v -t /var/lib/dcos/exhibitor/zookeeper.zkops-tmp-r1');
    expect(script).toContain('mv /var/lib/dcos/exhibitor/zookeeper.zkops-pre-r1 /var/lib/dcos/exhibitor/zookeeper\n');
    expect(stepOf(plan, 'upload').tasks[0]?.commands[0]).toContain(`and with ${'ab'.repeat(32)})`);
  });

  it('a templated size that is not a number never reaches $(( )) (bash evaluates what it is given there)', () => {
    const room = (stepOf(plan, 'room').tasks[0]?.commands[0] as string).replace('⟨verified.bytes⟩', '100');
    const r = spawnSync('bash', ['-c', room], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('archive sizes are not numbers');
    expect(existsSync(`${tmpdir()}/zkops-plan-arith-${process.pid}`)).toBe(false);
  });
});

describe('buildPlan: playbooks/backup.yaml', () => {
  const plan = bundled('backup', { backup_id: 'pre-upgrade-1', dest: '/backups/pre upgrade.tar.gz' });

  it('renders the per-master commands concretely', () => {
    expect(stepOf(plan, 'reachable').tasks).toEqual(['m1', 'm2', 'm3'].map((master) => ({ master, commands: ['true'] })));
    const count = stepOf(plan, 'master-count').tasks.find((t) => t.master === 'm2')?.commands[0];
    expect(count).toContain('[ "$n" = 3 ] ||');
    expect(count).toContain('master_count is $n on "m2" but the inventory lists "3" masters');
    const lock = stepOf(plan, 'lock').tasks;
    expect(lock.map((t) => t.master)).toEqual(['m1', 'm2', 'm3']);
    // the run's directory first, fresh, in zkops's own 0700 parent; then the lock beside it
    expect(lock[1]?.commands[0]).toMatch(/^\{ mkdir -m 700 \/var\/tmp\/zkops 2>\/dev\/null; .* mkdir -m 700 \/var\/tmp\/zkops\/run-r1 .*\|\| exit 1\nif mkdir \/var\/tmp\/zkops\/lock 2>\/dev\/null; then\n/);
    expect(lock[1]?.commands[0]).toContain('on "m2" is held');
  });

  it('a master chosen at run time is shown as such, the rest of its command concrete', () => {
    const backup = stepOf(plan, 'backup');
    expect(backup.target).toBe('chosen at run time: ⟨chosen.name⟩');
    expect(backup.tasks.map((t) => t.master)).toEqual(['⟨chosen.name⟩']);
    const [what, script] = backup.tasks[0]?.commands ?? [];
    expect(what).toBe('detached job in /var/tmp/zkops/run-r1/jobs/backup.-chosen.name- (systemd unit zkops-r1-backup.service where systemd is init, else setsid); finally-command runs whatever happens');
    // the script knows its unit, to record whether systemd-run or setsid detached it
    expect(script).toMatch(/^\s*if grep -q '?\/zkops-r1-backup\.service'?'\$' \/proc\/self\/cgroup/m);
    expect(script).toContain('systemctl stop my-exhibitor');
    expect(script).toContain('/opt/mesosphere/bin/dcos-shell dcos-zk backup /var/tmp/zkops/run-r1/pre-upgrade-1.tar.gz -v -t /var/tmp/zkops/run-r1\n');
    expect(script).toContain('systemctl start my-exhibitor');
  });

  it('transfers, choice and verification are described with their rendered paths', () => {
    expect(stepOf(plan, 'download').tasks[0]?.commands).toEqual([
      "get /var/tmp/zkops/run-r1/pre-upgrade-1.tar.gz → /backups/pre upgrade.tar.gz (sha256 in the stream, compared with the master's sha256sum)",
    ]);
    expect(stepOf(plan, 'download')).toMatchObject({ retries: 2, timeout: '1h', register: 'downloaded' });
    // backup_master defaults to "": the engine then chooses by prefer, and the plan says so.
    expect(stepOf(plan, 'choose').tasks[0]?.commands).toEqual(['choose a follower (highest zxid; never the leader unless one master)']);
    expect(stepOf(plan, 'verify').tasks[0]?.commands[0]).toMatch(/^verify \/backups\/pre upgrade\.tar\.gz: sha256 = ⟨downloaded\.remote_sha256⟩,/);
    expect(stepOf(plan, 'healthy-before')).toMatchObject({ when: 'not {{ force }}', timeout: '15s' });
    expect(stepOf(plan, 'healthy-before').tasks[0]?.commands[0]).toMatch(/1 poll in a row and for 0ms$/);
  });

  it('a named backup master is shown as the one chosen', () => {
    const named = bundled('backup', { backup_id: 'b-1', dest: '/b', backup_master: 'm3' });
    expect(stepOf(named, 'choose').tasks[0]?.commands).toEqual(['choose m3 (named)']);
  });

  it('always steps target the masters where the lock step ran', () => {
    expect(stepOf(plan, 'cleanup')).toMatchObject({ always: true, target: 'the masters where "lock" ran', needs: expect.arrayContaining(['lock', 'healthy-after-failure']) });
  });
});

describe('buildPlan: targets and quoting in a custom playbook', () => {
  const text = `name: custom
requires: [label]
steps:
  - id: one
    kind: shell
    target: one
    command: echo {{ label }}
  - id: named
    kind: shell
    target: m2
    command: printf '%s' {{ label }}
  - id: listed
    kind: shell
    target: [m3, "{{ masters[0].name }}"]
    register: out
    command: hostname
  - id: later
    kind: shell
    needs: listed
    target: "{{ out.stdout }}"
    command: echo {{ out.stdout }} {{ master.host }}
  - id: here
    kind: set
    target: local
    vars:
      x: "{{ label }}"
      n: 3
  - id: stop
    kind: fail
    when: "{{ label }} == stop"
    message: stopping on {{ cluster }}
`;
  const label = `it's $(touch /tmp/zkops-plan-pwned); \`id\`\n`;
  const plan = buildPlan(parsePlaybook('custom.yaml', text), inv, { label }, RUN);

  it.each([
    ['one', 'one', ['m1']],
    ['named', 'm2', ['m2']],
    ['listed', 'm3, m1', ['m3', 'm1']],
    ['here', 'cluster (from the bastion)', ['local']],
    ['stop', 'cluster (from the bastion)', ['local']],
  ])('step %s targets %s', (id, target, masters) => {
    const step = stepOf(plan, id);
    expect(step.target).toBe(target);
    expect(step.tasks.map((t) => t.master)).toEqual(masters);
  });

  it('an extra var in a command is shell-quoted: the rendered command prints it intact', () => {
    const command = stepOf(plan, 'named').tasks[0]?.commands[0] as string;
    expect(execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8' })).toBe(label);
  });

  it('registered values are deferred to run time; everything else is concrete', () => {
    const later = stepOf(plan, 'later');
    expect(later.target).toBe('chosen at run time: ⟨out.stdout⟩');
    // The placeholder master's host is a value like any other, so it is quoted.
    expect(later.tasks).toEqual([{ master: '⟨out.stdout⟩', commands: ["echo ⟨out.stdout⟩ '⟨host⟩'"] }]);
  });

  it('set, fail and when are shown rendered in text mode; set has no timeout', () => {
    expect(stepOf(plan, 'here').tasks[0]?.commands).toEqual([`x = ${label}`, 'n = 3']);
    expect(stepOf(plan, 'here').timeout).toBe('none');
    expect(stepOf(plan, 'stop')).toMatchObject({ when: '{{ label }} == stop', tasks: [{ master: 'local', commands: ['fail: stopping on prod-east'] }] });
  });

  it('a required variable missing at plan time is the error a run would hit', () => {
    expect(() => buildPlan(parsePlaybook('custom.yaml', text), inv, {}, RUN)).toThrow(UndefinedVariableError);
    expect(() => buildPlan(parsePlaybook('custom.yaml', text), inv, {}, RUN)).toThrow(/undefined variable "label"/);
  });

  it('a target that is not a master of the inventory is named', () => {
    const bad = parsePlaybook('bad.yaml', 'name: b\nsteps:\n  - id: a\n    kind: shell\n    target: m9\n    command: "true"\n');
    expect(() => buildPlan(bad, inv, {}, RUN)).toThrow('target "m9" of step "a" is not a master of /etc/zkops/masters.yaml (masters: m1, m2, m3)');
  });
});
