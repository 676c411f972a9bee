// The hot backup's copy (`zkops backup --method hot`): ZooKeeper's files copied while it serves.
// ZooKeeper's administrator's guide (3.4 included): a snapshot is fuzzy and the logs are
// append-only, so the newest complete snapshot plus every log from the one that starts at or
// before it (FileTxnLog.getLogFiles) is a consistent data directory once replayed.
// - A snapshot is complete when it ends with ZooKeeper's trailer: the checksum, then the string
//   "/" (int 1, byte 0x2f; FileSnap.serialize, 3.4 to 3.9). ZooKeeper writes snapshot.<zxid> in
//   place, so the newest file can be half written; an incomplete one is never copied.
// - The directory is listed again after each pass: a file that appeared meanwhile (a new
//   snapshot, a rolled log) is copied too, the newest log is copied again each pass (it grows),
//   a log that was the newest when copied is copied once more once a newer one exists (it was
//   completed meanwhile). Every pass ends with a consistent copy (a log that is not the newest is
//   never written again, and the newest is copied last), so the passes end when one lists what
//   the one before it did, or after the third. A file ZooKeeper's purge removed meanwhile is skipped.
// - Its last record may still be cut by the copy (a read overlapping ZooKeeper's write): the
//   bastion cuts that record off after the download (catalog/trim.ts), never anything else.
// - No myid, no other file: the archive holds what dcos-zk backup's holds, from a copy made
//   beside the directory (the same filesystem) and archived by zkops_archive.
// - The epoch files are copied last. An election during the copy (the zxid's epoch differs
//   before and after it, checked from the bastion) fails the backup: the follower may have
//   truncated txns the new leader did not have.
// POSIX sh (dash on Debian, bash on CentOS) and GNU coreutils (cp --sparse, chown --reference).
// Pure: the text is part of the job script (job-script.ts); test/unit/hot-copy.test.ts runs it.

/** Shell functions `zkops_hot_copy ZKDIR DEST` and its helpers. */
export const HOT_COPY_FUNCTION = `# zkops_hot_copy ZKDIR DEST: ZooKeeper's files copied while it serves (playbook/zk-hot-copy.ts)
zkops_hot_ls() {
  for f in "$1/$2".*; do
    [ -f "$f" ] || continue
    h=\${f##*/"$2".}
    case $h in '' | *[!0-9a-f]*) continue ;; esac
    echo "$((0x$h)):\${f##*/}"
  done | sort -n
}
zkops_hot_whole() { [ "$(tail -c 5 "$1" 2>/dev/null | od -An -tx1 | tr -d ' \\n')" = 000000012f ]; }
zkops_hot_cp() {
  if zkops_hot_err=$(cp -p --sparse=always "$1" "$2" 2>&1); then return 0; fi
  if [ ! -e "$1" ]; then rm -f "$2"; return 2; fi
  echo "$zkops_hot_err" >&2
  return 1
}
zkops_hot_copy() {
  hs=$1/snapshot/version-2
  hl=$1/transactions/version-2
  if [ ! -d "$hs" ] || [ ! -d "$hl" ]; then echo "$1 is not a ZooKeeper data directory (no snapshot/version-2 or transactions/version-2)" >&2; return 1; fi
  # the directories, owners and modes kept; myid and every other file left out
  ( cd "$1" && find . -type d ) | while IFS= read -r d; do
    mkdir -p "$2/$d" && chown --reference="$1/$d" "$2/$d" && chmod --reference="$1/$d" "$2/$d" || exit 1
  done || return 1
  whole=' '
  prev=
  pass=0
  while :; do
    pass=$((pass + 1))
    # the newest snapshot that ends with ZooKeeper's trailer (its checksum, then the string "/")
    snap=
    snapz=
    for e in $(zkops_hot_ls "$hs" snapshot | sort -rn); do
      if zkops_hot_whole "$hs/\${e#*:}"; then snap=\${e#*:}; snapz=\${e%%:*}; break; fi
    done
    if [ -z "$snap" ]; then echo "no complete snapshot in $hs" >&2; return 1; fi
    logs=$(zkops_hot_ls "$hl" log)
    # every log from the newest one that starts at or before the snapshot (FileTxnLog.getLogFiles)
    first=
    for e in $logs; do
      if [ "\${e%%:*}" -le "$snapz" ]; then first=\${e%%:*}; fi
    done
    want=
    for e in $(zkops_hot_ls "$hs" snapshot); do
      if [ "\${e%%:*}" -ge "$snapz" ] && zkops_hot_whole "$hs/\${e#*:}"; then want="$want snapshot/version-2/\${e#*:}"; fi
    done
    newest=
    for e in $logs; do
      if [ -z "$first" ] || [ "\${e%%:*}" -ge "$first" ]; then want="$want transactions/version-2/\${e#*:}"; newest=\${e#*:}; fi
    done
    # each file once, but the newest log each pass (ZooKeeper appends to it); a log that was the
    # newest when copied again once a newer one exists (it was completed meanwhile)
    for w in $want; do
      case "$whole" in *" $w "*) continue ;; esac
      rc=0
      zkops_hot_cp "$1/$w" "$2/$w" || rc=$?
      if [ "$rc" -eq 1 ]; then return 1; fi
      if [ "$rc" -eq 0 ] && [ "\${w##*/}" != "$newest" ]; then whole="$whole$w "; fi
    done
    echo "pass $pass: \${snap}, $(echo $want | wc -w) files, the newest log \${newest:-(none)}"
    # every pass ends with a consistent copy: the snapshot, whole logs, and a prefix of the newest
    # one. Nothing appeared or went since the last pass: done; else at most 3 passes (under a
    # steady load with a small snapCount ZooKeeper rolls its files every few hundred ms)
    if [ "$want" = "$prev" ] || [ "$pass" -ge 3 ]; then break; fi
    prev=$want
  done
  # the epochs last: an election during the copy would show as a newer epoch than the logs'
  for f in acceptedEpoch currentEpoch; do
    if [ -f "$hs/$f" ]; then cp -p "$hs/$f" "$2/snapshot/version-2/$f" || return 1; fi
  done
  ( cd "$1" && find . -type d ) | while IFS= read -r d; do touch -r "$1/$d" "$2/$d"; done
  echo "hot copy: \${snap} (zxid $(printf '0x%x' "$snapz")) and the logs after it, in $pass passes"
}`;
