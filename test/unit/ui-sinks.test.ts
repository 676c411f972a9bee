// The renderers redact what they write themselves, whatever the engine or the caller did
// (SPEC rule 4.9): the plain lines and the journal, one event of each kind that carries text.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../src/engine/events.js';
import { plainSink } from '../../src/ui/plain.js';
import { journalSink } from '../../src/ui/journal.js';

const SECRET = 'hunter2';
const task = { step: 'login', master: 'master-1' };
const EVENTS: EngineEvent[] = [
  { type: 'task-retry', task, attempt: 2, error: `--password ${SECRET}`, delayMs: 1000 },
  { type: 'task-end', task, status: 'failed', exitCode: 1, durationMs: 5, error: `{"token": "${SECRET}"}`, outputTail: `FOO_TOKEN=${SECRET}`, at: 2 },
  { type: 'step-end', step: 'login', status: 'failed', reason: `bob:${SECRET}@db`, phase: 'main', at: 3 },
  { type: 'warning', message: `AWS_SECRET_ACCESS_KEY=${SECRET}`, at: 4 },
  { type: 'run-end', status: 'failed', exitCode: 1, error: `login --passphrase=${SECRET} failed`, at: 5 },
];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-sinks-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('renderers redact', () => {
  it('plain lines', () => {
    const lines: string[] = [];
    const sink = plainSink({ write: (l) => lines.push(l), verbose: true, quiet: false });
    for (const e of EVENTS) sink.emit(e);
    expect(lines.join('\n')).toContain('[REDACTED]');
    expect(lines.join('\n')).not.toContain(SECRET);
  });

  it('the journal, the run-end record included', () => {
    const file = join(dir, 'journal.jsonl');
    const sink = journalSink(file, 'run-1', `run x.yaml --token ${SECRET}`);
    sink.emit({ type: 'task-start', task, command: 'x', attempt: 1, at: 1 });
    for (const e of EVENTS) sink.emit(e);
    const records = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.find((r) => r.event === 'run-end')?.error).toBe('login --passphrase=[REDACTED] failed');
    expect(records.find((r) => r.step === 'login')).toMatchObject({ error: '{"token": "[REDACTED]"}', outputTail: 'FOO_TOKEN=[REDACTED]' });
    expect(readFileSync(file, 'utf8')).not.toContain(SECRET);
  });
});
