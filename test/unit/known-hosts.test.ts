// known_hosts parsing and lookup against files and fingerprints made by the real ssh-keygen.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appendKnownHost,
  checkHostKey,
  entryMatches,
  fingerprintSha256,
  knownHostName,
  parseKnownHosts,
  preferredHostKeyAlgorithms,
  readKnownHosts,
} from '../../src/transport/known-hosts.js';

let dir: string;
const keys: Record<'a' | 'b' | 'rsa', { line: string; blob: Buffer; file: string }> = {} as never;

function makeKey(name: string, type: 'ed25519' | 'rsa'): { line: string; blob: Buffer; file: string } {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', '', '-f', file]);
  const line = readFileSync(`${file}.pub`, 'utf8').trim();
  const b64 = line.split(' ')[1] ?? '';
  return { line: line.split(' ').slice(0, 2).join(' '), blob: Buffer.from(b64, 'base64'), file };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'zkops-kh-'));
  keys.a = makeKey('a', 'ed25519');
  keys.b = makeKey('b', 'ed25519');
  keys.rsa = makeKey('rsa', 'rsa');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('knownHostName', () => {
  it.each([
    ['10.0.0.1', 22, '10.0.0.1'],
    ['10.0.0.1', 2222, '[10.0.0.1]:2222'],
    ['master-3', 2200, '[master-3]:2200'],
  ])('%s port %d is %s', (host, port, name) => expect(knownHostName(host, port)).toBe(name));
});

describe('entryMatches (plain patterns)', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1', 22, true],
    ['10.0.0.1', '10.0.0.1', 2222, false],
    ['[10.0.0.1]:2222', '10.0.0.1', 2222, true],
    ['[10.0.0.1]:2222', '10.0.0.1', 22, false],
    ['m1,10.0.0.1,m3', '10.0.0.1', 22, true],
    ['m1,m3', '10.0.0.1', 22, false],
    ['10.0.0.*', '10.0.0.7', 22, true],
    ['10.0.0.*,!10.0.0.7', '10.0.0.7', 22, false],
    ['Master-1', 'master-1', 22, true],
    ['10.0.0.1', '10.0.0.10', 22, false],
  ])('%s vs %s:%d → %s', (hosts, host, port, expected) => {
    expect(entryMatches({ hosts }, host, port)).toBe(expected);
  });
});

