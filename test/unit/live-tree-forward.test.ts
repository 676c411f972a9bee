// The local forward (src/transport/local-forward.ts) over a stand-in Session whose tunnels are
// plain loopback TCP connections: bytes both ways, a tunnel per connection, a refused tunnel
// closing that connection only, close() leaving no listener and no connection; and what
// readLiveTree says when nothing answers behind the port. The real SSH tunnel to a real
// ZooKeeper: test/integration/live-tree.test.ts.
import { once } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperationFailed, TransportError } from '../../src/errors.js';
import { readLiveTree } from '../../src/exhibitor/live-tree.js';
import { listenForward } from '../../src/transport/local-forward.js';
import type { Session } from '../../src/transport/types.js';

let echo: net.Server;
let echoPort: number;
const serverSide = new Set<net.Socket>();

beforeAll(async () => {
  echo = net.createServer((s) => {
    serverSide.add(s);
    s.on('close', () => serverSide.delete(s));
    s.on('data', (d: Buffer) => {
      if (d.toString() === 'bye') s.end('see you');
      else s.write(d);
    });
  });
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  echoPort = (echo.address() as net.AddressInfo).port;
});

afterAll(async () => {
  for (const s of serverSide) s.destroy();
  await new Promise((r) => echo.close(r));
});

/** A Session whose forward() is a TCP connection to the echo server, or refused when `refuse()` says so. */
function session(refuse: (n: number) => boolean = () => false): Session & { calls: number } {
  const s = {
    calls: 0,
    forward(host: string, port: number): Promise<Duplex> {
      const n = ++s.calls;
      if (refuse(n)) return Promise.reject(new TransportError('connect', 'master-9', `cannot open a tunnel to ${host}:${port} (Connection refused) on master-9`));
      const sock = net.connect(echoPort, '127.0.0.1');
      return once(sock, 'connect').then(() => sock);
    },
  };
  return s as unknown as Session & { calls: number };
}

async function connect(port: number): Promise<net.Socket> {
  const c = net.connect(port, '127.0.0.1');
  await once(c, 'connect');
  return c;
}

/** Everything the socket receives until it closes, and whether it ended cleanly or was reset. */
function received(c: net.Socket): Promise<string> {
  const chunks: Buffer[] = [];
  c.on('data', (d: Buffer) => chunks.push(d));
  c.on('error', () => undefined);
  return once(c, 'close').then(() => Buffer.concat(chunks).toString());
}

async function answer(c: net.Socket, text: string): Promise<string> {
  c.write(text);
  const [d] = (await once(c, 'data')) as [Buffer];
  return d.toString();
}

describe('listenForward', () => {
  it('pipes both ways, each connection through its own tunnel', async () => {
    const s = session();
    const fwd = await listenForward(s, '10.0.0.12', 2181);
    expect(fwd.host).toBe('127.0.0.1');
    const [a, b] = [await connect(fwd.port), await connect(fwd.port)];
    expect(await answer(a, 'ruok')).toBe('ruok');
    expect(await answer(b, 'srvr')).toBe('srvr');
    expect(s.calls).toBe(2);
    a.destroy();
    b.destroy();
    await fwd.close();
  });

  it('what a tunnel sends before it ends reaches the client before its end', async () => {
    const fwd = await listenForward(session(), 'h', 1);
    const c = await connect(fwd.port);
    const all = received(c);
    c.write('bye');
    expect(await all).toBe('see you');
    await fwd.close();
  });

  it('a refused tunnel closes that connection only, and says why in lastError', async () => {
    const fwd = await listenForward(
      session((n) => n === 2),
      '10.0.0.12',
      2181,
    );
    const good = await connect(fwd.port);
    expect(await answer(good, 'one')).toBe('one');
    const bad = await connect(fwd.port);
    expect(await received(bad)).toBe('');
    expect(fwd.lastError?.message).toMatch(/cannot open a tunnel to 10\.0\.0\.12:2181 \(Connection refused\) on master-9/);
    expect(await answer(good, 'two')).toBe('two');
    good.destroy();
    await fwd.close();
  });

  it('close() closes every connection and the listener: the old port refuses', async () => {
    const fwd = await listenForward(session(), 'h', 1);
    const c = await connect(fwd.port);
    expect(await answer(c, 'x')).toBe('x');
    const closed = received(c);
    await Promise.all([fwd.close(), fwd.close()]);
    await closed;
    await expect(connect(fwd.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect.poll(() => serverSide.size).toBe(0);
  });
});

describe('readLiveTree without a ZooKeeper behind the port', () => {
  it('fails in its time with OperationFailed naming where it looked', async () => {
    const fwd = await listenForward(
      session(() => true),
      '10.0.0.12',
      2181,
    );
    const started = Date.now();
    const err = await readLiveTree(`127.0.0.1:${fwd.port}`, { timeoutMs: 1000, label: "master-9's ZooKeeper" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationFailed);
    expect((err as OperationFailed).message).toBe("no answer from master-9's ZooKeeper within 1s");
    expect((err as OperationFailed).hint).toMatch(/zkops status/);
    expect(Date.now() - started).toBeLessThan(3000);
    await fwd.close();
  });

  it('an aborted signal ends it as an interruption', async () => {
    const fwd = await listenForward(
      session(() => true),
      'h',
      1,
    );
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    await expect(readLiveTree(`127.0.0.1:${fwd.port}`, { timeoutMs: 10_000, signal: ac.signal })).rejects.toMatchObject({ name: 'Interrupted', exitCode: 130 });
    await fwd.close();
  });
});
