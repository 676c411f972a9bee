// The archive `dcos-zk backup` makes, made by zkops from a copy of the ZooKeeper directory
// (`zkops backup --method copy`): a gzip tar whose members are `./zookeeper/…`, owners and
// modes kept, without the members whose name holds `myid` or `zookeeper.out` — DC/OS's
// dcos_zk_backup.py adds the copy as arcname `./zookeeper` with a filter dropping exactly
// those. A restore (zkops's or `dcos-zk restore`) cannot tell the two apart: the members,
// their modes, owners and contents are the same (test/e2e/backup-method.test.ts compares them).
//
// GNU tar, not Python: every DC/OS master has it. No `--sort=name`: tar 1.26 (CentOS 7, the
// masters of DC/OS 1.12–2.2) does not know it, and no restore depends on the members' order;
// the snapshots come before the logs so that `inspect` holds little while it reads.
// As root, tar stores owners by number and name and `-p` is its default for root on extraction.

/**
 * Shell function `zkops_archive BASE ARCHIVE`: the archive of BASE/zookeeper at ARCHIVE
 * (which must not exist: `-c` would overwrite, and a half-written file must not pass for one).
 */
export const ARCHIVE_FUNCTION = `# zkops_archive BASE ARCHIVE: what dcos-zk backup makes, from BASE/zookeeper (playbook/zk-archive.ts)
zkops_archive() {
  [ ! -e "$2" ] || { echo "$2 exists already" >&2; return 1; }
  # every entry, the transaction logs last: a reader of the stream then holds only the logs'
  # records after the snapshot (catalog/archive-tree.ts); --no-recursion is global, as in tar 1.26
  ( cd "$1" && find ./zookeeper ! -path './zookeeper/transactions' ! -path './zookeeper/transactions/*' -print0 && { [ ! -e ./zookeeper/transactions ] || find ./zookeeper/transactions -print0; } ) > "$2.list" || { rm -f "$2.list"; return 1; }
  tar -C "$1" --exclude='*myid*' --exclude='*zookeeper.out*' --no-recursion --null -T "$2.list" -czf "$2"
  zkops_archive_rc=$?
  rm -f "$2.list"
  return $zkops_archive_rc
}`;