describe('hashed entries made by ssh-keygen -H', () => {
  it.each([
    ['10.0.0.1', 22],
    ['10.0.0.1', 2222],
    ['master-2.example.com', 22],
  ])('finds %s:%d and nothing else', (host, port) => {
    const file = join(dir, `hashed-${host}-${port}`);
    writeFileSync(file, `${knownHostName(host, port)} ${keys.a.line}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const entries = parseKnownHosts(readFileSync(file, 'utf8'));
    expect(entries).toHaveLength(1);
    expect(entries[0]?.hosts.startsWith('|1|')).toBe(true);
    expect(checkHostKey(entries, host, port, keys.a.blob).status).toBe('known');
    expect(checkHostKey(entries, host, port + 1, keys.a.blob).status).toBe('unknown');
    expect(checkHostKey(entries, `x${host}`, port, keys.a.blob).status).toBe('unknown');
    expect(checkHostKey(entries, host, port, keys.b.blob).status).toBe('changed');
  });
});

describe('checkHostKey', () => {
  const table: [name: string, file: () => string, host: string, port: number, key: () => Buffer, status: string][] = [
    ['same key', () => `10.0.0.1 ${keys.a.line}`, '10.0.0.1', 22, () => keys.a.blob, 'known'],
    ['other host only', () => `10.0.0.2 ${keys.a.line}`, '10.0.0.1', 22, () => keys.a.blob, 'unknown'],
    ['empty file', () => '', '10.0.0.1', 22, () => keys.a.blob, 'unknown'],
    ['same type, other key', () => `10.0.0.1 ${keys.a.line}`, '10.0.0.1', 22, () => keys.b.blob, 'changed'],
    ['port form', () => `[10.0.0.1]:2222 ${keys.a.line}`, '10.0.0.1', 2222, () => keys.a.blob, 'known'],
    ['port form, changed', () => `[10.0.0.1]:2222 ${keys.a.line}`, '10.0.0.1', 2222, () => keys.b.blob, 'changed'],
    ['comma list', () => `m1,10.0.0.1 ${keys.a.line}`, '10.0.0.1', 22, () => keys.a.blob, 'known'],
    ['only another key type known', () => `10.0.0.1 ${keys.rsa.line}`, '10.0.0.1', 22, () => keys.a.blob, 'unknown'],
    ['second line matches', () => `10.0.0.1 ${keys.rsa.line}\n10.0.0.1 ${keys.a.line}`, '10.0.0.1', 22, () => keys.a.blob, 'known'],
    ['revoked key', () => `@revoked * ${keys.a.line}\n10.0.0.1 ${keys.a.line}`, '10.0.0.1', 22, () => keys.a.blob, 'revoked'],
    ['revoked other key', () => `@revoked * ${keys.b.line}\n10.0.0.1 ${keys.a.line}`, '10.0.0.1', 22, () => keys.a.blob, 'known'],
    ['cert-authority ignored', () => `@cert-authority 10.0.0.1 ${keys.a.line}`, '10.0.0.1', 22, () => keys.a.blob, 'unknown'],
    ['comments and garbage', () => `# c\n\n  \ngarbage\n10.0.0.1 ${keys.a.line} comment here`, '10.0.0.1', 22, () => keys.a.blob, 'known'],
  ];
  it.each(table)('%s', (_name, file, host, port, key, status) => {
    expect(checkHostKey(parseKnownHosts(file()), host, port, key()).status).toBe(status);
  });

  it('reports the line of a changed key and the types known', () => {
    const entries = parseKnownHosts(`# c\n10.0.0.1 ${keys.rsa.line}\n10.0.0.1 ${keys.a.line}\n`);
    expect(checkHostKey(entries, '10.0.0.1', 22, keys.b.blob)).toEqual({ status: 'changed', line: 3, keyType: 'ssh-ed25519' });
    expect(checkHostKey(parseKnownHosts(`10.0.0.1 ${keys.rsa.line}`), '10.0.0.1', 22, keys.a.blob)).toEqual({ status: 'unknown', otherTypes: ['ssh-rsa'] });
  });
});

describe('fingerprintSha256', () => {
  it.each(['a', 'b', 'rsa'] as const)('equals ssh-keygen -lf for key %s', (k) => {
    const out = execFileSync('ssh-keygen', ['-lf', `${keys[k].file}.pub`], { encoding: 'utf8' });
    expect(fingerprintSha256(keys[k].blob)).toBe(out.split(' ')[1]);
  });
});

describe('preferredHostKeyAlgorithms', () => {
  it('puts the known types first', () => {
    const entries = parseKnownHosts(`10.0.0.1 ${keys.rsa.line}`);
    expect(preferredHostKeyAlgorithms(entries, '10.0.0.1', 22).slice(0, 3)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(preferredHostKeyAlgorithms(entries, '10.0.0.2', 22)[0]).toBe('ssh-ed25519');
  });
});

describe('appendKnownHost', () => {
  it.each([
    ['missing file', undefined, false],
    ['file without trailing newline', 'PLAIN', false],
    ['hashed file', 'HASH', true],
  ])('%s', async (name, initial, hashed) => {
    const file = join(dir, 'sub', name.replace(/ /g, '-'), 'known_hosts');
    if (initial !== undefined) {
      execFileSync('mkdir', ['-p', join(file, '..')]);
      writeFileSync(file, `10.9.9.9 ${keys.b.line}${initial === 'HASH' ? '\n' : ''}`);
      if (initial === 'HASH') execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    }
    await appendKnownHost(file, '127.0.0.1', 2222, keys.a.blob);
    const entries = await readKnownHosts(file);
    expect(checkHostKey(entries, '127.0.0.1', 2222, keys.a.blob).status).toBe('known');
    expect(entries.at(-1)?.hosts.startsWith('|1|')).toBe(hashed);
    if (initial !== undefined) expect(checkHostKey(entries, '10.9.9.9', 22, keys.b.blob).status).toBe('known');
    // ssh-keygen -F finds what we wrote, so OpenSSH reads it too.
    const found = execFileSync('ssh-keygen', ['-F', '[127.0.0.1]:2222', '-f', file], { encoding: 'utf8' });
    expect(found).toContain('ssh-ed25519');
  });
});
