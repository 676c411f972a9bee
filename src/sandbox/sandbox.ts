// The practice cluster of SPEC section 6: N masters on loopback addresses of this machine, each
// a mount namespace (an `unshare -m` anchor process holding binds of the master's own
// /opt/mesosphere, /var/lib/dcos, /root, /tmp, /var/tmp and /usr/local/sbin), a real OpenSSH
// sshd and, behind the master's `systemctl`, a real ZooKeeper member and an
// Exhibitor-compatible status endpoint. zkops talks to it exactly as to a production cluster.
// With `init: 'systemd'` each master instead boots a real systemd as pid 1 of its own pid,
// mount, UTS and cgroup namespaces, which runs sshd and dcos-exhibitor as real units (see
// systemd.ts); everything else is shared. Beside each master, on the host, a stand-in of the
// DC/OS backup service (https on <address>:8443, storing in the master's /var/lib/dcos/backup).
//
// This module is the sandbox's front: what the CLI, the demo, the tests and the benches import.
// The work is done in the modules beside it:
//   state.ts          state.json, addresses, where a master's files are on the host
//   processes.ts      /proc, detached starts, stopping by pid;  wait.ts  polling, open ports, log tails
//   master.ts         is a master's namespace / systemd / sshd still there; run a command in it
//   prerequisites.ts  root and the Debian packages
//   layout.ts         a master's files;  namespace.ts  its mount namespace;  sshd.ts  its sshd
//   systemd.ts        a master with systemd as init (cgroups, boot)
//   inventory-file.ts inventory.yaml and known_hosts for zkops
//   health.ts         health as zkops judges it (exhibitor/'s fetch, rule and streak)
//   up.ts, down.ts, status.ts, faults.ts, seed.ts   the commands (faults-log.ts: tear-log and flip-log)
//   znodes.ts         the tree of znodes (seed, digest, wipe) through node-zookeeper-client
//   sizes.ts          --heap and --size as written (512m, 4k), jute.maxbuffer's limit
//   backup-service.ts, backup-service-main.ts   the backup service's stand-in (the documented API) and its daemon
//   backup-lock.ts    its one lock, shared by the stand-ins of a sandbox
//   iam.ts            the sandbox CA, per-master certificates, the accounts and the token secret;  iam-tokens.ts  the JWTs
//
// Host layout under <dir>:
//   state.json                 pids and addresses (what `down` stops, by pid)
//   inventory.yaml, known_hosts, client_key[.pub]
//   iam/                       dcos-ca.crt, accounts.json, jwt-secret, zkops-backup.pem (the service account's key)
//   master-<i>/opt             → /opt/mesosphere (bin/dcos-shell, bin/dcos-zk, etc/, zkops-sandbox/)
//   master-<i>/dcos            → /var/lib/dcos (exhibitor/zookeeper/{snapshot,transactions}, backup/)
//   master-<i>/{root,tmp,vartmp,sbin} → /root, /tmp, /var/tmp, /usr/local/sbin (systemctl)

export { down, type DownResult } from './down.js';
export { fault, FAULT_KINDS, type FaultKind } from './faults.js';
export { sandboxHealth, waitHealthy } from './health.js';
export { inMaster, isRunning, memoryOf, requireRunning, sandboxPids } from './master.js';
export { ensurePrerequisites } from './prerequisites.js';
export { seedSandbox, type SeedResult } from './seed.js';
export { alive, processesIn } from './processes.js';
export { startSshd } from './sshd.js';
export { DEFAULT_BASE_IP, DEFAULT_DIR, MASTER_COUNTS, masterAddresses, readState, stateFile, zkHosts, type SandboxInit, type SandboxMaster, type SandboxState } from './state.js';
export { status, type MasterStatus } from './status.js';
export { up, type UpOptions, type UpResult } from './up.js';
