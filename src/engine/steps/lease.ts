// The bastion's side of a leased job step (SPEC rule 4.11): one LeaseGroup per step run,
// shared by the step's tasks (one per master). It renews every launched job's lease while
// zkops is alive, collects each master's "ready" or "failed", and decides once for all:
// `go` when every master is ready and was just reached with a fresh lease, `rollback` as soon
// as one is not (or on an interrupt). The decision is one small write sent to every master
// at once; a master that does not get it before its lease ends takes rollback by itself.

import { TransportError } from '../../errors.js';
import { formatDuration } from '../../util/duration.js';
import type { Session } from '../../transport/types.js';
import { DECIDED_RC, decideCommand, leaseCommand } from '../../playbook/job-script.js';

export type Decision = 'go' | 'rollback';

export interface LeaseDeps {
  leaseMs: number;
  become: boolean;
  session(master: string): Promise<Session>;
  /** Forget a master's session after a transport error, so the next use reconnects. */
  drop(master: string): void;
  warn(message: string): void;
  now(): number;
}

interface Member {
  dir?: string;
  /** Bastion time of the last lease write the master confirmed (or of the launch). */
  renewedAt?: number;
  renewing?: boolean;
  report?: 'ready' | 'failed';
  /** The word that holds on the master, once delivered. */
  accepted?: Decision;
  warned?: boolean;
  ended?: boolean;
}

export class LeaseGroup {
  private readonly members = new Map<string, Member>();
  private timer: NodeJS.Timeout | undefined;
  private committing = false;
  private settled: { decision: Decision; why: string } | undefined;
  private readonly waiters: ((d: { decision: Decision; why: string }) => void)[] = [];

  constructor(
    masters: readonly string[],
    private readonly d: LeaseDeps,
  ) {
    for (const m of masters) this.members.set(m, {});
  }

  get leaseMs(): number {
    return this.d.leaseMs;
  }

  /** How often leases are renewed: a quarter of the lease, so three renewals may fail in a row. */
  get renewMs(): number {
    return Math.min(30_000, Math.max(250, Math.floor(this.d.leaseMs / 4)));
  }

  get decision(): { decision: Decision; why: string } | undefined {
    return this.settled;
  }

