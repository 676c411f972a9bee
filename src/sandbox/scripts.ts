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
  /** Exhibitor's pid file on DC/OS (zookeeper-pid-path): what dcos-zk reads. Written at each
   * ZooKeeper start, never removed: it stays, stale, after a stop. */
  zkPid: '/var/lib/dcos/exhibitor/zk.pid',
  unit: 'dcos-exhibitor',
} as const;

/** Where the small-zk tmpfs is mounted (the ZooKeeper directory's parent) and fill-zk's file in it. */
export const SMALL_ZK_MOUNT = '/var/lib/dcos/exhibitor';
export const SMALL_ZK_FILL = `${SMALL_ZK_MOUNT}/.zkops-sandbox-fill`;

/** Fault markers: a file in run/ that the next matching operation consumes. */
export const FAULT_FILES = {
  dcosZkFail: 'fault.dcos-zk-fail',
  dcosZkSlow: 'fault.dcos-zk-slow',
  slowStart: 'fault.slow-start',
  zkLinger: 'fault.zk-linger',
  /** The next stop, once ZooKeeper is down, fills the filesystem of its directory but for the bytes in the file (small-zk only). */
  fillZk: 'fault.fill-zk',
  /** Not consumed: dcos-zk is its first (May–July 2019) version until `fault … clear`. */
  dcosZk2019: 'fault.dcos-zk-2019',
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
  /** zoo.cfg's snapCount; undefined: none written (ZooKeeper's default, 100000). */
  snapCount?: number;
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
    // QuorumPeerConfig.parseProperties (3.4.14, what DC/OS runs, and 3.8) turns a key it does
    // not know into the system property zookeeper.<key>, and ZooKeeperServer.getSnapCount reads
    // zookeeper.snapCount: after snapCount/2 + a random share of snapCount/2 transactions the
    // member rolls to a new log file and takes a snapshot. A small one (20-100) makes a few
    // seconds of writes leave many snapshots and logs: what a hot backup copies mid-roll.
    ...(m.snapCount === undefined ? [] : [`snapCount=${m.snapCount}`]),
    ...(m.peers.length > 1 ? servers : []),
    '',
  ].join('\n');
}

