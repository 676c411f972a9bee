// `zkops run` output as operators know it, on the built CLI against real sshd processes: what a
// shell step printed under each master's result line (plain lines), a failure's output under
// its error; `--limit` (Ansible's host pattern) keeping every step off the masters it leaves
// out, `--list-hosts`, a pattern that matches nothing (exit 2), a limit refused where a safety
// rule needs every master (exit 3); and, on a terminal, listr2 folding a success's output away
// and keeping a failure's. Addresses 127.0.52.1-3.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, onTerminal, startZkops, type CliResult, type CliRun } from '../helpers/cli.js';
import { mastersOf, startCluster, writeInventory, writePlaybook, type SshCluster } from '../helpers/inventory.js';
import { bundledPlaybook } from '../../src/version.js';

// Every SSH exec as root sources ~/.bashrc; on a busy machine that takes seconds.
const SLOW = { timeout: 300_000 };
// The engine streams a shell step's output as task-output events only once its shell executor
// hands the transport onStdout/onStderr (the engine part of this change, src/engine/steps/
// shell.ts and task.ts); before that the displays have the task-end's tail (20 lines) alone.
const LIVE = readFileSync(fileURLToPath(new URL('../../src/engine/steps/shell.ts', import.meta.url)), 'utf8').includes('onStdout');
const MASTERS = ['master-1', 'master-2', 'master-3'];

let dir: string;
let cluster: SshCluster;
let inventory: string;
let env: NodeJS.ProcessEnv;
const children: CliRun[] = [];
let n = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-run-output-'));
  env = { ZKOPS_SSH_CONFIG: join(dir, 'no-ssh-config') };
  cluster = await startCluster(dir, ['127.0.52.1', '127.0.52.2', '127.0.52.3']);
  inventory = writeInventory(join(dir, 'inventory.yaml'), {
    masters: mastersOf(cluster),
    identityFile: cluster.clientKey,
    knownHosts: cluster.knownHosts,
    remoteTmpDir: join(dir, 'remote'),
  });
});

