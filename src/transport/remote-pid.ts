// The pid of the master's shell, reported as the first line of a command's stderr, and the
// command that kills the process tree under it: how runExec stops a timed-out or aborted
// command when OpenSSH refuses the SSH "signal" request.

/** First line on stderr of every command runExec sends: the pid of the master's shell. */
const PID_MARK = 'zkops-pid ';

/** The command sent: it first reports its shell's pid (stderr, stripped again by runExec). */
export function withPidReport(command: string): string {
  return `printf '${PID_MARK}%s\\n' "$$" >&2; ${command}`;
}

/** Takes the pid line withPidReport put first on stderr, and passes on the rest. */
export class PidLineReader {
  pid: number | undefined;
  /** Stderr held until its first line is whole; undefined once that line was read. */
  private head: Buffer | undefined = Buffer.alloc(0);

  /** The bytes of `d` that are the command's own stderr (undefined: none yet). */
  take(d: Buffer): Buffer | undefined {
    if (this.head === undefined) return d;
    const buf = Buffer.concat([this.head, d]);
    const nl = buf.indexOf(10);
    if (nl < 0 && buf.length < 64) {
      this.head = buf; // the whole first line first
      return undefined;
    }
    this.head = undefined;
    const first = nl < 0 ? '' : buf.subarray(0, nl).toString('utf8');
    if (!first.startsWith(PID_MARK)) return buf;
    this.pid = Number(first.slice(PID_MARK.length)) || undefined;
    const rest = buf.subarray(nl + 1);
    return rest.length === 0 ? undefined : rest;
  }

  /** Stderr ended before a full first line: what came of it, to keep. */
  flush(): Buffer | undefined {
    const rest = this.head;
    if (rest === undefined || rest.length === 0) return undefined;
    this.head = undefined;
    return rest;
  }
}

/**
 * Kill a command's process tree on the master. OpenSSH refuses the SSH "signal" request in many
 * setups (root logins without privilege separation, sessions under sudo), so a timed-out or
 * aborted command is killed from a second channel, with the same become as the command had.
 * Jobs detached with setsid are not in the tree once their launcher returned.
 */
export function killTreeCommand(pid: number): string {
  return `t() { for c in $(pgrep -P "$1"); do t "$c"; done; kill -KILL "$1" 2>/dev/null; }; t ${pid}; true`;
}