export const ZK_RUN = `#!/bin/sh
# Start this master's ZooKeeper member in the foreground (systemctl runs it detached).
# \$1: seconds to wait first (the slow-start fault).
. ${NS.home}/env
# run/zk.pid is the sandbox's own bookkeeping: systemctl stops ZooKeeper by it and removes it
# then, so it never signals a pid that was reused.
echo $$ > ${NS.run}/zk.pid
if [ "\${1:-0}" -gt 0 ]; then sleep "$1"; fi
# Exhibitor's pid file, as on DC/OS (zkServer.sh start writes the pid without a newline):
# dcos-zk decides "running" by kill -0 of it. Nothing removes it; after a stop it is stale.
printf %s $$ > ${NS.zkPid}.new && mv -f ${NS.zkPid}.new ${NS.zkPid}
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
  if [ -f $RUN/${FAULT_FILES.fillZk} ]; then
    # the disk fills up behind zkops's back, after its room check (a log, another service)
    leave=$(cat $RUN/${FAULT_FILES.fillZk}); rm -f $RUN/${FAULT_FILES.fillZk}
    dd if=/dev/zero of=${SMALL_ZK_FILL} bs=64k 2>/dev/null || true
    filled=$(stat -c %s ${SMALL_ZK_FILL})
    truncate -s $(( filled > leave ? filled - leave : 0 )) ${SMALL_ZK_FILL}
  fi
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
# dcos-zk of a zkops sandbox master: DC/OS's packages/exhibitor/extra/dcos_zk_backup.py (its
# version since July 2019) redone in sh, with the same output, refusals, exit codes and lack
# of kindness:
#   dcos-zk backup <path> [-t|--tmp-dir DIR] [-v]    <path> must not exist, its parent must
#   dcos-zk restore <path> [-t|--tmp-dir DIR] [-v]   <path> must be a file
# The copy of the ZooKeeper dir is DIR/zookeeper (DIR must exist; a failure leaves the copy
# there) or, without -t, in a fresh /tmp/tmpXXXXXXXX-zk-<action> removed at exit, after a
# failure too: a restore whose extraction fails has lost the previous state. "Running" is
# kill -0 of the pid in zk.pid; a missing zk.pid is Python's FileNotFoundError traceback.
# restore extracts with no member filter (as root: a member lands wherever it points) and
# does not put myid back (Exhibitor writes it when it starts ZooKeeper). Bad arguments get
# argparse's usage line and exit 2; an uncaught error gets a traceback (its library frames
# left out) and exit 1.
ZK=${NS.zkDir}
EXHIBITOR=$(dirname $ZK)
PIDFILE=${NS.zkPid}
RUN=${NS.run}
PROG=$(basename -- "$0")
action=

# ---- argparse ----
bad() {
  if [ -n "$action" ]; then echo "usage: $0 $action [-h] [-t TMP_DIR] [-v] backup_path" >&2
  else echo "usage: $PROG [-h] {backup,restore}" >&2; fi
  echo "$PROG: error: $1" >&2
  exit 2
}
case "$1" in
  backup|restore) action=$1 ;;
  -h|--help) echo "usage: $PROG [-h] {backup,restore}"; exit 0 ;;
  '') bad 'the following arguments are required: command' ;;
  *) bad "argument command: invalid choice: '$1' (choose from 'backup', 'restore')" ;;
esac
shift
path=; tmpdir=; have_tmp=0; verbose=0; extra=
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) echo "usage: $0 $action [-h] [-t TMP_DIR] [-v] backup_path"; exit 0 ;;
    -v|--verbose) verbose=1 ;;
    -t|--tmp-dir) [ $# -ge 2 ] || bad 'argument -t/--tmp-dir: expected one argument'; tmpdir=$2; have_tmp=1; shift ;;
    --tmp-dir=*) tmpdir=\${1#--tmp-dir=}; have_tmp=1 ;;
    -t*) tmpdir=\${1#-t}; have_tmp=1 ;;
    --) shift; for a in "$@"; do if [ -z "$path" ]; then path=$a; else extra="$extra $a"; fi; done; break ;;
    -?*) extra="$extra $1" ;;
    *) if [ -z "$path" ]; then path=$1; else extra="$extra $1"; fi ;;
  esac
  shift
done
[ -n "$path" ] || bad 'the following arguments are required: backup_path'
if [ "$action" = backup ]; then
  [ -e "$path" ] && bad "argument backup_path: $path already exists"
  [ -e "$(dirname -- "$path")" ] || bad "argument backup_path: $path parent directory does not exist"
else
  [ -e "$path" ] || bad "argument backup_path: $path does not exist"
  [ -f "$path" ] || bad "argument backup_path: $path is not a file"
fi
if [ $have_tmp = 1 ]; then
  [ -e "$tmpdir" ] || bad "argument -t/--tmp-dir: $tmpdir does not exist"
  [ -d "$tmpdir" ] || bad "argument -t/--tmp-dir: $tmpdir is not a directory"
fi
[ -z "$extra" ] || bad "unrecognized arguments:$extra"
absolute() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
path=$(absolute "$path")

# ---- sandbox faults ----
if [ -f $RUN/${FAULT_FILES.dcosZkFail} ]; then
  rm -f $RUN/${FAULT_FILES.dcosZkFail}
  echo "dcos-zk: $action failed (zkops sandbox fault dcos-zk-fail)" >&2
  exit 1
fi

# ---- Python's uncaught exception: the script's frames (as in the July 2019 version), exit 1 ----
frame() { printf '  File "%s", line %s, in %s\\n    %s\\n' "$0" "$1" "$2" "$3"; }
traceback() { # $1: innermost frames (line|function|code, one per line), $2: the exception
  {
    echo 'Traceback (most recent call last):'
    frame 377 '<module>' 'DCOSZooKeeperCli()'
    frame 272 __init__ 'getattr(self, args.command)()'
    if [ "$action" = backup ]; then
      if [ $have_tmp = 1 ]; then frame 318 backup 'backup_zookeeper('; else frame 312 backup 'backup_zookeeper('; fi
    else
      if [ $have_tmp = 1 ]; then frame 368 restore 'restore_zookeeper('; else frame 362 restore 'restore_zookeeper('; fi
    fi
    printf '%s\\n' "$1" | while IFS='|' read -r line fn code; do frame "$line" "$fn" "$code"; done
    echo "$2"
  } >&2
  exit 1
}
# The exception a failed tar stands for, from tar's and gzip's own words.
tar_exception() {
  case "$1" in
    *'not in gzip format'*) echo 'tarfile.ReadError: not a gzip file' ;;
    *'unexpected end of file'*) echo 'EOFError: Compressed file ended before the end-of-stream marker was reached' ;;
    *'No space left on device'*) echo "OSError: [Errno 28] No space left on device" ;;
    *'Unexpected EOF in archive'*) echo 'tarfile.ReadError: unexpected end of data' ;;
    *'does not look like a tar archive'*) echo 'tarfile.ReadError: invalid header' ;;
    *) echo "OSError: $(printf '%s\\n' "$1" | grep -v '^tar: Exiting with' | head -n 1)" ;;
  esac
}

# ---- the temporary directory (Python's TemporaryDirectory, or -t DIR) ----
if [ $have_tmp = 1 ]; then
  base=$(absolute "$tmpdir")
else
  base=$(mktemp -d --suffix="-zk-$action" "\${TMPDIR:-/tmp}/tmpXXXXXXXX") || exit 1
  trap 'rm -rf "$base"' EXIT
fi
copy=$base/zookeeper

# A subprocess as run_command runs it: its output shown with -v, else kept and shown only
# when it fails (then dcos-zk exits with its exit code).
run_command() {
  if [ $verbose = 1 ]; then "$@" || exit $?; return 0; fi
  out=$("$@" 2>&1) || { rc=$?; [ -z "$out" ] || printf '%s\\n' "$out"; exit $rc; }
}

refuse_if_running() { # $1: the caller's line|function|code frame
  if [ -f $RUN/${FAULT_FILES.dcosZk2019} ]; then
    # the first version (May–July 2019) asked systemd
    if run_command_ok systemctl is-active --quiet ${NS.unit}; then
      echo '${NS.unit} must not be running. Aborting.' >&2
      exit 1
    fi
    return 0
  fi
  site="$1
47|_is_zookeeper_running|zk_pid = int(zk_pid_file.read_text())"
  [ -e $PIDFILE ] || traceback "$site" "FileNotFoundError: [Errno 2] No such file or directory: '$PIDFILE'"
  [ -r $PIDFILE ] || traceback "$site" "PermissionError: [Errno 13] Permission denied: '$PIDFILE'"
  [ -d $PIDFILE ] && traceback "$site" "IsADirectoryError: [Errno 21] Is a directory: '$PIDFILE'"
  pid=$(tr -d ' \\t\\n' < $PIDFILE)
  case "$pid" in
    ''|*[!0-9]*) traceback "$site" "ValueError: invalid literal for int() with base 10: '$(head -c 64 $PIDFILE | tr '\\n' ' ')'" ;;
  esac
  if run_command_ok env kill -0 "$pid"; then
    echo 'ZooKeeper must not be running. Aborting.' >&2
    exit 1
  fi
}
# run_command inside try/except CalledProcessError: only the exit code counts.
run_command_ok() {
  if [ $verbose = 1 ]; then "$@"; else "$@" >/dev/null 2>&1; fi
}

if [ -f $RUN/${FAULT_FILES.dcosZkSlow} ]; then slow=$(cat $RUN/${FAULT_FILES.dcosZkSlow}); rm -f $RUN/${FAULT_FILES.dcosZkSlow}; else slow=0; fi

if [ "$action" = backup ]; then
  echo "Backing up ZooKeeper into $path via $copy"
  echo 'Validate that ZooKeeper is not running'
  refuse_if_running '95|backup_zookeeper|if _is_zookeeper_running(verbose):'
  if [ "$slow" -gt 0 ]; then echo "waiting $slow s first (zkops sandbox fault dcos-zk-slow)"; sleep "$slow"; fi
  echo "Copying ZooKeeper files to $copy"
  run_command cp -prv "$ZK" "$copy"
  echo "Creating ZooKeeper backup tar archive at $path"
  # tarfile's x:gz with a filter that drops every member whose name holds myid or zookeeper.out;
  # a failed write leaves the partial archive, as Python does
  if ! err=$(tar -C "$base" --sort=name --exclude='*myid*' --exclude='*zookeeper.out*' -czf "$path" ./zookeeper 2>&1); then
    traceback '123|backup_zookeeper|tar.add(' "$(tar_exception "$err")"
  fi
  if [ $verbose = 1 ]; then tar -tvzf "$path"; fi
  echo "Deleting temporary files in $copy"
  rm -rf "$copy"
  echo 'ZooKeeper backup taken successfully'
  exit 0
fi

echo "Restoring local ZooKeeper instance from $path"
echo 'Validate that ZooKeeper is not running'
refuse_if_running '160|restore_zookeeper|if _is_zookeeper_running(verbose):'
if [ "$slow" -gt 0 ]; then echo "waiting $slow s first (zkops sandbox fault dcos-zk-slow)"; sleep "$slow"; fi
echo "Moving ZooKeeper files temporarily to $copy"
run_command cp -prv "$ZK" "$copy"
rm -rf "$ZK"
echo "Restoring $ZK from backup $path"
# tarfile's extractall with no member filter: absolute names, .., links, devices and modes as
# the archive says, owners kept (as root)
if ! err=$(tar -C "$EXHIBITOR" -xzf "$path" --absolute-names --same-owner --same-permissions 2>&1); then
  case "$err" in
    *'not in gzip format'*) traceback "195|restore_zookeeper|with tarfile.open(name=str(backup), mode='r:gz') as tar:" "$(tar_exception "$err")" ;;
    *) traceback '196|restore_zookeeper|tar.extractall(path=str(EXHIBITOR_DIR))' "$(tar_exception "$err")" ;;
  esac
fi
if [ $verbose = 1 ]; then tar -tvzf "$path"; fi
echo "Deleting temporary files in $copy"
rm -rf "$copy"
echo 'Local ZooKeeper instance restored successfully'
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