afterAll(async () => {
  for (const c of children) {
    if (c.child.exitCode === null && c.child.signalCode === null && c.child.pid !== undefined) process.kill(c.child.pid, 'SIGKILL');
  }
  await Promise.all(children.map((c) => c.result));
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory for a playbook's side effects (`-e out=…`). */
function outDir(): string {
  const out = join(dir, `out-${++n}`);
  mkdirSync(out);
  return out;
}

function runArgs(yaml: string, out: string, ...more: string[]): string[] {
  const file = writePlaybook(dir, `playbook-${++n}.yaml`, yaml);
  return ['run', file, '-i', inventory, '-e', `out=${out}`, '--dir', join(dir, 'catalog'), ...more];
}

function cli(args: string[]): Promise<CliResult> {
  const c = startZkops(args, { cwd: dir, env });
  children.push(c);
  return c.result;
}

/** The lines of stderr from the one that starts with `first`, `count` of them. */
function linesFrom(stderr: string, first: string, count: number): string[] {
  const lines = stderr.split('\n');
  const i = lines.findIndex((l) => l.startsWith(first));
  expect(i, `"${first}" in:\n${stderr}`).toBeGreaterThanOrEqual(0);
  return lines.slice(i, i + count);
}

// 14 lines per master (stdout, then after a pause stderr); master-2 then fails with output
const OUTPUT_PLAYBOOK = `name: output
requires: [out]
steps:
  - id: hello
    kind: shell
    command: 'echo "I am {{ master.name | raw }}"; seq 1 12 | sed "s/^/n/"; sleep 0.3; echo "warned on {{ master.name | raw }}" >&2'
  - id: odd
    kind: shell
    needs: hello
    target: master-2
    on_failure: continue
    command: 'echo "no luck here"; sleep 0.3; echo "broken on purpose" >&2; exit 3'
`;

describe('zkops run: what shell steps print, per master (plain lines)', SLOW, () => {
  it('the last 10 lines under each master, "… N earlier lines" before them; a failure under its error', async () => {
    const r = await cli(runArgs(OUTPUT_PLAYBOOK, outDir()));
    expect(r.code, r.stderr).toBe(0);
    for (const m of MASTERS) {
      expect(linesFrom(r.stderr, `  ✔ ${m} (`, 13).slice(1)).toEqual([
        '      … 4 earlier lines (--verbose shows all)',
        ...[4, 5, 6, 7, 8, 9, 10, 11, 12].map((i) => `      n${i}`),
        `      warned on ${m}`,
        expect.not.stringMatching(/^ {6}/),
      ]);
    }
    expect(linesFrom(r.stderr, '  ✖ master-2:', 4)).toEqual([
      '  ✖ master-2: odd on master-2: exit 3: broken on purpose',
      '      no luck here',
      '      broken on purpose',
      expect.not.stringMatching(/^ {6}/),
    ]);
  });

  it('--verbose: all of it', async () => {
    const r = await cli(runArgs(OUTPUT_PLAYBOOK, outDir(), '--verbose'));
    expect(r.code, r.stderr).toBe(0);
    for (const m of MASTERS) {
      expect(linesFrom(r.stderr, `  ✔ ${m} (`, 15).slice(1)).toEqual([`      I am ${m}`, ...Array.from({ length: 12 }, (_, i) => `      n${i + 1}`), `      warned on ${m}`]);
    }
    expect(r.stderr).not.toContain('earlier lines');
  });

  it.skipIf(!LIVE)('--verbose: all of it, past the 20 lines --json and the journal keep', async () => {
    const yaml = `name: long
requires: [out]
steps:
  - { id: long, kind: shell, target: master-1, command: 'seq 1 45 | sed "s/^/line /"' }
`;
    const r = await cli(runArgs(yaml, outDir(), '--verbose'));
    expect(r.code, r.stderr).toBe(0);
    expect(linesFrom(r.stderr, '  ✔ master-1 (', 47).slice(1, 46)).toEqual(Array.from({ length: 45 }, (_, i) => `      line ${i + 1}`));
    const plain = await cli(runArgs(yaml, outDir()));
    expect(linesFrom(plain.stderr, '  ✔ master-1 (', 3)[1]).toBe('      … 35 earlier lines (--verbose shows all)');
  });

  it('--quiet: only the failure, with its output', async () => {
    const r = await cli(runArgs(OUTPUT_PLAYBOOK, outDir(), '--quiet'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('I am');
    expect(r.stderr).toContain('  ✖ master-2: odd on master-2: exit 3: broken on purpose\n      no luck here\n      broken on purpose\n');
  });
});

const TOUCH = `name: touch
requires: [out]
steps:
  - id: touch
    kind: shell
    command: touch {{ out }}/{{ master.name }}
`;

describe('zkops run --limit', SLOW, () => {
  it('runs only on the masters the pattern selects; the others are never asked anything', async () => {
    const out = outDir();
    const r = await cli(runArgs(TOUCH, out, '--limit', 'master-*,!master-2', '--json'));
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['master-1', 'master-3']);
    const doc = json<{ limit: string[]; steps: { touch: { masters: string[]; tasks: Record<string, unknown> } } }>(r);
    expect(doc.limit).toEqual(['master-1', 'master-3']);
    expect(doc.steps.touch.masters).toEqual(['master-1', 'master-3']);
    expect(Object.keys(doc.steps.touch.tasks)).toEqual(['master-1', 'master-3']);
    expect(r.stderr).toContain('limit: master-1, master-3 (2 of 3 masters)');
  });

  it('colon-separated and repeated --limit are one pattern', async () => {
    const out = outDir();
    const r = await cli(runArgs(TOUCH, out, '--limit', 'master-3:master-2', '--limit', '!master-3'));
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out)).toEqual(['master-2']);
  });

  it('a part that matches no master: exit 2 naming the masters, nothing run', async () => {
    const out = outDir();
    const r = await cli(runArgs(TOUCH, out, '--limit', 'master-1,mastr-2'));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`error: --limit 'master-1,mastr-2': "mastr-2" matches no master (masters: master-1 (127.0.52.1), master-2 (127.0.52.2), master-3 (127.0.52.3))`);
    expect(r.stderr).toMatch(/hint: a --limit is names, globs/);
    expect(readdirSync(out)).toEqual([]);
  });

  it('the bundled restore with a limit: refused (exit 3), nothing run', async () => {
    const args = ['run', bundledPlaybook('restore.yaml'), '-i', inventory, '-e', 'archive_local=/nonexistent.tar.gz', '-e', `archive_sha256=${'0'.repeat(64)}`, '-e', 'backup_id=x'];
    const r = await cli([...args, '--dir', join(dir, 'catalog'), '--limit', 'master-1', '--json']);
    expect(r.code, r.stderr).toBe(3);
    const doc = json<{ error: { message: string; hint: string } }>(r);
    expect(doc.error.message).toMatch(/^--limit 'master-1' leaves out master-2, master-3, but step "restore" is a leased job/);
    expect(doc.error.hint).toMatch(/nothing was changed/);
    expect(existsSync(join(dir, 'remote', 'zkops'))).toBe(false);
  });
});

