// Bad command-line input is a usage error (exit 2) with a message, never a TypeError: the built
// CLI, run on a playbook that needs no master (a `set` step), so no server is involved.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zkops } from '../helpers/cli.js';

let dir: string;
let args: string[];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-cli-usage-'));
  writeFileSync(join(dir, 'inv.yaml'), 'cluster: c1\nmasters:\n  - host: 127.0.0.1\n    port: 1\n');
  writeFileSync(join(dir, 'pb.yaml'), 'name: p\nsteps:\n  - id: note\n    kind: set\n    vars: { a: b }\n');
  args = ['run', join(dir, 'pb.yaml'), '-i', join(dir, 'inv.yaml'), '--dir', join(dir, 'catalog')];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = () => ({ ZKOPS_SSH_CONFIG: join(dir, 'no-ssh-config') });

describe('--concurrency', () => {
  it.each([
    ['abc', 'a word'],
    ['0', '0'],
    ['1.5', '1.5'],
    ['-2', '-2'],
  ])('--concurrency %s is exit 2 with what to give', async (value, shown) => {
    const r = await zkops([...args, `--concurrency=${value}`], { env: env() });
    expect(r.stderr).toContain(`--concurrency takes a whole number of tasks at once, at least 1, not ${shown}`);
    expect(r.stderr).not.toMatch(/TypeError/);
    expect(r.code).toBe(2);
  });

  it('a whole number runs', async () => {
    const r = await zkops([...args, '--concurrency', '3'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('-e', () => {
  it('-e cluster=… is exit 2 naming the variable', async () => {
    const r = await zkops([...args, '-e', 'cluster=other'], { env: env() });
    expect(r.stderr).toContain('-e cluster=…: "cluster" is a built-in variable of every run');
    expect(r.code).toBe(2);
  });
});
