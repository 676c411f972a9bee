// The direction of imports under src/ (src/README.md): a module imports from its own folder or
// from a layer below it, never from one above, and never sideways into another folder of its
// own layer. Read from the source text, so a new import that climbs fails here.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

/** Folder (or top-level file) → layer; higher layers may import lower ones. */
export const LAYERS: Record<string, number> = {
  'errors.ts': 0,
  'version.ts': 0,
  util: 0,
  'zk-files': 1,
  inventory: 1,
  transport: 2,
  playbook: 3,
  exhibitor: 3,
  catalog: 3,
  engine: 4,
  procedures: 5,
  sandbox: 5,
  ui: 6,
  cli: 7,
  demo: 7,
};

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* sources(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

const unitOf = (file: string) => relative(SRC, file).split('/')[0] as string;

/** Every relative import of every module: [importer unit, imported unit, file, specifier]. */
function imports(): { from: string; to: string; file: string; spec: string }[] {
  const out: { from: string; to: string; file: string; spec: string }[] = [];
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const spec = m[1] as string;
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      out.push({ from: unitOf(file), to: unitOf(target), file: relative(SRC, file), spec });
    }
  }
  return out;
}

describe('layers under src/', () => {
  const all = imports();

  it('knows every folder of src/', () => {
    const units = new Set(readdirSync(SRC));
    expect([...units].filter((u) => !(u in LAYERS) && u !== 'README.md')).toEqual([]);
  });

  it('has no import that climbs to a higher layer or crosses into another folder of the same layer', () => {
    const bad = all
      .filter((i) => i.from !== i.to)
      .filter((i) => (LAYERS[i.to] ?? 99) > (LAYERS[i.from] ?? -1) || (LAYERS[i.to] === LAYERS[i.from] && LAYERS[i.from] !== 0))
      .map((i) => `${i.file} imports ${i.spec} (${i.from}, layer ${LAYERS[i.from]} → ${i.to}, layer ${LAYERS[i.to]})`);
    expect(bad).toEqual([]);
  });

  it('keeps ssh2 inside transport/ and yargs inside cli/', () => {
    const bad: string[] = [];
    for (const file of sources(SRC)) {
      const text = readFileSync(file, 'utf8');
      const unit = unitOf(file);
      if (/from 'ssh2'/.test(text) && unit !== 'transport') bad.push(`${relative(SRC, file)} imports ssh2`);
      if (/from 'yargs/.test(text) && unit !== 'cli') bad.push(`${relative(SRC, file)} imports yargs`);
    }
    expect(bad).toEqual([]);
  });
});
