// The programs a sandbox master runs, as the master sees them inside its mount namespace:
// `systemctl` (the dcos-exhibitor unit: a ZooKeeper member plus the status endpoint),
// `dcos-shell`, `dcos-zk backup|restore` (SPEC section 1, refusals and exit codes included)
// and the ZooKeeper launcher. All paths here are the master's own view (/opt/mesosphere,
// /var/lib/dcos, ...), never the host's, so they hold whatever the sandbox dir is.

export const NS = {
  /** The sandbox's own files on a master: config, scripts, pids, logs, faults. */
  home: '/opt/mesosphere/zkops-sandbox',
  run: '/opt/mesosphere/zkops-sandbox/run',
  log: '/opt/mesosphere/zkops-sandbox/log',
  zkDir: '/var/lib/dcos/exhibitor/zookeeper',
  unit: 'dcos-exhibitor',
} as const;

/** Fault markers: a file in run/ that the next matching operation consumes. */
export const FAULT_FILES = {
  dcosZkFail: 'fault.dcos-zk-fail',
  dcosZkSlow: 'fault.dcos-zk-slow',
  slowStart: 'fault.slow-start',
  zkLinger: 'fault.zk-linger',
} as const;

export interface MasterEnv {
  index: number;
  name: string;
  address: string;
  peers: readonly string[];
  java: string;
  node: string;
  zkClasspath: string;
  zkHeapMb: number;
}

/** Sourced by every script: who this master is. */
export function envFile(m: MasterEnv): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    `INDEX=${m.index}`,
    `NAME=${q(m.name)}`,
    `ADDR=${q(m.address)}`,
    `PEERS=${q(m.peers.join(' '))}`,
    `JAVA=${q(m.java)}`,
    `NODE=${q(m.node)}`,
    `ZK_CP=${q(m.zkClasspath)}`,
    `ZK_HEAP_MB=${m.zkHeapMb}`,
    '',
  ].join('\n');
}

/** zoo.cfg with the DC/OS layout; each member listens on its master's own address. */
export function zooCfg(m: MasterEnv): string {
  const servers = m.peers.map((addr, i) => `server.${i + 1}=${addr}:2888:3888`);
  return [
    '# ZooKeeper of a zkops sandbox master (DC/OS layout)',
    'tickTime=500',
    'initLimit=40',
    'syncLimit=10',
    `dataDir=${NS.zkDir}/snapshot`,
    `dataLogDir=${NS.zkDir}/transactions`,
    'clientPort=2181',
    `clientPortAddress=${m.address}`,
    'maxClientCnxns=200',
    '4lw.commands.whitelist=srvr,stat,ruok,mntr,conf',
    'admin.enableServer=false',
    'autopurge.purgeInterval=0',
    ...(m.peers.length > 1 ? servers : []),
    '',
  ].join('\n');
}

export const ZK_RUN = `#!/bin/sh
# Start this master's ZooKeeper member in the foreground (systemctl runs it detached).
# \$1: seconds to wait first (the slow-start fault).
. ${NS.home}/env
echo $$ > ${NS.run}/zk.pid
if [ "\${1:-0}" -gt 0 ]; then sleep "$1"; fi
# Signals start at their defaults, as under systemd: a caller that ignores TERM (a job's
# finally-command runs with TERM ignored) must not leave a JVM that systemctl stop cannot stop.
exec env --default-signal "$JAVA" -Xmx\${ZK_HEAP_MB}m -Xms16m -Xss512k -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -XX:-UseContainerSupport \\
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dzookeeper.admin.enableServer=false \\
  -cp "$ZK_CP" org.apache.zookeeper.server.quorum.QuorumPeerMain ${NS.home}/zoo.cfg
`;

/** Before ZooKeeper starts: the DC/OS directory layout, myid, and the slow-start fault (sets $delay). */
const ZK_PREPARE = `  mkdir -p ${NS.zkDir}/snapshot ${NS.zkDir}/transactions
  chmod 700 ${NS.zkDir} ${NS.zkDir}/snapshot ${NS.zkDir}/transactions
  echo "$INDEX" > ${NS.zkDir}/snapshot/myid
  delay=0
  if [ -f $RUN/${FAULT_FILES.slowStart} ]; then delay=$(cat $RUN/${FAULT_FILES.slowStart}); rm -f $RUN/${FAULT_FILES.slowStart}; fi
`;

