// Exhibitor's cluster status (SPEC section 1) and what "healthy" means. Pure.

/** One entry of GET /exhibitor/v1/cluster/status. */
export interface StatusEntry {
  code: number;
  description: string;
  hostname: string;
  isLeader: boolean;
}

export const STATE_NAMES: Record<number, string> = {
  0: 'latent',
  1: 'down',
  2: 'not serving',
  3: 'serving',
  4: 'down (unlisted)',
  5: 'down (restarts off)',
};

/** Parse and check the JSON body; throws with a clear message on anything else. */
export function parseStatus(body: string): StatusEntry[] {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    throw new Error(`Exhibitor status is not JSON: ${body.slice(0, 80)}`);
  }
  if (!Array.isArray(data)) throw new Error('Exhibitor status is not a list');
  return data.map((e, i) => {
    const o = e as Partial<StatusEntry>;
    if (typeof o?.hostname !== 'string' || typeof o.code !== 'number') {
      throw new Error(`Exhibitor status entry ${i} lacks hostname or code`);
    }
    return { code: o.code, description: String(o.description ?? STATE_NAMES[o.code] ?? ''), hostname: o.hostname, isLeader: o.isLeader === true };
  });
}

/** A master's row in a status table. */
export interface MasterHealth {
  master: string;
  host: string;
  state: string;
  code: number | null;
  leader: boolean;
}

export interface HealthVerdict {
  healthy: boolean;
  serving: number;
  leaders: number;
  expected: number;
  rows: MasterHealth[];
  /** Why not healthy, for messages. */
  reason: string;
}

/**
 * Healthy: every inventory master serves and exactly one leads (DC/OS's own rule, counted
 * against the inventory rather than the answer, which can omit a master).
 */
export function judgeHealth(entries: readonly StatusEntry[], masters: readonly { name: string; hosts: readonly string[] }[]): HealthVerdict {
  const rows: MasterHealth[] = masters.map((m) => {
    const e = entries.find((x) => m.hosts.includes(x.hostname));
    return e
      ? { master: m.name, host: e.hostname, state: STATE_NAMES[e.code] ?? e.description, code: e.code, leader: e.isLeader }
      : { master: m.name, host: m.hosts[0] ?? '', state: 'not listed', code: null, leader: false };
  });
  const serving = rows.filter((r) => r.code === 3).length;
  const leaders = rows.filter((r) => r.leader).length;
  const expected = masters.length;
  let reason = '';
  if (serving !== expected) {
    const bad = rows.filter((r) => r.code !== 3).map((r) => `${r.master} ${r.state}`);
    reason = `${serving}/${expected} serving (${bad.join(', ')})`;
  } else if (leaders !== 1) {
    reason = leaders === 0 ? 'no leader' : `${leaders} leaders`;
  }
  return { healthy: reason === '', serving, leaders, expected, rows, reason };
}

/**
 * Counts healthy polls in a row; stable once the streak has `needed` polls (stablePolls) AND
 * has lasted `forMs` (stableFor) from its first healthy poll. Polling often (pollInterval
 * 250 ms) notices health early; the duration keeps "stable" meaning the same whatever the
 * interval.
 */
export class StabilityCounter {
  private streak = 0;
  private since: number | undefined;
  constructor(
    private readonly needed: number,
    private readonly forMs = 0,
  ) {}
  /** Record one poll at `at` (ms); true once the streak is long enough in polls and in time. */
  record(healthy: boolean, at = Date.now()): boolean {
    this.streak = healthy ? this.streak + 1 : 0;
    this.since = healthy ? (this.since ?? at) : undefined;
    return this.streak >= this.needed && this.since !== undefined && at - this.since >= this.forMs;
  }
  get count(): number {
    return this.streak;
  }
  /** How long the current healthy streak has lasted at `at`. */
  lasted(at = Date.now()): number {
    return this.since === undefined ? 0 : at - this.since;
  }
}

/** The zxid from a ZooKeeper `srvr` reply ("Zxid: 0x100000002"), as a bigint. */
export function parseSrvr(text: string): { mode: string | undefined; zxid: bigint | undefined; version: string | undefined } {
  const mode = /^Mode:\s*(\S+)/m.exec(text)?.[1];
  const zx = /^Zxid:\s*(0x[0-9a-fA-F]+)/m.exec(text)?.[1];
  const version = /^Zookeeper version:\s*([0-9]+\.[0-9]+\.[0-9]+)/m.exec(text)?.[1];
  return { mode, zxid: zx === undefined ? undefined : BigInt(zx), version };
}
