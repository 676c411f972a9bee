// The backup service stand-in's one lock: a backup or a restore at a time. DC/OS keeps it in
// ZooKeeper for the whole cluster (inferred from release notes, a guess): the stand-ins of a
// sandbox share it through a file holding {id, until}, which expires LOCK_GRACE_MS after its
// operation would have ended, as an ephemeral znode goes with a dead session. Without a file,
// the lock is this process's own.

import { readFileSync, rmSync, writeFileSync } from 'node:fs';

/** A lock outlives its operation by this much at most (a stand-in killed while holding it). */
export const LOCK_GRACE_MS = 30_000;

export class OperationLock {
  private held: string | undefined;

  constructor(private readonly file?: string) {}

  /** The id holding the lock, or undefined (an expired lock file is no lock). */
  holder(): string | undefined {
    if (!this.file) return this.held;
    try {
      const l = JSON.parse(readFileSync(this.file, 'utf8')) as { id?: unknown; until?: unknown };
      return typeof l.id === 'string' && typeof l.until === 'number' && l.until > Date.now() ? l.id : undefined;
    } catch {
      return undefined;
    }
  }

  /** Take the lock for id for about ms; false when another operation holds it. */
  take(id: string, ms: number): boolean {
    if (!this.file) {
      if (this.held) return false;
      this.held = id;
      return true;
    }
    if (this.holder() !== undefined) return false;
    rmSync(this.file, { force: true }); // expired, or none
    try {
      writeFileSync(this.file, JSON.stringify({ id, until: Date.now() + ms + LOCK_GRACE_MS }), { flag: 'wx' });
      return true;
    } catch {
      return false; // another stand-in took it in between
    }
  }

  release(id: string): void {
    if (!this.file) {
      if (this.held === id) this.held = undefined;
    } else if (this.holder() === id) rmSync(this.file, { force: true });
  }
}
