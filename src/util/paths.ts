// Local paths as an operator writes them.

import { homedir } from 'node:os';
import { join } from 'node:path';

/** `~` and `~/x` to the home directory, as a shell would; anything else as it is. */
export function expandHome(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') ? join(homedir(), p.slice(2)) : p;
}
