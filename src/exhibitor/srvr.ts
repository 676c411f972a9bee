// Ask a ZooKeeper member for `srvr` through its master's SSH connection (no tool needed on
// the master): mode, zxid and version.

import type { Session } from '../transport/types.js';
import { parseSrvr } from './status.js';

/** DC/OS ZooKeeper client port. */
export const ZK_CLIENT_PORT = 2181;

export async function askSrvr(session: Session, host: string, port = ZK_CLIENT_PORT, timeoutMs = 5000): Promise<ReturnType<typeof parseSrvr>> {
  const stream = await session.forward(host, port);
  const text = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`no srvr answer from ${host}:${port} within ${timeoutMs}ms`));
    }, timeoutMs);
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', (e: Error) => {
      clearTimeout(timer);
      reject(e);
    });
    stream.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    stream.end('srvr\n');
  });
  return parseSrvr(text);
}
