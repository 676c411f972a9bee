// Decoding one transaction record's bytes (after the log has checked its Adler32): the TxnHeader,
// the body by type, and the TxnDigest 3.6+ appends. Follows SerializeUtils.deserializeTxn (3.4.14
// and 3.8) and, for a multi's sub-records, DataTree.processTxn. A record that passed its checksum
// but does not read exactly is Malformed: ZooKeeper wrote it, so a reader that disagrees with it
// must say so rather than guess.

import { Malformed, Overrun, Reader } from './bytes.js';
import { OpCode, type Acl, type Txn, type TxnDigest, type TxnHeader } from './types.js';

const NAMES = new Map<number, keyof typeof OpCode>(Object.entries(OpCode).map(([k, v]) => [v, k as keyof typeof OpCode]));

/** The OpCode name of a type number, or the number itself in brackets when it is not a txn type. */
export function opName(type: number): string {
  return NAMES.get(type) ?? `[type ${type}]`;
}

export function readAcls(r: Reader, what: string): Acl[] {
  const n = r.vector(`${what} ACL`, 12) ?? 0;
  const acl: Acl[] = [];
  for (let i = 0; i < n; i++) {
    const perms = r.int();
    acl.push({ perms, scheme: r.string('ACL scheme') ?? '', id: r.string('ACL id') ?? '' });
  }
  return acl;
}

const path = (r: Reader): string => r.string('path') ?? '';

/** The body of a txn of `type` (a top-level record or a multi's sub-record). */
function readBody(r: Reader, type: number, inMulti: boolean): Txn {
  switch (type) {
    case OpCode.create:
    case OpCode.create2: {
      const op = type === OpCode.create ? 'create' : 'create2';
      const at = r.pos;
      try {
        return { op, path: path(r), data: r.buffer('data'), acl: readAcls(r, 'create'), ephemeral: r.bool(), parentCVersion: r.int() };
      } catch (err) {
        // CreateTxnV0 (before 3.3) has no parentCVersion; -1 makes createNode count it (SerializeUtils).
        if (!(err instanceof Overrun) || type !== OpCode.create || inMulti) throw err;
        r.pos = at;
        return { op, path: path(r), data: r.buffer('data'), acl: readAcls(r, 'create'), ephemeral: r.bool(), parentCVersion: -1 };
      }
    }
    case OpCode.createContainer:
      return { op: 'createContainer', path: path(r), data: r.buffer('data'), acl: readAcls(r, 'create'), parentCVersion: r.int() };
    case OpCode.createTTL:
      return { op: 'createTTL', path: path(r), data: r.buffer('data'), acl: readAcls(r, 'create'), parentCVersion: r.int(), ttl: r.long() };
    case OpCode.delete:
    case OpCode.deleteContainer:
      return { op: type === OpCode.delete ? 'delete' : 'deleteContainer', path: path(r) };
    case OpCode.setData:
      return { op: 'setData', path: path(r), data: r.buffer('data'), version: r.int() };
    case OpCode.setACL:
      return { op: 'setACL', path: path(r), acl: readAcls(r, 'setACL'), version: r.int() };
    case OpCode.check:
      return { op: 'check', path: path(r), version: r.int() };
    case OpCode.error:
      return { op: 'error', err: r.int() };
  }
  if (!inMulti) {
    switch (type) {
      case OpCode.reconfig:
        return { op: 'reconfig', path: path(r), data: r.buffer('data'), version: r.int() };
      case OpCode.createSession:
        return { op: 'createSession', timeout: r.int() };
      case OpCode.closeSession:
        return { op: 'closeSession', paths: readClosePaths(r) };
      case OpCode.multi:
        return { op: 'multi', txns: readMulti(r) };
    }
  }
  throw new Malformed(r.offset, `${inMulti ? 'a multi holds a sub-transaction' : 'transaction'} of type ${type}, which ZooKeeper does not log${inMulti ? '' : ' (SerializeUtils: "Unsupported Txn")'}`);
}

/**
 * CloseSessionTxn (3.6+, zookeeper.closeSessionTxn.enabled): the session's ephemerals. 3.4 and
 * 3.5 log no body; then nothing or only a 12-byte TxnDigest follows the header.
 */
function readClosePaths(r: Reader): string[] | undefined {
  if (r.remaining === 0 || r.remaining === 12) {
    const at = r.pos;
    try {
      const paths = readPaths(r);
      if (r.remaining === 0 || r.remaining === 12) return paths;
    } catch (err) {
      if (!(err instanceof Malformed)) throw err;
    }
    r.pos = at;
    return undefined;
  }
  return readPaths(r);
}

function readPaths(r: Reader): string[] {
  const n = r.vector('paths2Delete', 4) ?? 0;
  const paths: string[] = [];
  for (let i = 0; i < n; i++) paths.push(path(r));
  return paths;
}

/** MultiTxn: a vector of Txn {type, buffer data}, each data a sub-record of its own. */
function readMulti(r: Reader): Txn[] {
  const n = r.vector('multi', 8) ?? 0;
  const txns: Txn[] = [];
  for (let i = 0; i < n; i++) {
    const type = r.int();
    const base = r.offset + 4;
    const data = r.bufferView('multi sub-record');
    const sub = new Reader(data, 0, base, r.maxLength, data.length, true);
    txns.push(readBody(sub, type, true));
    if (sub.remaining !== 0) throw new Malformed(sub.offset, `${sub.remaining} bytes left over after sub-transaction ${i} (${opName(type)}) of a multi`);
  }
  return txns;
}

/** Decode one record's bytes (TxnHeader, body, optional TxnDigest); `base` is the file offset of bytes[0]. */
export function decodeTxn(bytes: Buffer, base: number, maxLength: number): { header: TxnHeader; txn: Txn; digest: TxnDigest | undefined } {
  const r = new Reader(bytes, 0, base, maxLength, bytes.length, true);
  const header: TxnHeader = { clientId: r.long(), cxid: r.int(), zxid: r.long(), time: r.time(), type: r.int() };
  const txn = readBody(r, header.type, false);
  let digest: TxnDigest | undefined;
  if (r.remaining >= 12) digest = { version: r.int(), treeDigest: r.long() };
  if (r.remaining !== 0) throw new Malformed(r.offset, `${r.remaining} bytes left over after the ${opName(header.type)} transaction`);
  return { header, txn, digest };
}
