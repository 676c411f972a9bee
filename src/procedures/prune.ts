// `zkops prune` and `zkops backup --prune`: apply a retention policy to the catalog. What stays
// and why is decided by catalog/retention.ts without touching a file; this removes what it
// said to remove (never with --dry-run), one entry at a time through Catalog.delete, and
// reports every entry with its decision. Nothing here prints.

import { Catalog, type CatalogEntry } from '../catalog/store.js';
import { decideRetention, DEFAULT_LABEL_GROUP, hasRule, labelGroup, policyText, type GroupDecision } from '../catalog/retention.js';
import { OperationFailed, UsageError, ZkopsError } from '../errors.js';
import type { RetentionPolicy } from '../inventory/types.js';

export interface PruneOptions {
  dir: string;
  policy: RetentionPolicy;
  /** Where the policy comes from, for the report: "the command line", "inventory /etc/zkops/prod.yaml". */
  policySource: string;
  /** Only this label (or `zk-*`: every default label). */
  label?: string;
  /** Only this cluster's backups (the inventory's, with -i). */
  cluster?: string;
  dryRun: boolean;
}

export interface PruneReport {
  policy: RetentionPolicy;
  policyText: string;
  policySource: string;
  dryRun: boolean;
  groups: GroupDecision[];
  kept: number;
  removed: number;
  /** Ids removed from the catalog (none with --dry-run). */
  deleted: string[];
  /** Entries that were to be removed and could not be, with why. */
  failed: { id: string; message: string }[];
  /** The service halves of removed full-cluster backups: on their masters' disks, not removed. */
  serviceHalvesLeft: { backup: string; id: string; master: string }[];
  error: ZkopsError | undefined;
}

/** The entries a prune looks at: one label (or the default labels), one cluster; CORRUPT entries of that label too. */
async function entriesFor(catalog: Catalog, o: Pick<PruneOptions, 'label' | 'cluster'>): Promise<CatalogEntry[]> {
  const all = await catalog.list(o.label === undefined || o.label === DEFAULT_LABEL_GROUP ? undefined : o.label);
  return all.filter(
    (e) => (o.label !== DEFAULT_LABEL_GROUP || labelGroup(e.label) === DEFAULT_LABEL_GROUP) && (o.cluster === undefined || e.status === 'CORRUPT' || e.cluster === o.cluster),
  );
}

/** Apply a policy to the catalog (with dryRun: only decide). */
export async function prune(o: PruneOptions): Promise<PruneReport> {
  if (!hasRule(o.policy)) {
    throw new UsageError('prune needs a retention policy: at least one of --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly', {
      hint: 'or give -i INV with a `retention:` policy in the inventory (see inventory.example.yaml); --dry-run shows what a policy would remove',
    });
  }
  const catalog = new Catalog(o.dir);
  const groups = decideRetention(await entriesFor(catalog, o), o.policy);
  const deleted: string[] = [];
  const failed: { id: string; message: string }[] = [];
  const serviceHalvesLeft: PruneReport['serviceHalvesLeft'] = [];
  if (!o.dryRun) {
    for (const e of groups.flatMap((g) => g.entries).filter((d) => d.decision === 'remove')) {
      try {
        const service = e.status === 'CORRUPT' ? undefined : await catalog.get(e.id).then((m) => m.service ?? undefined, () => undefined);
        await catalog.delete(e.id);
        if (service) serviceHalvesLeft.push({ backup: e.id, id: service.id, master: service.master });
        deleted.push(e.id);
      } catch (err) {
        // gone since it was listed (another prune, a `zkops delete`): what prune wanted
        if (err instanceof UsageError && /^unknown backup/.test(err.message)) deleted.push(e.id);
        else failed.push({ id: e.id, message: err instanceof Error ? err.message : String(err) });
      }
    }
  }
  const error =
    failed.length === 0
      ? undefined
      : new OperationFailed(`prune could not remove ${failed.length} of ${failed.length + deleted.length} backups: ${failed.map((f) => `${f.id}: ${f.message}`).join('; ')}`, {
          where: o.dir,
          hint: 'the others were removed; fix the cause (permissions?) and run prune again',
          details: { failed },
        });
  const kept = groups.reduce((n, g) => n + g.kept, 0);
  const removed = groups.reduce((n, g) => n + g.removed, 0);
  return { policy: o.policy, policyText: policyText(o.policy), policySource: o.policySource, dryRun: o.dryRun, groups, kept, removed, deleted, failed, serviceHalvesLeft, error };
}