export const SYSTEMCTL = `#!/bin/sh
# systemctl of a zkops sandbox master. It knows one unit, dcos-exhibitor: this master's
# ZooKeeper member and its Exhibitor-compatible status endpoint on port 8181.
# start|stop|restart|is-active [--quiet]|status, as systemd answers them.
. ${NS.home}/env
RUN=${NS.run}
LOG=${NS.log}
quiet=0
cmd=
unit=
for a in "$@"; do
  case "$a" in
    -q|--quiet) quiet=1 ;;
    -*) ;;
    *) if [ -z "$cmd" ]; then cmd=$a; elif [ -z "$unit" ]; then unit=$a; fi ;;
  esac
done
unit=\${unit%.service}
if [ -z "$cmd" ]; then echo "usage: systemctl start|stop|restart|is-active|status ${NS.unit}" >&2; exit 1; fi
if [ "$unit" != ${NS.unit} ]; then
  [ "$cmd" = is-active ] && { [ $quiet = 1 ] || echo inactive; exit 3; }
  echo "Failed to $cmd $unit.service: Unit $unit.service not found." >&2
  exit 5
fi

alive() { [ -f "$1" ] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }

# TERM a pid file's process, wait up to $2 seconds, then KILL.
stop_pid() {
  [ -f "$1" ] || return 0
  pid=$(cat "$1" 2>/dev/null)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt $(( $2 * 10 )) ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  fi
  rm -f "$1"
}

wait_file() {
  i=0
  while [ ! -s "$1" ] && [ $i -lt $(( $2 * 20 )) ]; do sleep 0.05; i=$((i + 1)); done
  [ -s "$1" ]
}

do_start() {
  if [ -f $RUN/active ] && alive $RUN/zk.pid && alive $RUN/endpoint.pid; then return 0; fi
  # A ZooKeeper left running behind a stop (DCOS-57231) would hold the ports: end it first.
  [ -f $RUN/active ] || stop_pid $RUN/zk.pid 10
${ZK_PREPARE}  if ! alive $RUN/zk.pid; then
    rm -f $RUN/zk.pid
    setsid /bin/sh ${NS.home}/zk-run.sh "$delay" </dev/null >>$LOG/zookeeper.log 2>&1 &
    wait_file $RUN/zk.pid 30 || { echo "Job for ${NS.unit}.service failed: ZooKeeper did not start (see $LOG/zookeeper.log)" >&2; exit 1; }
  fi
  if ! alive $RUN/endpoint.pid; then
    rm -f $RUN/endpoint.pid
    setsid env --default-signal "$NODE" ${NS.home}/endpoint.mjs </dev/null >>$LOG/endpoint.log 2>&1 &
    wait_file $RUN/endpoint.pid 30 || { echo "Job for ${NS.unit}.service failed: the status endpoint did not start (see $LOG/endpoint.log)" >&2; exit 1; }
  fi
  touch $RUN/active
}

do_stop() {
  rm -f $RUN/active
  stop_pid $RUN/endpoint.pid 5
  if [ -f $RUN/${FAULT_FILES.zkLinger} ] && alive $RUN/zk.pid; then
    # DCOS-57231: the unit is inactive but the JVM lives on for a while.
    secs=$(cat $RUN/${FAULT_FILES.zkLinger}); rm -f $RUN/${FAULT_FILES.zkLinger}
    pid=$(cat $RUN/zk.pid)
    setsid /bin/sh -c "sleep $secs; kill -TERM $pid 2>/dev/null; sleep 5; kill -KILL $pid 2>/dev/null" </dev/null >/dev/null 2>&1 &
    return 0
  fi
  stop_pid $RUN/zk.pid 5
}

case "$cmd" in
  is-active)
    if [ -f $RUN/active ]; then [ $quiet = 1 ] || echo active; exit 0; fi
    [ $quiet = 1 ] || echo inactive
    exit 3 ;;
  start) do_start ;;
  stop) do_stop ;;
  restart) do_stop; do_start ;;
  status)
    if [ -f $RUN/active ]; then state=active; else state=inactive; fi
    echo "* ${NS.unit}.service - Exhibitor and ZooKeeper (zkops sandbox $NAME)"
    echo "   Active: $state"
    alive $RUN/zk.pid && echo "   ZooKeeper: pid $(cat $RUN/zk.pid)"
    alive $RUN/endpoint.pid && echo "   Status endpoint: pid $(cat $RUN/endpoint.pid) on $ADDR:8181"
    [ $state = active ] || exit 3 ;;
  *) echo "systemctl (zkops sandbox): unknown command $cmd" >&2; exit 1 ;;
esac
`;

