// Text for a human's terminal. Metadata, hosts, remote output and error messages come from
// files and machines zkops does not control: they can carry secrets, and an escape sequence
// in a label or a host could rewrite the screen, hide a line or set the window title. Every
// human line goes out through forTerminal; --json needs none of it (JSON escapes controls).

import { redact } from '../engine/events.js';

// C0 controls, DEL, C1 controls (0x9b is a one-byte CSI) and the Unicode bidi controls that
// reorder what the reader sees. Line breaks and tabs are kept unless the text is one line.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const CONTROL_OR_BREAK = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(c: string): string {
  const code = c.charCodeAt(0);
  return NAMED[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
}

/** Control characters as visible escapes (ESC becomes `\x1b`); `oneLine` escapes line breaks and tabs too. */
export function escapeControl(text: string, oneLine = false): string {
  return text.replace(oneLine ? CONTROL_OR_BREAK : CONTROL, escapeOne);
}

/** A line for the terminal: secrets hidden, control characters escaped. */
export function forTerminal(text: string, oneLine = false): string {
  return escapeControl(redact(text), oneLine);
}
