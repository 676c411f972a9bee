// One SSH connection per master for the whole run; commands are channels on it. A dropped
// connection is reopened on the next use, so a job can be followed to its end.

import type { MasterConn } from '../inventory/types.js';
import type { Session, Transport } from './types.js';

export class SessionPool {
  private readonly open = new Map<string, Promise<Session>>();

  constructor(
    private readonly transport: Transport,
    private readonly onWarning: (message: string) => void = () => {},
  ) {}

  /** The master's session, connecting on first use or after a drop. */
  async session(master: MasterConn): Promise<Session> {
    const existing = this.open.get(master.name);
    if (existing) {
      const s = await existing.catch(() => undefined);
      if (s?.connected) return s;
      this.open.delete(master.name);
    }
    const pending = this.transport.connect(master, { onWarning: this.onWarning });
    this.open.set(master.name, pending);
    pending.catch(() => this.open.delete(master.name));
    return pending;
  }

  /** Forget a session after a drop so the next call reconnects. */
  drop(master: MasterConn): void {
    this.open.delete(master.name);
  }

  async closeAll(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map((p) => p.then((s) => s.close()).catch(() => undefined)));
  }
}
