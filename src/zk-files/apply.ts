// One transaction applied to a tree as a server replaying its log does: FileTxnSnapLog.
// processTransaction (the session map) and DataTree.processTxn (everything else, a multi's
// sub-transactions one by one). Errors such as NodeExists and NoNode are results, not failures:
// a fuzzy snapshot already holds some of the txns after its zxid, and ZooKeeper ignores them.

import { ErrCode, OpCode, type Txn, type TxnHeader } from './types.js';
import type { ZkTree } from './tree.js';

const CONTAINER_OWNER = -(2n ** 63n);
const TTL_MAX = (1n << 40n) - 1n;
/** KeeperException.Code.BADARGUMENTS: what a TTL out of range counts as here (ZooKeeper throws). */
const BAD_ARGUMENTS = -8;

/** Apply one logged transaction; returns its error code (0 when it changed the tree as logged). */
export function applyTxn(tree: ZkTree, header: TxnHeader, txn: Txn): number {
  if (txn.op === 'createSession') tree.sessions.set(header.clientId, txn.timeout);
  else if (txn.op === 'closeSession') tree.sessions.delete(header.clientId);
  return processTxn(tree, header, txn);
}

function processTxn(tree: ZkTree, h: TxnHeader, txn: Txn): number {
  const err = processBody(tree, h, txn);
  // DataTree.processTxn: a create (type 1 only) that finds its node already there still moves
  // the parent's cversion and pzxid on (a node deleted and created again in the fuzzy range).
  if (txn.op === 'create' && err === ErrCode.nodeExists) {
    const slash = txn.path.lastIndexOf('/');
    if (tree.setCversionPzxid(txn.path.slice(0, slash), txn.parentCVersion, h.zxid) !== ErrCode.ok) return ErrCode.noNode;
  }
  return err;
}

function processBody(tree: ZkTree, h: TxnHeader, txn: Txn): number {
  switch (txn.op) {
    case 'create':
    case 'create2':
      return tree.createNode(txn.path, txn.data, txn.acl, txn.ephemeral ? h.clientId : 0n, txn.parentCVersion, h.zxid, h.time);
    case 'createContainer':
      return tree.createNode(txn.path, txn.data, txn.acl, CONTAINER_OWNER, txn.parentCVersion, h.zxid, h.time);
    case 'createTTL':
      if (txn.ttl <= 0n || txn.ttl > TTL_MAX) return BAD_ARGUMENTS;
      return tree.createNode(txn.path, txn.data, txn.acl, BigInt.asIntN(64, (0xffn << 56n) | txn.ttl), txn.parentCVersion, h.zxid, h.time);
    case 'delete':
    case 'deleteContainer':
      return tree.deleteNode(txn.path, h.zxid);
    case 'setData':
    case 'reconfig':
      return tree.setData(txn.path, txn.data, txn.version, h.zxid, h.time);
    case 'setACL':
      return tree.setACL(txn.path, txn.acl, txn.version);
    case 'closeSession':
      tree.killSession(h.clientId, h.zxid, txn.paths);
      return ErrCode.ok;
    case 'error':
      return txn.err;
    case 'createSession':
    case 'check':
      return ErrCode.ok;
    case 'multi':
      return processMulti(tree, h, txn.txns);
  }
}

/**
 * A multi: when any sub-transaction is an error, none is applied (the others count as errors:
 * OK before the failing one, RUNTIMEINCONSISTENCY after it), as DataTree.processTxn does.
 */
function processMulti(tree: ZkTree, h: TxnHeader, txns: Txn[]): number {
  const failed = txns.some((t) => t.op === 'error');
  let postFailed = false;
  let err: number = ErrCode.ok;
  for (const sub of txns) {
    if (sub.op === 'error') postFailed = true;
    const record: Txn = failed && sub.op !== 'error' ? { op: 'error', err: postFailed ? ErrCode.runtimeInconsistency : ErrCode.ok } : sub;
    const subErr = processTxn(tree, { ...h, type: OpCode[record.op] }, record);
    if (subErr !== ErrCode.ok && err === ErrCode.ok) err = subErr;
  }
  return err;
}
