// The loaded, validated and normalised inventory (SPEC section 3). Everything downstream
// reads this shape; nothing downstream reads YAML.

export type HostKeyPolicy = 'strict' | 'accept-new' | 'off';

/** A hop to reach a master through (ProxyJump). */
export interface JumpHost {
  host: string;
  port: number;
  user: string;
  /** The keys its own ~/.ssh/config block gives (IdentityFile), in order; undefined: the master's. */
  identityFiles?: string[];
  /** IdentitiesOnly of its own block: offer those keys, never ssh-agent's. */
  identitiesOnly?: boolean;
  /** UserKnownHostsFile of its own block; undefined: the master's knownHosts. */
  knownHosts?: string;
}

/** Fully resolved connection settings for one master (inventory + ~/.ssh/config merged). */
export interface MasterConn {
  /** Display name used in every message ("master-2", or the host). */
  name: string;
  /** Address or hostname to connect to (after ~/.ssh/config HostName). */
  host: string;
  port: number;
  user: string;
  /** Private key file; undefined: ssh-agent (SSH_AUTH_SOCK), then ~/.ssh/id_ed25519, id_rsa. */
  identityFile?: string;
  /** Every key ~/.ssh/config gives (IdentityFile lines, identityFile is the first), offered after ssh-agent unless identitiesOnly. */
  identityFiles?: string[];
  /** ~/.ssh/config IdentitiesOnly: ssh-agent's keys are not offered. */
  identitiesOnly?: boolean;
  /** Env var holding the key passphrase (default ZKOPS_SSH_PASSPHRASE). */
  passphraseEnv?: string;
  knownHosts: string;
  hostKeyPolicy: HostKeyPolicy;
  /** The jump host connected to first (ProxyJump's first hop, or a jump host's own ProxyJump). */
  jump?: JumpHost;
  /** Every jump host, first to connect to first, when there is more than one (jumps[0] is jump). */
  jumps?: JumpHost[];
  connectTimeoutMs: number;
  keepaliveMs: number;
  /** 'sudo': privileged commands run under `sudo -n`; 'none': as the login user. */
  become: 'sudo' | 'none';
}

export interface ExhibitorSettings {
  /** May contain {host}, replaced by a master's host. */
  statusUrl: string;
  via: 'ssh' | 'direct';
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  pollIntervalMs: number;
  /** Healthy polls in a row before the cluster counts as healthy... */
  stablePolls: number;
  /** ...and for how long, from the first of them (stableFor). */
  stableForMs: number;
  timeoutMs: number;
}

export interface DcosSettings {
  exhibitorUnit: string;
  dcosShell: string;
  zkDir: string;
  remoteTmpDir: string;
  /** How long a master waits for zkops's word in a leased job (a restore) before it rolls back by itself. */
  leaseMs: number;
  /** The DC/OS Enterprise backup service (`dcos.api:`): Marathon's state, `zkops service-backup`. */
  api: ServiceApiSettings;
}

/**
 * Where a token for the backup service comes from, tried in this order (as the DC/OS CLI):
 * the environment variable `tokenEnv`, the dcos CLI's own config of the cluster, a login.
 */
export interface ServiceAuthSettings {
  /** Default DCOS_ACS_TOKEN. */
  tokenEnv: string;
  /** Read the dcos CLI's config (~/.dcos, or $DCOS_DIR): false to never; a name picks that cluster; true: the one whose dcos_url is a master's, else the attached one. */
  dcosCli: boolean | string;
  /** The login's uid (with a password, or with serviceAccountKey: the signed login). */
  uid?: string;
  /** The password's environment variable; without it, a prompt on the terminal. */
  passwordEnv?: string;
  /** A service account's private key (PEM): the signed login, no password. */
  serviceAccountKey?: string;
}

export interface ServiceApiSettings {
  /** Admin Router's base URL, a template with {host} (masters[].apiUrl overrides it per master). */
  url: string;
  via: 'ssh' | 'direct';
  caFile?: string;
  /** The master whose service takes the backups (they live on its disk); default the first. */
  master?: string;
  pollIntervalMs: number;
  /** How long a create or restore may stay in progress. */
  timeoutMs: number;
  auth: ServiceAuthSettings;
}

/** A master: its connection settings plus where it sits in the inventory file. */
export interface Master extends MasterConn {
  /** 0-based position in `masters:`. */
  index: number;
  /** The host as written in the inventory (before ~/.ssh/config HostName). */
  inventoryHost: string;
  /** This master's Admin Router for the backup service (`masters[].apiUrl`), over the `dcos.api.url` template. */
  apiUrl?: string;
}

/**
 * How many backups `zkops prune` keeps (restic's `forget` rules): the newest N, and the newest of
 * each of the last N hours, days, ISO weeks and months (local time). A count of 0 is a rule that
 * keeps nothing by itself.
 */
export interface RetentionPolicy {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
}

export interface Inventory {
  /** Absolute path of the inventory file. */
  file: string;
  cluster: string;
  masters: Master[];
  exhibitor: ExhibitorSettings;
  dcos: DcosSettings;
  /** The `retention:` policy (`zkops prune -i`, `zkops backup --prune`); undefined when the inventory has none. */
  retention?: RetentionPolicy;
}
