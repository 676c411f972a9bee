// The DC/OS CLI's own config, read for its token as `dcos` itself would use it: $DCOS_DIR (default
// ~/.dcos), one directory per cluster under clusters/<cluster id>/ with dcos.toml
// ({core: {dcos_url, dcos_acs_token}, cluster: {name}}) and an empty `attached` file marking the
// cluster in use; before CLI 0.5, one ~/.dcos/dcos.toml. TOML is read with smol-toml (a small,
// dependency-free TOML 1.0 parser, kept up to date): the CLI writes real TOML (quoted strings,
// tables), and a hand-written line reader would mis-read an escaped quote in a value.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';

export interface DcosCliCluster {
  /** The cluster's directory name (its id), or "legacy" for the single file of CLI before 0.5. */
  id: string;
  name: string | undefined;
  url: string | undefined;
  token: string | undefined;
  attached: boolean;
  /** The dcos.toml it came from. */
  file: string;
}

/** $DCOS_DIR, else ~/.dcos. */
export function dcosDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DCOS_DIR || join(env.HOME || homedir(), '.dcos');
}

function readCluster(file: string, id: string, attached: boolean): DcosCliCluster | undefined {
  let doc: Record<string, unknown>;
  try {
    doc = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    // unreadable or not TOML: the CLI could not use it either
    return undefined;
  }
  const core = (doc.core ?? {}) as Record<string, unknown>;
  const cluster = (doc.cluster ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  return { id, name: str(cluster.name), url: str(core.dcos_url), token: str(core.dcos_acs_token), attached, file };
}

/** Every cluster the dcos CLI knows in dir (the legacy file as one more). */
export function dcosCliClusters(dir: string): DcosCliCluster[] {
  const out: DcosCliCluster[] = [];
  const clusters = join(dir, 'clusters');
  if (existsSync(clusters)) {
    for (const id of readdirSync(clusters).sort()) {
      const file = join(clusters, id, 'dcos.toml');
      if (!existsSync(file)) continue;
      const c = readCluster(file, id, existsSync(join(clusters, id, 'attached')));
      if (c) out.push(c);
    }
  }
  const legacy = join(dir, 'dcos.toml');
  if (existsSync(legacy)) {
    const c = readCluster(legacy, 'legacy', out.length === 0);
    if (c) out.push(c);
  }
  return out;
}

/**
 * The cluster whose token to use: the one named `pick` (its name or id; $DCOS_CLUSTER as the CLI
 * reads it), else the one whose dcos_url names one of `hosts`. Never the attached one by itself:
 * the dcos CLI sends a token only to its own dcos_url, and the attached cluster may be another
 * one (a dcos_url behind a load balancer is named with auth.dcosCli).
 */
export function pickDcosCliCluster(clusters: DcosCliCluster[], hosts: string[], pick: string | undefined): DcosCliCluster | undefined {
  const withToken = clusters.filter((c) => c.token !== undefined);
  if (pick !== undefined) return withToken.find((c) => c.name === pick || c.id === pick || (c.id.length > 8 && pick.length >= 8 && c.id.startsWith(pick)));
  const hostOf = (url: string | undefined) => {
    try {
      return url === undefined ? undefined : new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
    } catch {
      return undefined;
    }
  };
  const wanted = new Set(hosts.map((h) => h.toLowerCase()));
  return withToken.find((c) => wanted.has(hostOf(c.url) ?? ''));
}