export const DCOS_SHELL = `#!/bin/sh
# dcos-shell of a zkops sandbox master: run the arguments with the DC/OS bin dir first on PATH.
PATH=/opt/mesosphere/bin:$PATH
export PATH
[ $# -gt 0 ] || { echo "usage: dcos-shell COMMAND [ARGS...]" >&2; exit 2; }
exec "$@"
`;

export const DCOS_ZK = `#!/bin/sh
# dcos-zk of a zkops sandbox master, as DC/OS's packages/exhibitor ships it:
#   dcos-zk backup <path> [-v] [-t TMPDIR]   gzip tar of the ZooKeeper dir, members ./zookeeper/...,
#                                             without myid and zookeeper.out
#   dcos-zk restore <path> [-v] [-t TMPDIR]  the live dir copied aside, removed, the tar extracted
# Both refuse while dcos-exhibitor is active.
RUN=${NS.run}
ZK=${NS.zkDir}
usage() { echo "usage: dcos-zk {backup,restore} <path> [-v] [-t TMPDIR]" >&2; exit 2; }
[ $# -ge 2 ] || usage
action=$1; path=$2; shift 2
verbose=0; tmpbase=/tmp
while [ $# -gt 0 ]; do
  case "$1" in
    -v|--verbose) verbose=1 ;;
    -t|--tmpdir) [ $# -ge 2 ] || usage; tmpbase=$2; shift ;;
    *) usage ;;
  esac
  shift
done
case "$action" in backup|restore) ;; *) usage ;; esac
say() { if [ $verbose = 1 ]; then echo "$@"; fi; }

if [ -f $RUN/${FAULT_FILES.dcosZkFail} ]; then
  rm -f $RUN/${FAULT_FILES.dcosZkFail}
  echo "dcos-zk: $action failed (zkops sandbox fault dcos-zk-fail)" >&2
  exit 1
fi
if systemctl is-active --quiet ${NS.unit}; then
  echo "${NS.unit} must not be running. Aborting." >&2
  exit 1
fi
if [ -f $RUN/${FAULT_FILES.dcosZkSlow} ]; then
  secs=$(cat $RUN/${FAULT_FILES.dcosZkSlow}); rm -f $RUN/${FAULT_FILES.dcosZkSlow}
  say "waiting \${secs}s first (zkops sandbox fault dcos-zk-slow)"
  sleep "$secs"
fi

tmp=$(mktemp -d "$tmpbase/zk-$action.XXXXXX") || { echo "cannot create a temporary directory in $tmpbase. Aborting." >&2; exit 1; }
trap 'rm -rf "$tmp"' EXIT

if [ "$action" = backup ]; then
  if [ -e "$path" ]; then echo "$path already exists. Aborting." >&2; exit 1; fi
  parent=$(dirname -- "$path")
  if [ ! -d "$parent" ]; then echo "Directory $parent does not exist. Aborting." >&2; exit 1; fi
  say "Copying $ZK to $tmp"
  cp -pr "$ZK" "$tmp/zookeeper" || { echo "Copying $ZK failed. Aborting." >&2; exit 1; }
  rm -f "$tmp/zookeeper/snapshot/myid" "$tmp/zookeeper/zookeeper.out"
  say "Creating $path"
  if ! tar -C "$tmp" -czf "$path" ./zookeeper; then rm -f "$path"; echo "Writing $path failed. Aborting." >&2; exit 1; fi
  say "ZooKeeper backup written to $path"
  exit 0
fi

if [ ! -f "$path" ]; then echo "$path does not exist. Aborting." >&2; exit 1; fi
if [ -d "$ZK" ]; then
  say "Copying $ZK to $tmp"
  cp -pr "$ZK" "$tmp/zookeeper" || { echo "Copying $ZK failed. Aborting." >&2; exit 1; }
fi
say "Removing $ZK"
rm -rf "$ZK"
say "Extracting $path into $(dirname "$ZK")"
if ! tar -C "$(dirname "$ZK")" -xzf "$path"; then
  echo "Extracting $path failed; putting the previous ZooKeeper state back." >&2
  rm -rf "$ZK"
  if [ -d "$tmp/zookeeper" ]; then cp -pr "$tmp/zookeeper" "$ZK"; fi
  exit 1
fi
say "ZooKeeper state restored from $path"
`;

