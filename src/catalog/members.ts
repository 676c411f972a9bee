// SPEC rule 12, member by member: what `dcos-zk restore` may extract as root on every master.
// Only regular files and directories; every name, once normalised, is ./zookeeper or lies
// under it; no links, devices, FIFOs, setuid/setgid/sticky bits, duplicates or controls.
// Names: "zookeeper/x" and "./zookeeper/x" land in the same place, so both are accepted and
// normalised to "./zookeeper/x" (GNU tar writes the first when given `zookeeper`, dcos-zk the
// second); a "." or ".." component anywhere, an empty component ("//") and an absolute name
// are refused even where they would stay inside, because no writer of ours produces them.
// Pure: members in, problems out; each problem names the member (escaped) and the rule.

import { hasControl, printable, type TarMember } from './tar-reader.js';

/** Longer names are refused: PATH_MAX on Linux. */
export const MAX_NAME_BYTES = 4096;

/**
 * The types refused, by name. A contiguous file ('7') is extracted as a regular file by
 * tarfile and GNU tar, so it is not dangerous in itself; it is refused all the same because
 * neither dcos-zk (tarfile) nor GNU tar ever writes one: only a hand-made archive has it.
 */
const REFUSED_TYPES: Record<string, string> = {
  '1': 'a hard link',
  '2': 'a symbolic link',
  '3': 'a character device',
  '4': 'a block device',
  '6': 'a FIFO',
  '7': 'a contiguous file (type 7)',
};

/** Regular file ('0', or '\0' from old writers) or directory ('5'); anything else is refused. */
export function isDirectory(m: TarMember): boolean {
  return m.type === '5';
}

/** The name as "./zookeeper[/…]" without a trailing "/", or the rule it breaks. */
export function normaliseName(name: string, directory: boolean): { key: string } | { rule: string } {
  if (name === '') return { rule: 'has an empty name' };
  if (name.startsWith('/')) return { rule: 'has an absolute name' };
  if (!directory && name.endsWith('/')) return { rule: 'is a regular file whose name ends in "/"' };
  const parts = (directory && name.endsWith('/') ? name.slice(0, -1) : name).split('/');
  if (parts[0] === '.') parts.shift();
  if (parts.includes('..')) return { rule: 'climbs out of ./zookeeper/ ("..")' };
  if (parts.includes('')) return { rule: 'has an empty path component ("//")' };
  if (parts.includes('.')) return { rule: 'has a "." component inside its name' };
  if (parts[0] !== 'zookeeper') return { rule: 'is outside ./zookeeper/' };
  return { key: `./${parts.join('/')}` };
}

function typeRule(m: TarMember): string | undefined {
  if (m.type === '0' || m.type === '\0' || m.type === '5') return undefined;
  const kind = REFUSED_TYPES[m.type];
  const allowed = 'only regular files and directories are allowed';
  if (kind === undefined) return `has tar type ${printable(JSON.stringify(m.type))}, which tarfile extracts as a regular file: ${allowed}`;
  return m.type === '1' || m.type === '2' ? `is ${kind} (to ${printable(m.linkname)}): ${allowed}` : `is ${kind}: ${allowed}`;
}

function modeRule(mode: number): string | undefined {
  const bits = [
    [0o4000, 'setuid'],
    [0o2000, 'setgid'],
    [0o1000, 'sticky'],
  ].flatMap(([bit, label]) => ((mode & (bit as number)) !== 0 ? [label as string] : []));
  if (bits.length === 0) return undefined;
  return `has the ${bits.join(' and ')} bit${bits.length > 1 ? 's' : ''} (mode 0${(mode & 0o7777).toString(8)})`;
}

/** One member's problems, and its normalised name when it has one. */
export function checkMember(m: TarMember): { key: string | undefined; problems: string[] } {
  const rules: string[] = [];
  if (!m.utf8) rules.push('has a name that is not valid UTF-8');
  if (hasControl(m.name)) rules.push('has a control character in its name');
  if (Buffer.byteLength(m.name) > MAX_NAME_BYTES) rules.push(`has a name longer than ${MAX_NAME_BYTES} bytes`);
  const normal = normaliseName(m.name, isDirectory(m));
  if ('rule' in normal) rules.push(normal.rule);
  for (const rule of [typeRule(m), modeRule(m.mode)]) if (rule) rules.push(rule);
  return { key: 'key' in normal ? normal.key : undefined, problems: rules.map((r) => `member ${printable(m.name)} ${r}`) };
}

/** Checks across members: no name twice, none under a member that is not a directory. */
export class MemberIndex {
  private readonly seen = new Map<string, { name: string; directory: boolean }>();

  /** Record a member by its normalised name; a problem when the name was seen before. */
  add(m: TarMember, key: string): string | undefined {
    const before = this.seen.get(key);
    if (before) return `member ${printable(m.name)} appears twice (${printable(before.name)} has the same name, ${key})`;
    this.seen.set(key, { name: m.name, directory: isDirectory(m) });
    return undefined;
  }

  /** After the last member: each member whose parent is in the archive as something else than a directory. */
  underNonDirectories(): string[] {
    const problems: string[] = [];
    for (const [key, entry] of this.seen) {
      for (let cut = key.lastIndexOf('/'); cut > 1; cut = key.lastIndexOf('/', cut - 1)) {
        const parent = this.seen.get(key.slice(0, cut));
        if (parent && !parent.directory) {
          problems.push(`member ${printable(entry.name)} lies under ${printable(parent.name)}, which is not a directory`);
          break;
        }
      }
    }
    return problems;
  }
}
