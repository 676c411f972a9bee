// Reading Exhibitor's answer against the inventory: which names a master goes by, and when a
// failure is a certificate that will never verify (refused at once, not at a timeout). Used by
// the health wait, `status` and `check`.

import type { Inventory } from '../inventory/types.js';
import { CertificateError, StatusFetchError } from './fetch.js';

/** The names a master may appear under in Exhibitor's answer. */
export function hostsOf(inv: Inventory): { name: string; hosts: string[] }[] {
  return inv.masters.map((m) => ({ name: m.name, hosts: [...new Set([m.host, m.inventoryHost, m.name])] }));
}

export const CERT_HINT = "set exhibitor.caFile to the CA that signed Exhibitor's certificate (on DC/OS: https://<master>/ca/dcos-ca.crt)";

/** The certificate error when every master that was asked refused its certificate. */
export function refusedCertificate(err: unknown): CertificateError | undefined {
  if (!(err instanceof StatusFetchError) || err.failures.length === 0) return undefined;
  if (!err.failures.every((f) => f.error instanceof CertificateError)) return undefined;
  return err.failures[0]?.error as CertificateError;
}
