// The DC/OS procedure (the "ZooKeeper backup and restore" section of the DC/OS guide) done by hand
// with OpenSSH, as fast as an operator with a small script does it, for the benches to compare
// zkops with. Backup on one master: stop dcos-exhibitor, dcos-zk backup, start (one ssh, timed on
// the master), scp the archive here, remove it there. Restore: scp the archive to every master,
// stop dcos-exhibitor on every master, dcos-zk restore on every master, start every master, watch
// the Exhibitor status until all serve with one leader; each step on all masters at once (as
// `for m in …; do ssh … & done; wait`), the next once it ended everywhere.

import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { watchOutage, type Outage } from './util.js';

const run = promisify(execFile);
const DCOS_ZK = '/opt/mesosphere/bin/dcos-shell dcos-zk';

/** Back up on `address` by hand into `localFile`; the stop window (stop begun → start returned), measured on the master. */
export function handBackup(ssh: string[], address: string, localFile: string): { stopWindowMs: number } {
  const remote = '/var/tmp/hand.tar.gz';
  const out = execFileSync(
    'ssh',
    [...ssh, `root@${address}`, `a=$(date +%s%N); systemctl stop dcos-exhibitor && ${DCOS_ZK} backup ${remote} -v >/dev/null; systemctl start dcos-exhibitor; b=$(date +%s%N); echo $(( (b - a) / 1000000 ))`],
    { encoding: 'utf8', stdio: 'pipe' },
  );
  execFileSync('scp', [...ssh, `root@${address}:${remote}`, localFile], { stdio: 'pipe' });
  execFileSync('ssh', [...ssh, `root@${address}`, `rm -f ${remote}`], { stdio: 'pipe' });
  return { stopWindowMs: Number(out.trim()) };
}

/**
 * Restore `archive` on every master by hand, watching the outage from here. The wall time ends
 * when the last step returned and the cluster is healthy (the guide's last step is watching the
 * status); the archives are removed afterwards, outside the times.
 */
export async function handRestore(ssh: string[], addresses: string[], archive: string): Promise<Outage> {
  const remote = '/var/tmp/zk-backup.tar.gz';
  const onAll = async (command: string): Promise<void> => void (await Promise.all(addresses.map((a) => run('ssh', [...ssh, `root@${a}`, command]))));
  const t0 = Date.now();
  let ended: number | undefined;
  const failed = new AbortController();
  const procedure = (async () => {
    await Promise.all(addresses.map((a) => run('scp', [...ssh, archive, `root@${a}:${remote}`])));
    await onAll('systemctl stop dcos-exhibitor');
    await onAll(`${DCOS_ZK} restore ${remote} -v >/dev/null`);
    await onAll('systemctl start dcos-exhibitor');
    ended = Date.now();
  })();
  procedure.catch(() => failed.abort());
  const [{ down, up, blips }] = await Promise.all([watchOutage(addresses, 'the restore by hand', () => ended !== undefined, undefined, failed.signal), procedure]);
  await onAll(`rm -f ${remote}`);
  return { outageMs: up - down, wallMs: Math.max(up, ended as number) - t0, blips };
}
