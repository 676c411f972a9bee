// The sandbox's sizes as written: --heap (a bare number is MB, as --zk-heap-mb took) and
// seed --size (a bare number is bytes, at most jute.maxbuffer's 1 MiB less 1 KiB).

import { describe, expect, it } from 'vitest';
import { heapMb, MAX_ZNODE_BYTES, parseSize, znodeBytes } from '../../src/sandbox/sizes.js';
import { heapNeeded } from '../../src/sandbox/seed.js';

describe('parseSize', () => {
  it.each([
    ['1024', 1, 1024],
    ['4k', 1, 4096],
    ['4K', 1, 4096],
    ['4kb', 1, 4096],
    ['1.5m', 1, 1_572_864],
    ['512MB', 1, 536_870_912],
    ['1g', 1, 1_073_741_824],
    ['1GiB', 1, 1_073_741_824],
    ['96', 1024 * 1024, 100_663_296],
    [96, 1024 * 1024, 100_663_296],
    ['', 1, undefined],
    ['4x', 1, undefined],
    ['-1k', 1, undefined],
    ['1 t', 1, undefined],
  ])('%j (bare unit %d) is %j bytes', (text, unit, bytes) => {
    expect(parseSize(text, unit)).toBe(bytes);
  });
});

describe('heapMb', () => {
  it.each([
    ['512m', 512],
    ['1g', 1024],
    ['96', 96],
    [200, 200],
  ])('%j is -Xmx%dm', (text, mb) => {
    expect(heapMb(text)).toBe(mb);
  });
  it.each([
    ['lots', 'write a size like 512m or 1g'],
    ['16m', 'at least 32m'],
    ['4096g', "more than this machine's memory"],
  ])('%j is refused: %s', (text, message) => {
    expect(() => heapMb(text)).toThrow(message);
  });
});

describe('znodeBytes', () => {
  it('takes 0 to 1 MiB less 1 KiB', () => {
    expect(znodeBytes('0')).toBe(0);
    expect(znodeBytes('1k')).toBe(1024);
    expect(znodeBytes(String(MAX_ZNODE_BYTES))).toBe(1_047_552);
    expect(() => znodeBytes('1m')).toThrow('a znode holds at most 1047552 bytes');
    expect(() => znodeBytes('many')).toThrow('write a number of bytes');
  });
  it('refusals are usage errors (exit 2)', () => {
    expect(() => znodeBytes('2m')).toThrow(expect.objectContaining({ exitCode: 2 }));
  });
});

describe('heapNeeded', () => {
  it('counts the data, 300 bytes per znode, and 3 copies of the last 500 proposals', () => {
    expect(heapNeeded(1000, 1000)).toBe(1000 * 1300 + 3 * 500 * 1000);
    expect(heapNeeded(10, 1_000_000)).toBe(10 * 1_000_300 + 3 * 10 * 1_000_000);
  });
});
