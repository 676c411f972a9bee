// The sandbox's health as zkops judges it: the masters' status endpoints asked with zkops's own
// Exhibitor fetch (straight from this machine rather than through SSH: the masters are loopback
// addresses here), the answer read with zkops's own rule (every master serving, one leader)
// against the sandbox's inventory, and `up`'s wait for enough healthy answers in a row.

import { StatusFetcher, type SessionProvider } from '../exhibitor/fetch.js';
import { hostsOf } from '../exhibitor/health.js';
import { judgeHealth, StabilityCounter, type HealthVerdict } from '../exhibitor/status.js';
import type { Inventory } from '../inventory/types.js';
import { sandboxInventory } from './inventory-file.js';
import { logFile, type SandboxState } from './state.js';
import { tail, waitFor } from './wait.js';

/** How long one endpoint may take to answer before the next master is asked. */
const FETCH_TIMEOUT_MS = 2000;

/** `via: direct` opens no SSH session; asking for one is a bug. */
const NO_SESSIONS: SessionProvider = {
  session: () => Promise.reject(new Error('the sandbox asks its status endpoints directly, never through SSH')),
};

/** The sandbox's inventory, its endpoints asked from this machine. */
function directInventory(state: SandboxState): Inventory {
  const inv = sandboxInventory(state);
  return { ...inv, exhibitor: { ...inv.exhibitor, via: 'direct' } };
}

/** The first answer in master order (a fresh fetcher starts at master-1), judged; undefined when none answers. */
async function healthOf(inventory: Inventory): Promise<HealthVerdict | undefined> {
  try {
    const { entries } = await new StatusFetcher(inventory, NO_SESSIONS, FETCH_TIMEOUT_MS).fetch();
    return judgeHealth(entries, hostsOf(inventory));
  } catch {
    return undefined;
  }
}

/** The sandbox's health as zkops judges it, asked of any master's endpoint that answers. */
export async function sandboxHealth(state: SandboxState): Promise<HealthVerdict | undefined> {
  return healthOf(directInventory(state));
}

/** Wait until every member serves and exactly one leads, stablePolls (3) answers in a row. */
export async function waitHealthy(state: SandboxState, timeoutMs: number): Promise<void> {
  const inventory = directInventory(state);
  // `up` waits for the polls alone (stableFor is for zkops's waits)
  const stability = new StabilityCounter(inventory.exhibitor.stablePolls);
  await waitFor(
    'a healthy sandbox (all serving, one leader)',
    timeoutMs,
    async () => {
      const stable = stability.record((await healthOf(inventory))?.healthy === true);
      if (!stable) await new Promise((r) => setTimeout(r, 200));
      return stable;
    },
    () => state.masters.map((m) => `${m.name}: ${tail(logFile(m, 'zookeeper.log'), 300)}`).join('\n'),
  );
}
