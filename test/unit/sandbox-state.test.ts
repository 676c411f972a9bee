// state.json when several zkops processes change it at once (`sandbox fault M sshd-start` on
// every master together, as the restore-lease tests do): each records its own master's pid
// without dropping the others' (`down` stops by those pids), and no writer renames another's
// temp file. Real processes of the built module, as the CLI runs.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const STATE_JS = fileURLToPath(new URL('../../dist/src/sandbox/state.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'zkops-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('state.json written by several processes at once', () => {
  it("six processes, each saving its own master 30 times from a state read at its start: every master's last pid is there", async () => {
    const masters = [1, 2, 3, 4, 5, 6].map((index) => ({ index, name: `master-${index}`, address: `127.0.99.${index}`, home: join(dir, `master-${index}`), anchorPid: 0, sshdPid: 0 }));
    writeFileSync(join(dir, 'state.json'), `${JSON.stringify({ dir, sshPort: 22, zkHeapMb: 64, masters }, null, 2)}\n`);
    const script = `
      const { readState, saveMaster } = await import(${JSON.stringify(STATE_JS)});
      const index = Number(process.argv[1]);
      const stale = readState(${JSON.stringify(dir)});
      const m = stale.masters.find((x) => x.index === index);
      for (let i = 1; i <= 30; i++) { m.sshdPid = index * 1000 + i; saveMaster(stale.dir, m); }`;
    const codes = await Promise.all(
      masters.map((m) => new Promise<number | null>((resolve) => spawn(process.execPath, ['--input-type=module', '-e', script, String(m.index)], { stdio: 'inherit' }).on('exit', resolve))),
    );
    expect(codes).toEqual([0, 0, 0, 0, 0, 0]);
    const final = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { masters: { index: number; sshdPid: number }[] };
    expect(final.masters.map((m) => m.sshdPid)).toEqual(masters.map((m) => m.index * 1000 + 30));
    expect(readdirSync(dir).filter((f) => f !== 'state.json')).toEqual([]);
  });
});
