// The daemon `zkops sandbox up` starts for each master: the backup service's stand-in
// (backup-service.ts) over https on the master's address, as Admin Router serves it, with the
// sandbox's accounts and token secret (<sandbox>/iam, iam.ts). One line on stdout once it listens (it goes to
// the master's log); SIGTERM or SIGINT ends it.
//
//   node backup-service-main.js --host A --port 8443 --dir D --duration-ms N --sandbox DIR --cert F --key F

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BackupServiceStandIn } from './backup-service.js';
import { readIam } from './iam.js';

/** The options, each required; a missing or malformed one ends the process with a message. */
function options(): { host: string; port: number; dir: string; durationMs: number; sandbox: string; cert: string; key: string } {
  const names = ['host', 'port', 'dir', 'duration-ms', 'sandbox', 'cert', 'key'] as const;
  const { values } = parseArgs({ options: Object.fromEntries(names.map((n) => [n, { type: 'string' }])) as Record<(typeof names)[number], { type: 'string' }>, strict: true });
  const missing = names.filter((n) => values[n] === undefined);
  if (missing.length > 0) throw new Error(`missing ${missing.map((n) => `--${n}`).join(', ')}`);
  const port = Number(values.port);
  const durationMs = Number(values['duration-ms']);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--port ${values.port} is not a port`);
  if (!Number.isInteger(durationMs) || durationMs < 0) throw new Error(`--duration-ms ${values['duration-ms']} is not a whole number of milliseconds`);
  return { host: values.host as string, port, dir: values.dir as string, durationMs, sandbox: values.sandbox as string, cert: values.cert as string, key: values.key as string };
}

async function main(): Promise<void> {
  const o = options();
  const { accounts, secret } = readIam(o.sandbox);
  // one lock for the whole sandbox, as the real service keeps one for the cluster
  const lockFile = join(o.sandbox, 'iam', 'backup-lock');
  const service = new BackupServiceStandIn({ dir: o.dir, durationMs: o.durationMs, accounts, secret, lockFile, tls: { key: readFileSync(o.key), cert: readFileSync(o.cert) } });
  const url = await service.start(o.host, o.port);
  process.stdout.write(`backup service stand-in listening on ${url.origin} (pid ${process.pid}), storing in ${o.dir}\n`);
  const stop = (): void => void service.stop().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`backup service stand-in: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