// ---- a master with systemd as init (`zkops sandbox up --init systemd`) -------------------------
// systemd runs as pid 1 of the master's own pid namespace and knows only the units below
// (SYSTEMD_UNIT_PATH): no sysinit, no tmpfiles, no journald. `systemctl`, `systemd-run` and
// /run/systemd/system are the real ones, so zkops's detached jobs take the systemd-run path.

export const UNITS_DIR = `${NS.home}/units`;

/** ExecStart of dcos-exhibitor.service: the status endpoint and ZooKeeper, as Exhibitor would
 * run them; the shell waits for both, so a killed ZooKeeper leaves the unit active. */
export const EXHIBITOR_SERVICE = `#!/bin/sh
. ${NS.home}/env
RUN=${NS.run}
LOG=${NS.log}
${ZK_PREPARE}
env --default-signal "$NODE" ${NS.home}/endpoint.mjs </dev/null >>$LOG/endpoint.log 2>&1 &
/bin/sh ${NS.home}/zk-run.sh "$delay" </dev/null >>$LOG/zookeeper.log 2>&1 &
wait
`;

function unit(description: string, body: string[]): string {
  return ['[Unit]', `Description=${description}`, 'DefaultDependencies=no', '', '[Service]', ...body, ''].join('\n');
}

function target(description: string, wants: string[] = []): string {
  return ['[Unit]', `Description=${description}`, 'DefaultDependencies=no', ...(wants.length ? [`Wants=${wants.join(' ')}`] : []), ''].join('\n');
}

/** The unit files of a systemd master, by file name. */
export function systemdUnits(): Record<string, string> {
  return {
    'zkops-master.target': target('zkops sandbox master', ['ssh.service']),
    // what transient units (systemd-run) depend on by default; empty here
    'sysinit.target': target('System Initialization (empty in the zkops sandbox)'),
    'basic.target': target('Basic System (empty in the zkops sandbox)'),
    'shutdown.target': target('System Shutdown (empty in the zkops sandbox)'),
    // Without logind, SSH sessions and whatever they start stay in ssh.service's cgroup:
    // stopping or killing the unit ends all of them. A job started with systemd-run lives in
    // a unit of its own and survives that; one started with setsid from a session does not.
    'ssh.service': unit('OpenSSH server (zkops sandbox)', [
      'ExecStartPre=/bin/mkdir -p /run/sshd',
      `ExecStart=/usr/sbin/sshd -D -e -f ${NS.home}/ssh/sshd_config`,
      'KillMode=control-group',
      `StandardOutput=append:${NS.log}/sshd.log`,
      'StandardError=inherit',
    ]),
    [`${NS.unit}.service`]: unit('Exhibitor and ZooKeeper (zkops sandbox)', [
      `ExecStart=/bin/sh ${NS.home}/exhibitor.sh`,
      'KillMode=control-group',
      'TimeoutStopSec=5',
      `StandardOutput=append:${NS.log}/exhibitor.log`,
      'StandardError=inherit',
    ]),
  };
}
