// A local TCP port whose connections come out of a master's SSH connection (ssh -L): for a
// client that wants a host:port and not a stream, such as node-zookeeper-client reading a
// master's ZooKeeper. Loopback only; every accepted connection gets its own tunnel.

import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Session } from './types.js';

/** An open local forward: 127.0.0.1:port leads to host:port as seen from the session's master. */
export interface LocalForward {
  readonly host: '127.0.0.1';
  readonly port: number;
  /**
   * Why the last accepted connection got no tunnel (a TransportError naming the master): what a
   * client of the port saw only as a connection closed at once.
   */
  readonly lastError: Error | undefined;
  /** Stop listening and close every open connection and tunnel. */
  close(): Promise<void>;
}

/**
 * Listen on 127.0.0.1, port chosen by the system; each accepted socket is piped both ways to a
 * fresh `session.forward(host, port)`. A failure on one connection (its tunnel refused, either
 * side reset) closes that connection only; close() ends the listener and every connection.
 */
export function listenForward(session: Session, host: string, port: number): Promise<LocalForward> {
  const open = new Set<net.Socket | Duplex>();
  let closed = false;
  let stopped: Promise<void> | undefined;
  let lastError: Error | undefined;

  const accept = (sock: net.Socket): void => {
    sock.on('error', () => undefined);
    if (closed) {
      sock.destroy();
      return;
    }
    open.add(sock);
    sock.once('close', () => open.delete(sock));
    // the socket holds what the client writes until the tunnel is there (no reader, no flow)
    session.forward(host, port).then(
      (tunnel) => {
        if (closed || sock.destroyed) {
          tunnel.destroy();
          return;
        }
        open.add(tunnel);
        tunnel.on('error', () => sock.destroy());
        sock.on('error', () => tunnel.destroy());
        // the client gone: nothing left to deliver to it; the tunnel gone: what it sent is
        // flushed to the client before the FIN (pipe ends sock when tunnel ends)
        sock.once('close', () => tunnel.destroy());
        tunnel.once('close', () => {
          open.delete(tunnel);
          if (!sock.writableEnded) sock.end();
        });
        sock.pipe(tunnel);
        tunnel.pipe(sock);
      },
      (err: unknown) => {
        lastError = err instanceof Error ? err : new Error(String(err));
        sock.destroy();
      },
    );
  };

  const server = net.createServer(accept);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      server.off('error', reject);
      server.on('error', (err) => {
        lastError = err;
      });
      const address = server.address() as net.AddressInfo;
      resolve({
        host: '127.0.0.1',
        port: address.port,
        get lastError() {
          return lastError;
        },
        close: () => {
          if (stopped) return stopped;
          closed = true;
          stopped = new Promise<void>((done) => server.close(() => done()));
          for (const s of open) s.destroy();
          open.clear();
          return stopped;
        },
      });
    });
  });
}
