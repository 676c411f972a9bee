// What a `shell` step prints, from the engine's task-output events to the plain lines: whole
// lines out of any chunking (OutputLines: UTF-8 cut mid-character, carriage-return rewrites,
// a private key dropped whole, secrets hidden, a runaway line cut), then under each master's
// result line its last lines, all of them with --verbose, a failure's always (even --quiet).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { OUTPUT_LINE_CHARS, OutputLines, type EngineEvent, type OutputStream } from '../../src/engine/events.js';
import { outputBlock, plainSink, SHOWN_LINES } from '../../src/ui/plain.js';
import { ofType, runEngine } from '../helpers/memory-transport.js';

// The engine streams a shell step's output only once its shell executor hands the transport
// onStdout/onStderr (src/engine/steps/shell.ts, task.ts: the engine part of this change).
const LIVE = readFileSync(fileURLToPath(new URL('../../src/engine/steps/shell.ts', import.meta.url)), 'utf8').includes('onStdout');

/** The lines OutputLines emits for these writes (then a flush), per stream. */
function cut(writes: [OutputStream, Buffer | string][]): { stream: OutputStream; lines: string[] }[] {
  const out: { stream: OutputStream; lines: string[] }[] = [];
  const o = new OutputLines((stream, lines) => out.push({ stream, lines }));
  for (const [stream, chunk] of writes) o.write(stream, chunk);
  o.flush();
  o.write('stdout', 'after the end\n');
  return out;
}
const all = (r: { lines: string[] }[]) => r.flatMap((x) => x.lines);

describe('OutputLines', () => {
  it('emits whole lines whatever the chunks, a UTF-8 character cut in two included', () => {
    const bytes = Buffer.from('zxid é ok\nsecond');
    const r = cut([
      ['stdout', bytes.subarray(0, 6)],
      ['stdout', bytes.subarray(6, 11)],
      ['stdout', bytes.subarray(11)],
    ]);
    expect(r).toEqual([
      { stream: 'stdout', lines: ['zxid é ok'] },
      { stream: 'stdout', lines: ['second'] },
    ]);
  });

  it('keeps stdout and stderr apart, and nothing after flush', () => {
    expect(cut([['stdout', 'out 1\n'], ['stderr', 'err 1\nerr'], ['stdout', 'out 2\n'], ['stderr', ' 2']])).toEqual([
      { stream: 'stdout', lines: ['out 1'] },
      { stream: 'stderr', lines: ['err 1'] },
      { stream: 'stdout', lines: ['out 2'] },
      { stream: 'stderr', lines: ['err 2'] },
    ]);
  });

  it('shows what a terminal would of a carriage-return rewrite, and drops CRLF', () => {
    expect(all(cut([['stdout', ' 10%\r 50%\r100%\r\ndone\r\n']]))).toEqual(['100%', 'done']);
  });

  it('hides secrets line by line, and a private key from BEGIN to END', () => {
    const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nQUJDREVGR0g=\n-----END OPENSSH PRIVATE KEY-----\n';
    const lines = all(cut([['stdout', `before\nDB_PASSWORD=hunter2\n${key.slice(0, 50)}`], ['stdout', `${key.slice(50)}after\n`]]));
    expect(lines).toEqual(['before', 'DB_PASSWORD=[REDACTED]', '[REDACTED PRIVATE KEY]', 'after']);
  });

  it('cuts a runaway line once, and goes on with the next', () => {
    const long = 'x'.repeat(OUTPUT_LINE_CHARS + 10);
    const lines = all(cut([['stdout', long.slice(0, 1500)], ['stdout', long.slice(1500)], ['stdout', 'y'.repeat(5000)], ['stdout', '\nnext\n']]));
    expect(lines).toEqual([`${'x'.repeat(OUTPUT_LINE_CHARS)} … (line cut at ${OUTPUT_LINE_CHARS} characters)`, 'next']);
  });
});

