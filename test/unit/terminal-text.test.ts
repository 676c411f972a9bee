// Control characters from metadata, hosts and remote output reach the terminal as visible
// escapes, never raw (an ESC could move the cursor, hide a line or retitle the window).
import { describe, expect, it } from 'vitest';
import { escapeControl, forTerminal } from '../../src/ui/text.js';
import { formatTable } from '../../src/ui/table.js';
import { plainSink } from '../../src/ui/plain.js';

const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('escapeControl', () => {
  it.each([
    ['ESC of a colour', 'a\u001b[31mred', 'a\\x1b[31mred'],
    ['an OSC window title ended by BEL', '\u001b]0;pwned\u0007', '\\x1b]0;pwned\\x07'],
    ['a one-byte CSI (C1)', 'x\u009b2J', 'x\\x9b2J'],
    ['a carriage return that would overwrite the line', 'ok\rFAIL', 'ok\\rFAIL'],
    ['backspace and DEL', 'a\bb\u007f', 'a\\x08b\\x7f'],
    ['NUL', 'a\u0000b', 'a\\x00b'],
    ['a bidi override', 'abc\u202edcba', 'abc\\u202edcba'],
    ['text without controls', 'master-2: 10.0.0.12 ✔ écrit', 'master-2: 10.0.0.12 ✔ écrit'],
  ])('%s', (_name, input, expected) => {
    expect(escapeControl(input)).toBe(expected);
    expect(escapeControl(input, true)).toBe(expected);
  });

  it('keeps line breaks and tabs, unless one line is wanted', () => {
    expect(escapeControl('a\n\tb')).toBe('a\n\tb');
    expect(escapeControl('a\n\tb', true)).toBe('a\\n\\tb');
  });

  it('forTerminal redacts and escapes', () => {
    expect(forTerminal('\u001b[2Jpassword=hunter2')).toBe('\\x1b[2Jpassword=[REDACTED]');
  });
});

describe('human output escapes', () => {
  it('table cells (status, restore tables): one line each, no raw control', () => {
    const table = formatTable([{ master: 'm1\u001b[2J', host: '10.0.0.1\nfake-row', state: 'serving' }]);
    expect(table).not.toMatch(RAW);
    expect(table.split('\n')).toHaveLength(2);
    expect(table).toContain('m1\\x1b[2J');
    expect(table).toContain('10.0.0.1\\nfake-row');
  });

  it('plain lines', () => {
    const lines: string[] = [];
    const sink = plainSink({ write: (l) => lines.push(l), verbose: true, quiet: false });
    sink.emit({ type: 'run-start', runId: 'r', playbook: 'p', cluster: 'c\u001b]0;x\u0007', masters: ['m\u009b1'], at: 0 });
    sink.emit({ type: 'warning', message: 'host \u001b[8mhidden', at: 1 });
    sink.emit({ type: 'task-end', task: { step: 's', master: 'm1' }, status: 'failed', exitCode: 1, durationMs: 1, error: 'boom\u001b[1A\u001b[2K', outputTail: '', at: 2 });
    expect(lines.join('\n')).not.toMatch(RAW);
    expect(lines.join('\n')).toContain('c\\x1b]0;x\\x07');
    expect(lines.join('\n')).toContain('host \\x1b[8mhidden');
  });
});
