// zkops status against a 3-master sandbox (SPEC sections 1 and 2): the table and --json,
// a master down (the next master is asked), no leader, --wait, and `via: direct` over https
// with a CA made here (openssl) — and a wrong CA refused. Addresses: 127.0.33.1-3.

import { execFileSync } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, zkops, type CliResult } from '../helpers/cli.js';
import { eventually, inventoryCopy, startSandbox, stopSandbox, waitClusterHealthy, type TestSandbox } from '../helpers/sandbox.js';

interface StatusDoc {
  healthy: boolean;
  reason: string | null;
  from: string;
  masters: { master: string; host: string; state: string; code: number | null; leader: boolean }[];
}

const ADDRESSES = ['127.0.33.1', '127.0.33.2', '127.0.33.3'];
let sb: TestSandbox;
const proxies: https.Server[] = [];

const status = (...args: string[]): Promise<CliResult> => zkops(['status', ...args], { cwd: sb.work, timeoutMs: 180_000 });

/** Run on several masters at once. */
const onMasters = (masters: number[], command: string) => Promise.all(masters.map((i) => sb.ssh(i, command)));

/** A CA and a server certificate for the master addresses, made with openssl. */
function makeCa(dir: string, name: string): { ca: string; cert: string; key: string } {
  const f = (x: string) => join(dir, `${name}-${x}`);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', `/CN=${name} test CA`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  ssl('req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=exhibitor');
  writeFileSync(f('ext.cnf'), `subjectAltName=${ADDRESSES.map((a) => `IP:${a}`).join(',')}\nextendedKeyUsage=serverAuth\n`);
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.crt'), '-days', '2', '-extfile', f('ext.cnf'));
  return { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key') };
}

/** Exhibitor over https: a TLS proxy on address:8444 in front of the master's :8181 (8443 is the sandbox's backup service). */
function httpsExhibitor(address: string, cert: string, key: string): Promise<https.Server> {
  const server = https.createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (req, res) => {
    const up = http.request({ host: address, port: 8181, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', (err) => res.writeHead(502).end(err.message));
    req.pipe(up);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(8444, address, () => resolve(server));
  });
}

beforeAll(async () => {
  sb = await startSandbox({ masters: 3, baseIp: ADDRESSES[0] as string, name: 'status' });
});

afterAll(async () => {
  await Promise.all(proxies.map((p) => new Promise((r) => p.close(r))));
  await stopSandbox(sb);
});

describe('zkops status', () => {
  it('healthy: a table of master, state, leader on stdout, exit 0; the same as --json', async () => {
    const r = await status('-i', sb.inventory);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^MASTER\s+HOST\s+STATE\s+LEADER$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 3))).toEqual(ADDRESSES.map((a, i) => [`master-${i + 1}`, a, 'serving']));
    expect(lines.filter((l) => / leader$/.test(l))).toHaveLength(1);
    expect(r.stderr).toMatch(/healthy: 3 serving, one leader/);

    const j = await status('-i', sb.inventory, '--json');
    expect(j.code).toBe(0);
    const doc = json<StatusDoc>(j);
    expect(doc.healthy).toBe(true);
    expect(doc.masters.map((m) => [m.master, m.state, m.code])).toEqual(ADDRESSES.map((_a, i) => [`master-${i + 1}`, 'serving', 3]));
    expect(doc.masters.filter((m) => m.leader)).toHaveLength(1);
  });

  it('one master down: exit 4 and its row says down; the next master answers for it', async () => {
    expect((await sb.ssh(1, 'systemctl stop dcos-exhibitor')).code).toBe(0);
    try {
      const r = await eventually(
        'master-1 reported down',
        () => status('-i', sb.inventory, '--json'),
        (x) => json<StatusDoc>(x).masters[0]?.state === 'down',
      );
      expect(r.code).toBe(4);
      const doc = json<StatusDoc>(r);
      expect(doc.healthy).toBe(false);
      expect(doc.from).not.toBe('master-1');
      expect(doc.reason).toContain('2/3 serving (master-1 down)');
      expect(doc.masters.slice(1).map((m) => m.state)).toEqual(['serving', 'serving']);

      const t = await status('-i', sb.inventory);
      expect(t.code).toBe(4);
      expect(t.stdout).toMatch(/^master-1\s+127\.0\.33\.1\s+down\s*$/m);
      expect(t.stderr).toContain('NOT healthy: 2/3 serving (master-1 down)');
    } finally {
      expect((await sb.ssh(1, 'systemctl start dcos-exhibitor')).code).toBe(0);
    }
    await waitClusterHealthy(sb);
  });

  it('no leader (2 of 3 down): exit 4; --wait gives up after --timeout with exit 4; started again, --wait --timeout 60s exits 0', async () => {
    expect((await onMasters([1, 2], 'systemctl stop dcos-exhibitor')).every((x) => x.code === 0)).toBe(true);
    let started = false;
    try {
      const r = await eventually(
        'master-3 alone, not serving',
        () => status('-i', sb.inventory, '--json'),
        (x) => json<StatusDoc>(x).masters[2]?.state !== 'serving',
      );
      expect(r.code).toBe(4);
      const doc = json<StatusDoc>(r);
      expect(doc.healthy).toBe(false);
      expect(doc.masters.filter((m) => m.leader)).toEqual([]);
      expect(doc.masters.filter((m) => m.state === 'serving')).toEqual([]);

      const gaveUp = await status('-i', sb.inventory, '--wait', '--timeout', '3s', '--json');
      expect(gaveUp.code).toBe(4);
      expect(json<{ healthy: boolean; error: { message: string } }>(gaveUp).error.message).toContain('did not become healthy within 3s');

      expect((await onMasters([1, 2], 'systemctl start dcos-exhibitor')).every((x) => x.code === 0)).toBe(true);
      started = true;
      const w = await status('-i', sb.inventory, '--wait', '--timeout', '60s', '--json');
      expect(w.code, w.stderr).toBe(0);
      const done = json<{ healthy: boolean; polls: number; rows: { state: string; leader: boolean }[] }>(w);
      expect(done.healthy).toBe(true);
      expect(done.polls).toBeGreaterThanOrEqual(3);
      expect(done.rows.map((x) => x.state)).toEqual(['serving', 'serving', 'serving']);
      expect(done.rows.filter((x) => x.leader)).toHaveLength(1);
    } finally {
      if (!started) await onMasters([1, 2], 'systemctl start dcos-exhibitor');
    }
    await waitClusterHealthy(sb);
  });

  it('via: direct and via: ssh over https with the CA made here; a wrong CA is refused with a certificate error', async () => {
    const good = makeCa(sb.work, 'good');
    const other = makeCa(sb.work, 'other');
    for (const a of ADDRESSES) proxies.push(await httpsExhibitor(a, good.cert, good.key));
    const direct = (name: string, ca: string) =>
      inventoryCopy(sb, name, (doc) => {
        Object.assign(doc.exhibitor as object, { via: 'direct', statusUrl: 'https://{host}:8444/exhibitor/v1/cluster/status', caFile: ca });
      });

    const ok = await status('-i', direct('inventory-https', good.ca), '--json');
    expect(ok.code, ok.stderr).toBe(0);
    const doc = json<StatusDoc>(ok);
    expect(doc.healthy).toBe(true);
    expect(doc.from).toBe('master-1');

    const wrongCa = direct('inventory-wrong-ca', other.ca);
    const wrong = await status('-i', wrongCa);
    expect(wrong.code).toBe(3);
    expect(wrong.stdout).toBe('');
    expect(wrong.stderr).toContain(`refused Exhibitor's TLS certificate on every master: the TLS certificate of https://127.0.33.1:8444/ does not verify against caFile ${other.ca}`);
    expect(wrong.stderr).toMatch(/\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);
    expect(wrong.stderr).toContain('hint: set exhibitor.caFile');
    // --wait does not poll a certificate that cannot verify until its timeout
    const waited = await status('-i', wrongCa, '--wait', '--timeout', '10m', '--json');
    expect(waited.code).toBe(3);
    expect(json<{ healthy: boolean; error: { message: string } }>(waited).error.message).toContain('does not verify against caFile');

    // through the SSH tunnel the certificate is checked against the URL's host (the IP), as from here
    const tunnelled = await status('-i', inventoryCopy(sb, 'inventory-https-ssh', (d) => {
      Object.assign(d.exhibitor as object, { via: 'ssh', statusUrl: 'https://{host}:8444/exhibitor/v1/cluster/status', caFile: good.ca });
    }), '--json');
    expect(tunnelled.code, tunnelled.stderr).toBe(0);
    expect(json<StatusDoc>(tunnelled).healthy).toBe(true);

    // without caFile the system CAs do not know this CA either
    const none = await status('-i', inventoryCopy(sb, 'inventory-no-ca', (d) => {
      Object.assign(d.exhibitor as object, { via: 'direct', statusUrl: 'https://{host}:8444/exhibitor/v1/cluster/status' });
    }));
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/certificate .* does not verify against the system CAs/);
  });
});