const task = { step: 'who', master: 'master-1' };
const start = (kind: 'shell' | 'get' = 'shell'): EngineEvent => ({ type: 'step-start', step: 'who', name: 'who', kind, masters: ['master-1'], phase: 'main', at: 0 });
const output = (lines: string[], stream: OutputStream = 'stdout'): EngineEvent => ({ type: 'task-output', task, stream, lines, at: 1 });
const end = (status: 'ok' | 'failed', outputTail = ''): EngineEvent => ({
  type: 'task-end',
  task,
  status,
  exitCode: status === 'ok' ? 0 : 3,
  durationMs: 1200,
  error: status === 'ok' ? undefined : 'who on master-1: exit 3: no luck',
  outputTail,
  at: 2,
});
const numbered = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`);

/** The plain lines for these events (each write split into its lines). */
function plain(events: EngineEvent[], o: { verbose?: boolean; quiet?: boolean } = {}): string[] {
  const lines: string[] = [];
  const sink = plainSink({ write: (l) => lines.push(...l.split('\n')), verbose: o.verbose === true, quiet: o.quiet === true });
  for (const e of events) sink.emit(e);
  return lines;
}

describe('plain lines: a shell task prints under its result line', () => {
  it('stdout and stderr in the order they came', () => {
    expect(plain([start(), output(['I am master-1']), output(['warned'], 'stderr'), output(['bye']), end('ok')])).toEqual([
      '▶ who: who [master-1]',
      '  ✔ master-1 (1.2s)',
      '      I am master-1',
      '      warned',
      '      bye',
    ]);
  });

  it(`after success its last ${SHOWN_LINES.ok} lines, after "… N earlier lines"; --verbose all of them`, () => {
    const events = [start(), output(numbered(15)), output(numbered(20).slice(15)), end('ok')];
    expect(plain(events).slice(1)).toEqual(['  ✔ master-1 (1.2s)', '      … 10 earlier lines (--verbose shows all)', ...numbered(20).slice(10).map((l) => `      ${l}`)]);
    const verbose = plain(events, { verbose: true });
    expect(verbose.filter((l) => l.startsWith('      line'))).toEqual(numbered(20).map((l) => `      ${l}`));
    expect(verbose.join('\n')).not.toContain('earlier');
  });

  it(`after a failure its last ${SHOWN_LINES.failed} lines, even with --quiet`, () => {
    const lines = plain([start(), output(numbered(25)), end('failed')], { quiet: true });
    expect(lines).toEqual(['  ✖ master-1: who on master-1: exit 3: no luck', '      … 5 earlier lines (--verbose shows all)', ...numbered(25).slice(5).map((l) => `      ${l}`)]);
  });

  it('with --quiet a success prints nothing', () => {
    expect(plain([start(), output(['hello']), end('ok')], { quiet: true })).toEqual([]);
  });

  it("without task-output events, the task-end's tail", () => {
    expect(plain([start(), end('ok', 'from the tail\nsecond')]).slice(1)).toEqual(['  ✔ master-1 (1.2s)', '      from the tail', '      second']);
  });

  it('a retry shows only what its own attempt printed', () => {
    const retry: EngineEvent = { type: 'task-start', task, command: undefined, attempt: 2, at: 1 };
    const lines = plain([start(), output(['first attempt']), retry, output(['second attempt']), end('ok')]);
    expect(lines).toContain('      second attempt');
    expect(lines).not.toContain('      first attempt');
  });

  it('other kinds keep their one line (their tail only with --verbose)', () => {
    expect(plain([start('get'), end('ok', 'sha256 ok')])).toEqual(['▶ who: who [master-1]', '  ✔ master-1 (1.2s)']);
    expect(plain([start('get'), end('ok', 'sha256 ok')], { verbose: true })).toContain('      sha256 ok');
  });

  it('escapes control characters and hides secrets in what the master printed', () => {
    const text = plain([start(), output(['\u001b[2Jclear', 'token: hunter2']), end('ok')]).join('\n');
    expect(text).toContain('\\x1b[2Jclear');
    expect(text).toContain('token: [REDACTED]');
    expect(text).not.toContain('hunter2');
  });
});

describe('outputBlock', () => {
  it('counts what an earlier cut left out', () => {
    expect(outputBlock({ lines: ['c', 'd', 'e'], earlier: 2 }, 2, '> ')).toEqual(['> … 3 earlier lines (--verbose shows all)', '> d', '> e']);
    expect(outputBlock({ lines: ['a'], earlier: 1 }, 5, '')).toEqual(['… 1 earlier line (--verbose shows all)', 'a']);
    expect(outputBlock({ lines: [], earlier: 0 }, 5, '')).toEqual([]);
  });
});

describe.skipIf(!LIVE)('the engine streams what a shell step prints', () => {
  it('whole lines per stream as task-output events, all before its task-end; none from other kinds', async () => {
    const { result, events } = await runEngine(
      `name: talk
steps:
  - { id: talk, kind: shell, target: master-1, command: talk }
  - { id: lock, kind: lock, target: master-1, needs: talk }
`,
      {
        exec: [
          ['talk', { stdout: 'one\ntwo\nno newline', stderr: 'careful: password=hunter2\n' }],
          ['mkdir', { stdout: 'locked\n' }],
        ],
      },
    );
    expect(result.ok, result.error).toBe(true);
    const out = ofType(events, 'task-output');
    expect(out.map((e) => [e.task.step, e.task.master, e.stream, e.lines])).toEqual([
      ['talk', 'master-1', 'stdout', ['one', 'two']],
      ['talk', 'master-1', 'stderr', ['careful: password=[REDACTED]']],
      ['talk', 'master-1', 'stdout', ['no newline']],
    ]);
    const endOfTalk = events.findIndex((e) => e.type === 'task-end' && e.task.step === 'talk');
    expect(events.lastIndexOf(out.at(-1) as EngineEvent)).toBeLessThan(endOfTalk);
  });
});
