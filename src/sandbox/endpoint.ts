// The Exhibitor-compatible status endpoint of one sandbox master (its own program: it is
// copied into the master's /opt/mesosphere and started by the master's `systemctl start`, so
// it imports nothing but Node's own modules).
//
// GET /exhibitor/v1/cluster/status (and the Admin Router path /exhibitor/exhibitor/v1/...)
// answers, for every ensemble member, what Exhibitor would, computed live from each member's
// `srvr` reply: leader/follower/standalone → 3 "serving"; a reply without a serving mode → 2
// "not serving"; no reply → 1 "down".

import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';

const HOME = '/opt/mesosphere/zkops-sandbox';

function readEnv(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (!m) continue;
    const raw = m[2] as string;
    env[m[1] as string] = raw.startsWith("'") ? raw.slice(1, -1).replace(/'\\''/g, "'") : raw;
  }
  return env;
}

interface Entry {
  code: number;
  description: string;
  hostname: string;
  isLeader: boolean;
}

function srvr(host: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let out = '';
    const s = connect({ host, port: 2181 });
    const done = (v: string | undefined): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(out || undefined), timeoutMs);
    s.on('connect', () => s.end('srvr'));
    s.on('data', (d: Buffer) => {
      out += d.toString('utf8');
    });
    s.on('end', () => done(out));
    s.on('error', () => done(undefined));
  });
}

async function entryFor(host: string): Promise<Entry> {
  const reply = await srvr(host, 1500);
  if (reply === undefined) return { code: 1, description: 'down', hostname: host, isLeader: false };
  const mode = /^Mode: (\S+)/m.exec(reply)?.[1];
  if (mode === 'leader' || mode === 'follower' || mode === 'standalone') {
    return { code: 3, description: 'serving', hostname: host, isLeader: mode !== 'follower' };
  }
  return { code: 2, description: 'not serving', hostname: host, isLeader: false };
}

const PATHS = new Set(['/exhibitor/v1/cluster/status', '/exhibitor/exhibitor/v1/cluster/status']);

function main(): void {
  const env = readEnv(`${HOME}/env`);
  const address = env.ADDR as string;
  const peers = (env.PEERS ?? '').split(' ').filter(Boolean);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    if (req.method !== 'GET' || !PATHS.has(path)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    Promise.all(peers.map(entryFor)).then(
      (entries) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(entries)),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
    );
  });
  server.listen(8181, address, () => {
    // The pid file doubles as "listening": systemctl start waits for it.
    writeFileSync(`${HOME}/run/endpoint.pid`, `${process.pid}\n`);
  });
  const stop = (): void => {
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
