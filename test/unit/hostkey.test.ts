// Host key decisions per policy (SPEC rule 4.8), against keys made by the real ssh-keygen: a
// changed or revoked key is refused whatever ssh.hostKeyPolicy says; `off` accepts only an
// unknown key, with a warning that the journal keeps; the refusal's hints quote what they print.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDisplay } from '../../src/cli/options.js';
import type { TransportError } from '../../src/errors.js';
import { prepareHostKeyCheck } from '../../src/transport/hostkey.js';
import type { HostKeyPolicy } from '../../src/transport/types.js';

let dir: string;
let n = 0;
const keys: Record<'offered' | 'other', { b64: string; blob: Buffer }> = {} as never;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-hostkey-'));
  for (const name of ['offered', 'other'] as const) {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', join(dir, name)]);
    const b64 = readFileSync(join(dir, `${name}.pub`), 'utf8').split(' ')[1] ?? '';
    keys[name] = { b64, blob: Buffer.from(b64, 'base64') };
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EP = { label: 'master-1', master: 'master-1', host: '10.0.0.1', port: 22, user: 'centos' };

/** What the verifier decides when the master offers `offered`, with these known_hosts lines. */
async function decide(policy: HostKeyPolicy, lines: string[], ep = EP, file = join(dir, `known_hosts.${++n}`)) {
  writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
  const warnings: string[] = [];
  const check = await prepareHostKeyCheck(ep, file, policy, (w) => warnings.push(w));
  const ok = await new Promise<boolean>((resolve) => check.verifier(keys.offered.blob, resolve));
  return { ok, warnings, refusal: check.refusal() as TransportError | undefined, file };
}

const known = () => [`10.0.0.1 ssh-ed25519 ${keys.offered.b64}`];
const changed = () => [`10.0.0.1 ssh-ed25519 ${keys.other.b64}`];
const revoked = () => [`@revoked * ssh-ed25519 ${keys.offered.b64}`, ...known()];

describe('host key policy', () => {
  it.each(['strict', 'accept-new', 'off'] as const)('%s: a known key connects without a warning', async (policy) => {
    expect(await decide(policy, known())).toMatchObject({ ok: true, warnings: [] });
  });

  it.each(['strict', 'accept-new', 'off'] as const)('%s: a changed key is refused', async (policy) => {
    const d = await decide(policy, changed());
    expect(d.ok).toBe(false);
    expect(d.warnings).toEqual([]);
    expect(d.refusal?.kind).toBe('hostkey-changed');
    expect(d.refusal?.message).toMatch(/has CHANGED.*refusing to connect, whatever ssh.hostKeyPolicy says/);
    expect(readFileSync(d.file, 'utf8')).toBe(`${changed()[0]}\n`);
  });

  it.each(['strict', 'accept-new', 'off'] as const)('%s: a revoked key is refused, even when also listed as known', async (policy) => {
    const d = await decide(policy, revoked());
    expect(d.ok).toBe(false);
    expect(d.refusal?.kind).toBe('hostkey-changed');
    expect(d.refusal?.message).toMatch(/is REVOKED .*:1\); refusing to connect/);
  });

  it('off: an unknown key is accepted with a warning naming the master and the fingerprint', async () => {
    const d = await decide('off', []);
    expect(d.ok).toBe(true);
    expect(d.warnings).toHaveLength(1);
    expect(d.warnings[0]).toMatch(/^hostKeyPolicy is off: accepted the unknown host key of master-1 \(10\.0\.0\.1:22\) \(ssh-ed25519 SHA256:\S+\) without checking it/);
    expect(readFileSync(d.file, 'utf8')).toBe('');
  });

  it('strict: the ssh-keyscan and ssh-keygen hints quote the host and the file for the shell', async () => {
    const file = join(dir, 'known hosts $(id)');
    const odd = { ...EP, host: 'm1;touch${IFS}x', port: 2222 };
    const unknown = await decide('strict', [], odd, file);
    expect(unknown.refusal?.kind).toBe('hostkey-unknown');
    expect(unknown.refusal?.message).toContain(`\`ssh-keyscan -p 2222 -t ed25519 'm1;touch\${IFS}x' >> '${file}'\``);
    const change = await decide('strict', [`[m1;touch\${IFS}x]:2222 ssh-ed25519 ${keys.other.b64}`], odd, file);
    expect(change.refusal?.hint).toContain(`ssh-keygen -R '[m1;touch\${IFS}x]:2222' -f '${file}'`);
  });
});

describe('warnings reach the journal', () => {
  it('a warning event of the run is a journal record', () => {
    const file = join(dir, 'journal.jsonl');
    const display = makeDisplay({ json: false, verbose: false, quiet: true, color: false, concurrency: 1 }, [], { file, runId: 'r1', command: 'run x' });
    display.emit({ type: 'warning', message: 'hostKeyPolicy is off: accepted the unknown host key of master-1', at: Date.parse('2026-01-01T00:00:00Z') });
    const records = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toContainEqual({ run: 'r1', command: 'run x', event: 'warning', at: '2026-01-01T00:00:00.000Z', message: 'hostKeyPolicy is off: accepted the unknown host key of master-1' });
  });
});
