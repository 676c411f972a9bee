// The operator's yes/no answer to a `confirm` step: --yes, a question on the terminal, or
// "no-tty" (the step then refuses, exit 3).

import { createInterface } from 'node:readline/promises';
import { Interrupted } from '../errors.js';
import { forTerminal } from './text.js';

/** The confirmation prompt (node's own readline: a yes/no question needs no package). */
export function makeConfirm(yes: boolean): (q: string) => Promise<'yes' | 'no' | 'no-tty'> {
  return async (question) => {
    if (yes) return 'yes';
    if (!process.stdin.isTTY || !process.stderr.isTTY) return 'no-tty';
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      const answer = await rl.question(`${forTerminal(question)} [y/N] `);
      return /^y(es)?$/i.test(answer.trim()) ? 'yes' : 'no';
    } catch (err) {
      // Ctrl-C or Ctrl-D at the question: readline rejects with an AbortError; an interrupt, exit 130
      if ((err as Error).name === 'AbortError') throw new Interrupted('interrupted at the question; nothing was changed');
      throw err;
    } finally {
      rl.close();
    }
  };
}
