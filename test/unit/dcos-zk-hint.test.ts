// dcos-zk's refusals and crashes (both versions of DC/OS's dcos_zk_backup.py) become one line
// an operator can act on; anything else is not ours to explain.
import { describe, expect, it } from 'vitest';
import { dcosZkHint } from '../../src/exhibitor/dcos-zk.js';

const TRACEBACK_MISSING_PID = [
  'Restoring local ZooKeeper instance from /var/tmp/zkops-run/backup.tar.gz',
  'Validate that ZooKeeper is not running',
  'Traceback (most recent call last):',
  '  File "/opt/mesosphere/bin/dcos-zk", line 377, in <module>',
  '    DCOSZooKeeperCli()',
  '  File "/opt/mesosphere/bin/dcos-zk", line 47, in _is_zookeeper_running',
  '    zk_pid = int(zk_pid_file.read_text())',
  "FileNotFoundError: [Errno 2] No such file or directory: '/var/lib/dcos/exhibitor/zk.pid'",
  '',
].join('\n');

describe('dcosZkHint', () => {
  it.each([
    ['the refusal since July 2019 (kill -0 of zk.pid)', 'Validate that ZooKeeper is not running\nZooKeeper must not be running. Aborting.\n', /^dcos-zk found ZooKeeper still running \(kill -0 of the pid in \/var\/lib\/dcos\/exhibitor\/zk\.pid succeeded\): .*DCOS-57231/],
    ['the refusal of May–July 2019 (systemctl is-active)', 'dcos-exhibitor must not be running. Aborting.\n', /^dcos-zk \(its first version, May–July 2019\) found dcos-exhibitor active \(`systemctl is-active dcos-exhibitor`\): stop it/],
    ['the traceback of a missing zk.pid', TRACEBACK_MISSING_PID, /^dcos-zk crashed: it decides "running" from Exhibitor's pid file and \/var\/lib\/dcos\/exhibitor\/zk\.pid does not exist .*start dcos-exhibitor once/],
    ['a refusal with CRLF line ends', 'ZooKeeper must not be running. Aborting.\r\n', /^dcos-zk found ZooKeeper still running/],
    ['an unreadable zk.pid', "PermissionError: [Errno 13] Permission denied: '/var/lib/dcos/exhibitor/zk.pid'", /^dcos-zk crashed: it could not read Exhibitor's pid file \/var\/lib\/dcos\/exhibitor\/zk\.pid \(PermissionError\)/],
    ['a zk.pid that holds no pid', "    zk_pid = int(zk_pid_file.read_text())\nValueError: invalid literal for int() with base 10: ''", /^dcos-zk crashed: Exhibitor's pid file \/var\/lib\/dcos\/exhibitor\/zk\.pid does not hold a pid/],
  ])('%s', (_name, output, hint) => {
    const h = dcosZkHint(output);
    expect(h).toMatch(hint);
    expect(h).not.toContain('\n');
  });

  it.each([
    ['a successful restore', 'Restoring local ZooKeeper instance from /x.tar.gz\nLocal ZooKeeper instance restored successfully\n'],
    ['an unrelated traceback', "Traceback (most recent call last):\nEOFError: Compressed file ended before the end-of-stream marker was reached\n"],
    ['another file not found', "FileNotFoundError: [Errno 2] No such file or directory: '/var/tmp/backup.tar.gz'"],
    ['another unit refusing', 'dcos-mesos-master must not be running. Aborting.'],
    ['a ValueError about something else', "ValueError: invalid literal for int() with base 10: 'x'"],
    ['nothing', ''],
  ])('%s: undefined', (_name, output) => {
    expect(dcosZkHint(output)).toBeUndefined();
  });
});