  /** The decision, once taken. */
  decided(): Promise<{ decision: Decision; why: string }> {
    if (this.settled) return Promise.resolve(this.settled);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** A master's job was launched with a fresh lease: renew it from now on (or tell it the decision). */
  launched(master: string, dir: string): void {
    const m = this.member(master);
    m.dir = dir;
    m.renewedAt = this.d.now();
    if (this.settled) void this.deliver(master, this.settled.decision);
    this.timer ??= setInterval(() => this.renewAll(), this.renewMs);
  }

  /** A master's job is over (whatever its end): no more renewals; if it never said ready, every master rolls back. */
  ended(master: string, why: string): void {
    const m = this.member(master);
    m.ended = true;
    this.report(master, 'failed', why);
  }

  /** A master's main command ended: ready for the go-ahead, or failed (then every master rolls back). */
  report(master: string, outcome: 'ready' | 'failed', why = ''): void {
    const m = this.member(master);
    if (outcome === 'failed') {
      // also after "ready": a master whose lease ran out meanwhile has rolled back
      m.report = 'failed';
      return this.decide('rollback', why || `the job did not get ready on ${master}`);
    }
    if (m.report) return;
    m.report = outcome;
    if ([...this.members.values()].every((x) => x.report === 'ready')) void this.commit();
  }

  /** A master the step does not run on after all (its `when` was false): nobody waits for it. */
  exclude(master: string): void {
    if (this.members.get(master)?.dir) return;
    this.members.delete(master);
    const all = [...this.members.values()];
    if (all.length > 0 && all.every((x) => x.report === 'ready')) void this.commit();
  }

  /** zkops is stopping (interrupt): roll back every master that has not had the go-ahead. */
  abort(why: string): void {
    this.decide('rollback', why);
  }

  /** What each master accepted (undefined where the word did not arrive). */
  accepted(master: string): Decision | undefined {
    return this.members.get(master)?.accepted;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private member(name: string): Member {
    let m = this.members.get(name);
    if (!m) {
      m = {};
      this.members.set(name, m);
    }
    return m;
  }

  /**
   * Every master is ready. Go ahead only when every lease was confirmed within half a lease, or
   * else when one more renewal round reaches all of them, so each has a lease left when the word
   * arrives; a master that stays out of reach until its lease ends has rolled back by itself,
   * and then every master rolls back.
   */
  private async commit(): Promise<void> {
    if (this.committing || this.settled) return;
    this.committing = true;
    // every lease confirmed within half a lease: none can have run out, each has half a lease
    // left at least when the word arrives; no round trip before the go-ahead
    const fresh = (m: Member) => m.renewedAt !== undefined && this.d.now() - m.renewedAt < this.d.leaseMs / 2;
    if ([...this.members.values()].every(fresh)) return this.decide('go', `every master (${this.members.size}) ready`);
    while (!this.settled) {
      const reached = await Promise.all([...this.members.keys()].map((name) => this.renew(name)));
      if (this.settled) return;
      if (reached.every(Boolean)) return this.decide('go', `every master (${this.members.size}) ready`);
      const lost = [...this.members.entries()].find(([, m]) => m.renewedAt !== undefined && this.d.now() > m.renewedAt + this.d.leaseMs);
      if (lost) return this.decide('rollback', `${lost[0]} was out of reach for longer than the lease (${formatDuration(this.d.leaseMs)}) before the go-ahead`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  private decide(decision: Decision, why: string): void {
    if (this.settled) return;
    this.settled = { decision, why };
    for (const w of this.waiters.splice(0)) w(this.settled);
    for (const [name, m] of this.members) if (m.dir && !m.ended) void this.deliver(name, decision);
  }

  /** Send the word to one master until it answers or its lease has surely ended. */
  private async deliver(master: string, decision: Decision): Promise<void> {
    const m = this.member(master);
    const dir = m.dir as string;
    while (m.accepted === undefined) {
      try {
        const s = await this.d.session(master);
        const res = await s.exec(decideCommand(dir, decision), { become: this.d.become, timeoutMs: 15_000 });
        const word = res.stdout.trim();
        if (word === 'go' || word === 'rollback') {
          m.accepted = word;
          if (word !== decision) this.d.warn(`${master} had already taken ${word} (its lease ran out) when zkops said ${decision}`);
          return;
        }
        throw new Error(`could not write the decision in ${dir}: ${res.stderr.trim() || `exit ${res.exitCode}`}`);
      } catch (err) {
        if (err instanceof TransportError) this.d.drop(master);
        if (m.renewedAt !== undefined && this.d.now() > m.renewedAt + this.d.leaseMs + 5_000) {
          this.d.warn(`could not tell ${master} "${decision}" (${(err as Error).message}); its lease has ended, so it rolled back by itself`);
          return;
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private renewAll(): void {
    for (const [name, m] of this.members) if (m.dir && m.accepted === undefined && !m.ended) void this.renew(name);
  }

  /** Move one master's lease forward; true when the master confirmed it. */
  private async renew(master: string): Promise<boolean> {
    const m = this.member(master);
    if (!m.dir || m.renewing) return false;
    m.renewing = true;
    try {
      const s = await this.d.session(master);
      const res = await s.exec(leaseCommand(m.dir, this.d.leaseMs / 1000), { become: this.d.become, timeoutMs: Math.max(2_000, this.renewMs) });
      if (res.exitCode === DECIDED_RC) {
        // its lease ran out before zkops reached it again: it rolls back, so every master must
        const [word, by] = res.stdout.trim().split('\n');
        const why = by === 'self' ? 'its main command failed' : by === 'lease' ? 'its lease ran out before zkops reached it again' : `decided by ${by ?? 'zkops'}`;
        if (word !== 'go') this.report(master, 'failed', `${master} had taken rollback (${why})`);
        return false;
      }
      if (res.exitCode !== 0) throw new Error(res.stderr.trim() || `exit ${res.exitCode}`);
      m.renewedAt = this.d.now();
      if (m.warned) this.d.warn(`renewing the lease on ${master} again`);
      m.warned = false;
      return true;
    } catch (err) {
      if (err instanceof TransportError) this.d.drop(master);
      if (!m.warned && !this.settled) {
        const ends = new Date((m.renewedAt ?? this.d.now()) + this.d.leaseMs).toISOString().slice(11, 19);
        this.d.warn(`cannot renew the lease on ${master}: ${(err as Error).message}; unless zkops reaches it again, it rolls back by itself at ${ends}Z`);
        m.warned = true;
      }
      return false;
    } finally {
      m.renewing = false;
    }
  }
}
