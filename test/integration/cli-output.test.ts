// What leaves zkops, checked on the built CLI with no server at all: secrets redacted in
// every output (stderr, --json, the journal, the listr display) and in every form (SPEC
// rule 4.9); control characters escaped in human text, --json still valid JSON; a catalog
// with a corrupt entry; a catalog others can write, and links planted in it. Playbooks here
// have local steps only; the inventory's master is never dialled.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, onTerminal, zkops, type CliResult } from '../helpers/cli.js';
import { newBackupId } from '../../src/catalog/labels.js';

const SECRET = 'hunter2';

let dir: string;
let inventory: string;
let env: NodeJS.ProcessEnv;
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-cli-output-'));
  env = { ZKOPS_SSH_CONFIG: join(dir, 'no-ssh-config') };
  inventory = join(dir, 'inventory.yaml');
  writeFileSync(inventory, 'cluster: c1\nssh:\n  port: 1\nmasters:\n  - host: 127.0.0.1\n    name: m1\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]): Promise<CliResult> {
  return zkops(args, { cwd: dir, env });
}

/** A fresh catalog directory (the journal goes there). */
function catalogDir(): string {
  return join(dir, `catalog-${++n}`);
}

function journalOf(catalog: string): string {
  return readFileSync(join(catalog, 'journal.jsonl'), 'utf8');
}

// Each form of secret, in a registered value and in the message of the failure.
const LEAKY = `
name: leaky
requires: [pw]
steps:
  - id: keep
    kind: set
    target: local
    register: creds
    vars:
      db_password: "{{ pw }}"
      json: '{"password": "{{ pw }}"}'
      flags: "login --password {{ pw }} --token={{ pw }}"
      url: "https://bob:{{ pw }}@db.example.com/x"
      env: "AWS_SECRET_ACCESS_KEY={{ pw }} FOO_TOKEN={{ pw }}"
  - id: boom
    kind: fail
    target: local
    needs: keep
    message: >-
      cannot log in: {"secret": "{{ pw }}"} --passphrase {{ pw }} bob:{{ pw }}@db MY_SECRET_X={{ pw }}
`;

function leakyRun(catalog: string, ...more: string[]): string[] {
  const file = join(dir, `leaky-${++n}.yaml`);
  writeFileSync(file, LEAKY);
  return ['run', file, '-i', inventory, '-e', `pw=${SECRET}`, '--dir', catalog, ...more];
}

