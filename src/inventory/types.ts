// The loaded, validated and normalised inventory (SPEC section 3). Everything downstream
// reads this shape; nothing downstream reads YAML.

import type { MasterConn } from '../transport/types.js';

export interface ExhibitorSettings {
  /** May contain {host}, replaced by a master's host. */
  statusUrl: string;
  via: 'ssh' | 'direct';
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  pollIntervalMs: number;
  stablePolls: number;
  timeoutMs: number;
}

export interface DcosSettings {
  exhibitorUnit: string;
  dcosShell: string;
  zkDir: string;
  remoteTmpDir: string;
  /** How long a master waits for zkops's word in a leased job (a restore) before it rolls back by itself. */
  leaseMs: number;
}

/** A master: its connection settings plus where it sits in the inventory file. */
export interface Master extends MasterConn {
  /** 0-based position in `masters:`. */
  index: number;
  /** The host as written in the inventory (before ~/.ssh/config HostName). */
  inventoryHost: string;
}

export interface Inventory {
  /** Absolute path of the inventory file. */
  file: string;
  cluster: string;
  masters: Master[];
  exhibitor: ExhibitorSettings;
  dcos: DcosSettings;
}
