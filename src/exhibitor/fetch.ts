// Fetch Exhibitor's cluster status: through an SSH tunnel from a master (via: ssh) or
// straight from here (via: direct), rotating over the masters so one node's view is not
// the only one. http or https (caFile, optional client certificate).

import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import type { Inventory, Master } from '../inventory/types.js';
import type { Session } from '../transport/types.js';
import { parseStatus, type StatusEntry } from './status.js';

/** Gives the run's one session per master. */
export interface SessionProvider {
  session(master: Master): Promise<Session>;
}

export interface FetchedStatus {
  entries: StatusEntry[];
  /** The master whose Exhibitor answered. */
  from: string;
}

/** The status URL for one master ({host} replaced). */
export function statusUrlFor(template: string, master: Pick<Master, 'host'>): URL {
  return new URL(template.replaceAll('{host}', master.host));
}

/** A status URL's TLS certificate did not verify: refused, never retried insecurely. */
export class CertificateError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
    this.name = 'CertificateError';
  }
}

/** No master's Exhibitor answered; each master's reason. */
export class StatusFetchError extends Error {
  constructor(readonly failures: { master: string; error: Error }[]) {
    super(`no Exhibitor answered: ${failures.map((f) => `${f.master}: ${f.error.message}`).join('; ')}`);
    this.name = 'StatusFetchError';
  }
}

// OpenSSL's verify results as node reports them (err.code), and node's own name check.
const CERT_CODES = /^(ERR_TLS_CERT_ALTNAME_INVALID|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_[A-Z_]+|INVALID_CA|HOSTNAME_MISMATCH)$/;

/** A TLS verification failure in words: which URL, against which CA, what OpenSSL said. */
export function certificateError(err: unknown, url: URL, caFile: string | undefined): CertificateError | undefined {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string' || !CERT_CODES.test(code)) return undefined;
  const against = caFile ? `against caFile ${caFile}` : 'against the system CAs (no exhibitor.caFile)';
  return new CertificateError(`the TLS certificate of ${url.origin}/ does not verify ${against}: ${(err as Error).message} (${code})`, code);
}

export class StatusFetcher {
  private next = 0;
  private readonly tlsFiles: { ca?: Buffer; cert?: Buffer; key?: Buffer };

  constructor(
    private readonly inventory: Inventory,
    private readonly sessions: SessionProvider,
    private readonly timeoutMs = 5000,
  ) {
    const x = inventory.exhibitor;
    this.tlsFiles = {
      ...(x.caFile ? { ca: readFileSync(x.caFile) } : {}),
      ...(x.certFile ? { cert: readFileSync(x.certFile) } : {}),
      ...(x.keyFile ? { key: readFileSync(x.keyFile) } : {}),
    };
  }

  /** One poll: ask the next master in rotation; on failure, the following ones. */
  async fetch(signal?: AbortSignal): Promise<FetchedStatus> {
    const masters = this.inventory.masters;
    const errors: { master: string; error: Error }[] = [];
    for (let i = 0; i < masters.length; i++) {
      const master = masters[(this.next + i) % masters.length] as Master;
      try {
        const body = await this.fetchFrom(master, signal);
        this.next = (this.next + i + 1) % masters.length;
        return { entries: parseStatus(body), from: master.name };
      } catch (err) {
        if (signal?.aborted) throw err;
        errors.push({ master: master.name, error: err instanceof Error ? err : new Error(String(err)) });
      }
    }
    this.next = (this.next + 1) % masters.length;
    throw new StatusFetchError(errors);
  }

  /** GET the status from one master's Exhibitor. */
  async fetchFrom(master: Master, signal?: AbortSignal): Promise<string> {
    const url = statusUrlFor(this.inventory.exhibitor.statusUrl, master);
    const secure = url.protocol === 'https:';
    const port = Number(url.port || (secure ? 443 : 80));
    let socket: Duplex | undefined;
    if (this.inventory.exhibitor.via === 'ssh') {
      const session = await this.sessions.session(master);
      socket = await session.forward(url.hostname, port);
    }
    return await this.get(url, port, secure, socket, signal);
  }

  private get(url: URL, port: number, secure: boolean, tunnel: Duplex | undefined, signal?: AbortSignal): Promise<string> {
    return new Promise((resolve, reject) => {
      const tlsOpts = { ...this.tlsFiles, servername: isIP(url.hostname) ? undefined : url.hostname, rejectUnauthorized: true };
      const options: https.RequestOptions = {
        host: url.hostname,
        port,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: { accept: 'application/json', host: url.host },
        timeout: this.timeoutMs,
        // No agent with a tunnel: an agent (even `agent: false`, a fresh one) opens its own
        // TCP connection to host:port and ignores createConnection, so the request would go
        // from the bastion straight to the URL instead of through the master.
        ...(tunnel ? {} : { agent: false }),
        ...(signal ? { signal } : {}),
      };
      if (tunnel) {
        // host: the name the certificate is checked against; without it node checks "localhost"
        // (the socket is the tunnel, it has no peer name), and an https URL with an IP failed
        options.createConnection = () => (secure ? tls.connect({ ...tlsOpts, socket: tunnel, host: url.hostname }) : (tunnel as never));
      } else if (secure) {
        Object.assign(options, tlsOpts);
      }
      const req = (secure ? https : http).request(options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 0) >= 400) reject(new Error(`HTTP ${res.statusCode} from ${url.href}`));
          else resolve(body);
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`timed out after ${this.timeoutMs}ms asking ${url.href}`)));
      req.on('error', (err) => {
        tunnel?.destroy();
        reject(certificateError(err, url, this.inventory.exhibitor.caFile) ?? err);
      });
      req.end();
    });
  }
}