describe('redaction in every output', () => {
  it('--json: message, reason and registered values; stderr; the journal, run-end included', async () => {
    const catalog = catalogDir();
    const r = await cli(leakyRun(catalog, '--json'));
    expect(r.code, r.stderr).toBe(1);
    const doc = json<{ error: { message: string }; steps: Record<string, { reason?: string }>; registered: Record<string, Record<string, string>> }>(r);
    expect(doc.error.message).toContain('bob:[REDACTED]@db');
    expect(doc.error.message).toContain('MY_SECRET_X=[REDACTED]');
    expect(doc.error.message).toContain('--passphrase [REDACTED]');
    expect(doc.error.message).toContain('{"secret": "[REDACTED]"}');
    expect(doc.steps.boom?.reason).toContain('[REDACTED]');
    expect(doc.registered.creds).toEqual({
      db_password: '[REDACTED]',
      json: '{"password": "[REDACTED]"}',
      flags: 'login --password [REDACTED] --token=[REDACTED]',
      url: 'https://bob:[REDACTED]@db.example.com/x',
      env: 'AWS_SECRET_ACCESS_KEY=[REDACTED] FOO_TOKEN=[REDACTED]',
    });
    expect(r.stdout).not.toContain(SECRET);
    expect(r.stderr).toContain('error: boom: cannot log in');
    expect(r.stderr).not.toContain(SECRET);
    const journal = journalOf(catalog);
    const end = journal.trim().split('\n').map((l) => JSON.parse(l) as { event?: string; error?: string }).find((rec) => rec.event === 'run-end');
    expect(end?.error).toContain('bob:[REDACTED]@db');
    expect(journal).not.toContain(SECRET);
  });

  it('plain lines on stderr (no TTY)', async () => {
    const r = await cli(leakyRun(catalogDir(), '--verbose'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/✖ local: boom: cannot log in/);
    expect(r.stderr).not.toContain(SECRET);
  });

  it('the listr display on a terminal', async () => {
    const r = await onTerminal(leakyRun(catalogDir()), 'n');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('cannot log in');
    expect(r.stdout).not.toContain(SECRET);
    // a step that ran before listr drew its row is not shown as "not run"
    expect(r.stdout).not.toContain('keep: not run');
  });

  it('an error message printed by main (stderr and --json)', async () => {
    const target = `https://bob:${SECRET}@host/x.tar.gz`;
    const human = await cli(['verify', target, '--dir', catalogDir()]);
    expect(human.code).toBe(2);
    expect(human.stderr).toContain('https://bob:[REDACTED]@host/x.tar.gz');
    expect(human.stderr).not.toContain(SECRET);
    const machine = await cli(['verify', target, '--dir', catalogDir(), '--json']);
    expect(json<{ error: { message: string } }>(machine).error.message).toContain('bob:[REDACTED]@host');
    expect(machine.stdout + machine.stderr).not.toContain(SECRET);
  });

  it('a human line of a command (say)', async () => {
    const r = await cli(['list', '--dir', join(dir, `password=${SECRET}`)]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('password=[REDACTED]');
    expect(r.stderr).not.toContain(SECRET);
  });
});

const ESC = '\u001b';
// A raw control character (line breaks and tabs aside).
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** A catalog with one READY backup and one malformed metadata file (with an archive). */
function catalogWithCorrupt(text = '{}', over: Record<string, unknown> = {}): { catalog: string; ok: string; bad: string } {
  const catalog = catalogDir();
  mkdirSync(catalog, { mode: 0o700 });
  const ok = newBackupId('fine');
  const bad = newBackupId('broken');
  const meta = {
    id: ok, label: 'fine', cluster: 'c1', status: 'STATUS_READY', error: null, remoteArchive: null, sourceMaster: 'm1',
    created: '2026-01-01T00:00:00Z', finished: '2026-01-01T00:01:00Z', size: 10, sha256: 'a'.repeat(64), zxidRange: null,
    files: [], leaderZxid: null, masterZxid: null, zookeeperVersion: '3.8.4', dcosVersion: null, stopWindowMs: 900,
    zkopsVersion: '0.1.0', runId: null, ...over,
  };
  writeFileSync(join(catalog, `${ok}.json`), JSON.stringify(meta));
  writeFileSync(join(catalog, `${bad}.json`), text);
  writeFileSync(join(catalog, `${bad}.tar.gz`), 'x');
  return { catalog, ok, bad };
}

describe('a corrupt metadata file in the catalog', () => {
  it('list lists the others, and the entry as CORRUPT with the reason', async () => {
    const { catalog, ok, bad } = catalogWithCorrupt();
    const r = await cli(['list', '--dir', catalog]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${ok}\\s+READY`));
    expect(r.stdout).toMatch(new RegExp(`${bad}\\s+CORRUPT`));
    expect(r.stderr).toMatch(new RegExp(`warning: ${bad} is CORRUPT: missing id, label, cluster`));
    const doc = json<{ id: string; status: string; reason?: string }[]>(await cli(['list', '--dir', catalog, '--json']));
    expect(doc.map((e) => [e.id, e.status])).toEqual([[ok, 'STATUS_READY'], [bad, 'CORRUPT']]);
    expect(doc[1]?.reason).toMatch(/^missing id, label, cluster/);
  });

  it('show prints the CORRUPT entry with the reason and exits 1', async () => {
    const { catalog, bad } = catalogWithCorrupt();
    const r = await cli(['show', bad, '--dir', catalog]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/status\s+CORRUPT/);
    expect(r.stdout).toMatch(/reason\s+missing id, label, cluster/);
    expect(r.stderr).toContain(`error: backup ${bad} is CORRUPT: missing id`);
    expect(r.stderr).toContain(`zkops delete ${bad}`);
    expect(r.stderr).not.toMatch(/TypeError|at .*\.js/);
    const j = await cli(['show', bad, '--dir', catalog, '--json']);
    expect(j.code).toBe(1);
    expect(json<{ status: string; reason: string }>(j)).toMatchObject({ status: 'CORRUPT', reason: expect.stringMatching(/^missing id/) });
  });

  it("delete removes a corrupt entry's files (truncated JSON)", async () => {
    const { catalog, ok, bad } = catalogWithCorrupt('{"id": "trunc');
    const r = await cli(['delete', bad, '--dir', catalog]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(catalog, `${bad}.json`))).toBe(false);
    expect(existsSync(join(catalog, `${bad}.tar.gz`))).toBe(false);
    expect(existsSync(join(catalog, `${ok}.json`))).toBe(true);
  });
});

describe('control characters reach the terminal escaped', () => {
  const hostile = { cluster: `${ESC}]0;pwned\u0007prod`, sourceMaster: `${ESC}[31mm1`, error: `${ESC}[2J${ESC}[Hall good\rfake`, zookeeperVersion: '3.8\u009b2J' };

  it('list and show of metadata with escapes; --json stays valid and exact', async () => {
    const { catalog, ok } = catalogWithCorrupt('{}', hostile);
    const list = await cli(['list', '--dir', catalog]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).not.toMatch(RAW);
    expect(list.stdout).toContain('\\x1b[31mm1');
    const show = await cli(['show', ok, '--dir', catalog]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).not.toMatch(RAW);
    expect(show.stdout).toMatch(/cluster\s+\\x1b]0;pwned\\x07prod/);
    expect(show.stdout).toMatch(/error\s+\\x1b\[2J\\x1b\[Hall good\\rfake/);
    expect(show.stdout).toContain('3.8\\x9b2J');
    const doc = json<Record<string, unknown>>(await cli(['show', ok, '--dir', catalog, '--json']));
    expect(doc).toMatchObject(hostile);
  });

  it('an error message printed by main', async () => {
    const r = await cli(['verify', `${ESC}[2J${ESC}]0;x\u0007nothing`, '--dir', catalogDir()]);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(RAW);
    expect(r.stderr).toContain('\\x1b[2J\\x1b]0;x\\x07nothing');
  });

  it('plain lines and the listr display of a run', async () => {
    const file = join(dir, `escapes-${++n}.yaml`);
    writeFileSync(file, 'name: escapes\nsteps:\n  - id: boom\n    kind: fail\n    target: local\n    message: "\\e]0;pwned\\a\\e[2Jgone"\n');
    const plain = await cli(['run', file, '-i', inventory, '--dir', catalogDir()]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).not.toMatch(RAW);
    expect(plain.stderr).toContain('\\x1b]0;pwned\\x07\\x1b[2Jgone');
    const tty = await onTerminal(['run', file, '-i', inventory, '--dir', catalogDir()], 'n');
    expect(tty.code).toBe(1);
    expect(tty.stdout).toContain('\\x1b]0;pwned\\x07');
    expect(tty.stdout).not.toContain(`${ESC}]0;pwned`);
  });
});

describe('a catalog directory others can write', () => {
  it('is named in one warning per run (list; run, which also writes the journal)', async () => {
    const catalog = catalogDir();
    mkdirSync(catalog);
    chmodSync(catalog, 0o777);
    const warning = /warning: the catalog directory .* is world-writable \(mode 0777\)/g;
    const list = await cli(['list', '--dir', catalog]);
    expect(list.code).toBe(0);
    expect(list.stderr.match(warning)).toHaveLength(1);
    const run = await cli(leakyRun(catalog));
    expect(run.code).toBe(1);
    expect(run.stderr.match(warning)).toHaveLength(1);
  });

  it('a journal.jsonl planted as a link is refused before the run (exit 3), the target untouched', async () => {
    const catalog = catalogDir();
    mkdirSync(catalog, { mode: 0o700 });
    const victim = join(dir, `victim-${++n}`);
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, join(catalog, 'journal.jsonl'));
    const r = await cli(leakyRun(catalog));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/refusing .*journal\.jsonl: it is a symbolic link .*zkops does not follow links/);
    expect(r.stderr).not.toContain('boom');
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  });

  it('an <id>.json planted as a link: show refuses to follow it (CORRUPT, exit 1)', async () => {
    const { catalog, ok } = catalogWithCorrupt();
    const victim = join(dir, `victim-${++n}`);
    writeFileSync(victim, readFileSync(join(catalog, `${ok}.json`)));
    rmSync(join(catalog, `${ok}.json`));
    symlinkSync(victim, join(catalog, `${ok}.json`));
    const r = await cli(['show', ok, '--dir', catalog]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/status\s+CORRUPT/);
    expect(r.stderr).toMatch(/is a symbolic link .*zkops does not follow links/);
  });
});
