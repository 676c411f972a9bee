// What DC/OS's `dcos-zk` (packages/exhibitor/extra/dcos_zk_backup.py in dcos/dcos) means when
// it refuses or dies, in one line an operator can act on. Its own words are terse ("ZooKeeper
// must not be running. Aborting.") or a Python traceback; both versions are understood:
// - since July 2019: "running" is `kill -0` of the pid in /var/lib/dcos/exhibitor/zk.pid, a
//   file Exhibitor writes when it starts ZooKeeper and never removes; a missing or unreadable
//   zk.pid ends in a traceback (exit 1);
// - May–July 2019: "running" is `systemctl is-active dcos-exhibitor`.

/** Where Exhibitor keeps ZooKeeper's pid on a DC/OS master (zookeeper-pid-path). */
export const DCOS_ZK_PID_FILE = '/var/lib/dcos/exhibitor/zk.pid';

const REFUSED_PID = /^ZooKeeper must not be running\. Aborting\.\s*$/m;
const REFUSED_UNIT = /^(dcos-exhibitor) must not be running\. Aborting\.\s*$/m;
const PID_FILE_MISSING = /^FileNotFoundError: \[Errno 2\] No such file or directory: '([^'\n]*zk\.pid)'\s*$/m;
const PID_FILE_UNREADABLE = /^(PermissionError|IsADirectoryError): \[Errno \d+\] [^:\n]+: '([^'\n]*zk\.pid)'\s*$/m;
const PID_NOT_A_NUMBER = /^ValueError: invalid literal for int\(\) with base 10: .*$/m;

/** A one-line explanation of a dcos-zk refusal or crash found in its output, or undefined. */
export function dcosZkHint(output: string): string | undefined {
  const text = output.replace(/\r\n?/g, '\n');
  if (REFUSED_PID.test(text)) {
    return (
      `dcos-zk found ZooKeeper still running (kill -0 of the pid in ${DCOS_ZK_PID_FILE} succeeded): ` +
      'a ZooKeeper that outlived `systemctl stop dcos-exhibitor` (DCOS-57231), or a stale pid now used by another process; ' +
      `compare \`cat ${DCOS_ZK_PID_FILE}\` with \`ps -p <pid>\` and \`ss -ltn\` (port 2181) on that master`
    );
  }
  const unit = REFUSED_UNIT.exec(text);
  if (unit) {
    return (
      `dcos-zk (its first version, May–July 2019) found ${unit[1]} active (\`systemctl is-active ${unit[1]}\`): ` +
      `stop it with \`systemctl stop ${unit[1]}\` and wait until it is inactive`
    );
  }
  const missing = PID_FILE_MISSING.exec(text);
  if (missing) {
    return (
      `dcos-zk crashed: it decides "running" from Exhibitor's pid file and ${missing[1]} does not exist ` +
      '(Exhibitor writes it when it starts ZooKeeper and never removes it, so it was deleted or Exhibitor never started ZooKeeper here); ' +
      'start dcos-exhibitor once, stop it, and retry'
    );
  }
  const unreadable = PID_FILE_UNREADABLE.exec(text);
  if (unreadable) {
    return `dcos-zk crashed: it could not read Exhibitor's pid file ${unreadable[2]} (${unreadable[1]}); it must be a file root can read`;
  }
  if (PID_NOT_A_NUMBER.test(text) && /zk\.pid|zk_pid_file|_is_zookeeper_running/.test(text)) {
    return `dcos-zk crashed: Exhibitor's pid file ${DCOS_ZK_PID_FILE} does not hold a pid; start dcos-exhibitor once so that Exhibitor rewrites it, stop it, and retry`;
  }
  return undefined;
}
