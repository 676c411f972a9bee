// zkops' own version, from package.json (recorded in backup metadata).

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: the nearest directory above this file with zkops' package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'zkops') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the zkops package root');
    dir = up;
  }
}

export const ZKOPS_VERSION: string = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;

/** A playbook shipped with zkops. */
export function bundledPlaybook(name: string): string {
  return join(packageRoot(), 'playbooks', name);
}
