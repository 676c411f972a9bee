// Text for a human's terminal. Error messages, remote output and registered values can carry
// secrets: every human line goes out through here.

import { redact } from '../engine/events.js';

/** A line for the terminal: secrets hidden. */
export function forTerminal(text: string): string {
  return redact(text);
}
