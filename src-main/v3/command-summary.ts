// A v3 log entry in a few words, for the window's log cells and the trace: "put foo=bar",
// "txn", "lease grant 7587…", "auth user add alice". An auth command shows its names only:
// no password hash and no token ever leaves the node this way.
import { fromJson, type V3Command } from './command.js';
import { isAuthCommand } from './auth/types.js';

const text = (b: unknown) => (Buffer.isBuffer(b) ? b.toString('utf8') : '');
/** A lease id as etcdctl prints it: 16 hex digits. */
const leaseHex = (id: bigint) => BigInt.asUintN(64, id).toString(16).padStart(16, '0');

/** The keys a txn touches (its compares and both branches), each once, in order. */
function txnKeys(txn: Extract<V3Command, { txn: unknown }>['txn']): string[] {
  const ops = [...(txn.success ?? []), ...(txn.failure ?? [])];
  const keys = [
    ...(txn.compare ?? []).map((c) => c.key),
    ...ops.map((op) => op.request_put?.key ?? op.request_range?.key ?? op.request_delete_range?.key),
  ];
  return [...new Set(keys.map(text).filter(Boolean))];
}

/** `c`: a v3 entry's command in the log's JSON form (NodeCommand's `c`). */
export function summarizeV3(c: unknown): string {
  const cmd = fromJson(c) as V3Command;
  if ('put' in cmd) return `put ${text(cmd.put.key)}=${text(cmd.put.value)}`;
  if ('delete_range' in cmd) return `del ${text(cmd.delete_range.key)}${cmd.delete_range.range_end ? '…' : ''}`;
  if ('txn' in cmd) return ['txn', ...txnKeys(cmd.txn)].join(' ');
  if ('compaction' in cmd) return `compact ${cmd.compaction.revision}`;
  if ('lease_grant' in cmd) return `lease grant ${leaseHex(cmd.lease_grant.ID)} ${cmd.lease_grant.TTL}s`;
  if ('lease_revoke' in cmd) return `lease revoke ${leaseHex(cmd.lease_revoke.ID)}`;
  if ('alarm' in cmd) return `alarm ${cmd.alarm.action.toLowerCase()} ${cmd.alarm.alarm}`;
  if (isAuthCommand(cmd)) {
    const [kind, args] = Object.entries(cmd).find(([k]) => k !== 'header') as [string, Record<string, unknown>];
    const names = ['name', 'user', 'role'].map((k) => args[k]).filter((v): v is string => typeof v === 'string');
    return [kind.replace(/_/g, ' '), ...names].join(' ');
  }
  return 'v3';
}