describe('zkops run --list-hosts', SLOW, () => {
  it('the masters the run would touch, name and host, one per line; nothing run (exit 0)', async () => {
    const out = outDir();
    const r = await cli(runArgs(TOUCH, out, '--limit', '!master-2', '--list-hosts'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('master-1  127.0.52.1\nmaster-3  127.0.52.3\n');
    expect(r.stderr).toContain('(list only: nothing was run)');
    expect(readdirSync(out)).toEqual([]);
    const all = await cli(runArgs(TOUCH, out, '--list-hosts'));
    expect(all.stdout).toBe('master-1  127.0.52.1\nmaster-2  127.0.52.2\nmaster-3  127.0.52.3\n');
  });

  it('says which masters the lock still covers; --json has them too', async () => {
    const locking = `name: locking
requires: [out]
steps:
  - { id: lock, kind: lock }
  - { id: touch, kind: shell, needs: lock, command: "touch {{ out }}/{{ master.name }}" }
  - { id: unlock, kind: unlock, always: true, target: { step: lock } }
`;
    const r = await cli(runArgs(locking, outDir(), '--limit', 'master-2', '--list-hosts'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('master-2  127.0.52.2\n');
    expect(r.stderr).toContain('note: the cluster lock covers every master: lock, unlock also run on master-1, master-3');
    const j = await cli(runArgs(locking, outDir(), '--limit', 'master-2', '--list-hosts', '--json'));
    expect(json(j)).toMatchObject({ ok: true, limit: 'master-2', hosts: [{ name: 'master-2', host: '127.0.52.2', port: 22 }], lockedToo: ['master-1', 'master-3'] });
  });
});

describe('zkops run on a terminal (listr2)', SLOW, () => {
  it("folds a success's output away; a failure keeps its output under its error", async () => {
    const out = outDir();
    const yaml = `name: terminal
requires: [out]
steps:
  - id: fine
    kind: shell
    command: 'echo "FINE-OUTPUT on {{ master.name | raw }}"; sleep 1.5'
  - id: broken
    kind: shell
    needs: fine
    target: master-3
    command: 'echo "BROKEN-OUTPUT line"; echo "BROKEN-STDERR line" >&2; exit 4'
`;
    const r = await onTerminal(runArgs(yaml, out), 'n');
    expect(r.code, r.stdout).toBe(1);
    const raw = fromPty(r.stdout);
    const frame = lastFrame(raw);
    // a step done folds its master rows away
    expect(frame, r.stdout).toMatch(/(^|\n)✔ fine\n(?! {2})/);
    expect(frame, r.stdout).toMatch(/\n {2}✖ broken on master-3: exit 4: BROKEN-STDERR line\n {4}BROKEN-OUTPUT line\n {4}BROKEN-STDERR line\n/);
    expect(frame).not.toContain('FINE-OUTPUT');
    // while it ran, under each master's row
    if (LIVE) for (const m of MASTERS) expect(raw).toMatch(new RegExp(`  [^\n]* ${m}\n {4}› FINE-OUTPUT on ${m}\n`));
  });
});

/** What the terminal shows at the end: the last frame listr2 drew (each one starts at column 1 after erasing the one before), escapes removed. */
function lastFrame(raw: string): string {
  return raw.slice(raw.lastIndexOf('\u001b[G') + 3).replace(/\u001b\[[0-9;?]*[a-zA-Z]/g, '');
}

/** What a pty printed, with its line ends as \n. */
function fromPty(raw: string): string {
  return raw.replace(/\r\n/g, '\n');
}
