// The files `up` writes for zkops beside state.json: inventory.yaml (the masters, the client
// key, strict host keys, the backup service behind each master's Admin Router and the service
// account that logs in to it) and known_hosts (each master's host key). The inventory is also read
// back here with the inventory's own parser, so the sandbox judges its health against the very
// inventory zkops will use.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseInventory } from '../inventory/load.js';
import type { Inventory } from '../inventory/types.js';
import { iamFiles, SERVICE_ACCOUNT_UID } from './iam.js';
import { NS } from './scripts.js';
import { ADMIN_ROUTER_PORT, ENDPOINT_PORT, sandboxHome, type SandboxState } from './state.js';

/** Healthy answers in a row that zkops waits for (exhibitor.stablePolls), and `up` too. */
const STABLE_POLLS = 3;

/** <dir>/inventory.yaml: what `up` prints for zkops -i. */
export function inventoryFile(state: Pick<SandboxState, 'dir'>): string {
  return join(state.dir, 'inventory.yaml');
}

/** The inventory of the sandbox's masters: root with the client key, strict host keys. */
export function inventoryYaml(state: SandboxState): string {
  const doc = {
    cluster: 'sandbox',
    ssh: {
      user: 'root',
      port: state.sshPort,
      identityFile: './client_key',
      knownHosts: './known_hosts',
      hostKeyPolicy: 'strict',
      connectTimeout: '5s',
      keepalive: '5s',
      become: 'none',
    },
    exhibitor: {
      statusUrl: `http://{host}:${ENDPOINT_PORT}/exhibitor/v1/cluster/status`,
      via: 'ssh',
      pollInterval: '250ms',
      stablePolls: STABLE_POLLS,
      // a practice cluster on one machine settles fast: 1s keeps the tests' health waits as short as 3 polls at 500ms were
      stableFor: '1s',
      timeout: '3m',
    },
    dcos: {
      exhibitorUnit: NS.unit,
      dcosShell: '/opt/mesosphere/bin/dcos-shell',
      zkDir: NS.zkDir,
      remoteTmpDir: '/var/tmp',
      // the backup service (DCOS-BACKUP-API.md) as Admin Router serves it on each master; the
      // CA and the key are absolute paths: <dir>/iam, written by `up`
      api: {
        url: `https://{host}:${ADMIN_ROUTER_PORT}`,
        via: 'ssh',
        caFile: iamFiles(state.dir).ca,
        pollInterval: '500ms',
        auth: { uid: SERVICE_ACCOUNT_UID, serviceAccountKey: iamFiles(state.dir).serviceAccountKey },
      },
    },
    masters: state.masters.map((m) => ({ host: m.address, name: m.name })),
  };
  return `# Inventory of the zkops sandbox in ${state.dir} (written by zkops sandbox up).\n${stringify(doc)}`;
}

/** The sandbox's inventory as zkops reads it (no ~/.ssh/config: the masters are loopback addresses). */
export function sandboxInventory(state: SandboxState): Inventory {
  return parseInventory(inventoryFile(state), inventoryYaml(state));
}

/** known_hosts lines of every master's host key, as zkops's strict policy wants them. */
export function knownHosts(state: SandboxState): string {
  return state.masters
    .map((m) => {
      const pub = readFileSync(join(sandboxHome(m), 'ssh', 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(' ');
      const host = state.sshPort === 22 ? m.address : `[${m.address}]:${state.sshPort}`;
      return `${host} ${pub[0]} ${pub[1]}`;
    })
    .join('\n')
    .concat('\n');
}
