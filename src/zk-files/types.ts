// The records of ZooKeeper's files as this reader hands them out: ACLs, the persisted stat of a
// znode, and the transactions of the log (zookeeper.jute: TxnHeader, CreateTxn, …), one variant
// per OpCode. Longs that can pass 2^53 (zxids, session ids, ephemeral owners) are bigints;
// times are milliseconds and fit a number.

/** ZooDefs.OpCode: the numbers a TxnHeader's type field holds. */
export const OpCode = {
  create: 1,
  delete: 2,
  setData: 5,
  setACL: 7,
  check: 13,
  multi: 14,
  create2: 15,
  reconfig: 16,
  createContainer: 19,
  deleteContainer: 20,
  createTTL: 21,
  createSession: -10,
  closeSession: -11,
  error: -1,
} as const;
export type OpName = keyof typeof OpCode;

/** KeeperException.Code values the replay produces or reads from error txns. */
export const ErrCode = { ok: 0, runtimeInconsistency: -2, noNode: -101, nodeExists: -110 } as const;

/** One entry of an ACL list (zookeeper.jute ACL: perms, Id{scheme, id}). */
export interface Acl {
  perms: number;
  scheme: string;
  id: string;
}

/** StatPersisted: what a snapshot stores of a znode's stat (no dataLength, no numChildren). */
export interface ZStat {
  czxid: bigint;
  mzxid: bigint;
  ctime: number;
  mtime: number;
  version: number;
  /** Persisted cversion counts child creations; clients see cversion*2 - numChildren (DataNode.copyStat). */
  cversion: number;
  aversion: number;
  /** 0, a session id, 0x8000000000000000 for a container, or 0xff… for a TTL node. */
  ephemeralOwner: bigint;
  pzxid: bigint;
}

/** TxnHeader. */
export interface TxnHeader {
  clientId: bigint;
  cxid: number;
  zxid: bigint;
  time: number;
  type: number;
}

/** TxnDigest, appended to a record by 3.6+ when zookeeper.digest.enabled (the default). */
export interface TxnDigest {
  version: number;
  treeDigest: bigint;
}

/** A transaction's body, by OpCode. Sub-transactions of a multi have the same shapes. */
export type Txn =
  | { op: 'create' | 'create2'; path: string; data: Buffer; acl: Acl[]; ephemeral: boolean; parentCVersion: number }
  | { op: 'createContainer'; path: string; data: Buffer; acl: Acl[]; parentCVersion: number }
  | { op: 'createTTL'; path: string; data: Buffer; acl: Acl[]; parentCVersion: number; ttl: bigint }
  | { op: 'delete' | 'deleteContainer'; path: string }
  | { op: 'setData' | 'reconfig'; path: string; data: Buffer; version: number }
  | { op: 'setACL'; path: string; acl: Acl[]; version: number }
  | { op: 'check'; path: string; version: number }
  | { op: 'createSession'; timeout: number }
  /** paths: the session's ephemerals as the leader saw them (3.6+ CloseSessionTxn); undefined in 3.4/3.5. */
  | { op: 'closeSession'; paths: string[] | undefined }
  | { op: 'error'; err: number }
  | { op: 'multi'; txns: Txn[] };

/** One record of a transaction log. */
export interface TxnRecord {
  /** Byte offset of the record (its checksum) in the log file. */
  offset: number;
  header: TxnHeader;
  txn: Txn;
  digest: TxnDigest | undefined;
}

/** The file header of both kinds (zookeeper.jute FileHeader). */
export interface FileHeader {
  magic: string;
  version: number;
  dbid: bigint;
}

/** The epoch of a zxid: its high 32 bits. */
export const epochOf = (zxid: bigint): number => Number(BigInt.asUintN(64, zxid) >> 32n);
/** The counter of a zxid within its epoch: its low 32 bits. */
export const counterOf = (zxid: bigint): number => Number(BigInt.asUintN(32, zxid));
