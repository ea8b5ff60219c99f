// A v3 log entry in a few words, for the window's log cells and the trace: "put foo=bar",
// "txn", "lease grant 7587…", "auth user add alice". An auth command shows its names only:
// no password hash and no token ever leaves the node this way.
import { fromJson, type V3Command } from './command.js';
import { isAuthCommand } from './auth/types.js';

const text = (b: unknown) => (Buffer.isBuffer(b) ? b.toString('utf8') : '');

/** `c`: a v3 entry's command in the log's JSON form (NodeCommand's `c`). */
export function summarizeV3(c: unknown): string {
  const cmd = fromJson(c) as V3Command;
  if ('put' in cmd) return `put ${text(cmd.put.key)}=${text(cmd.put.value)}`;
  if ('delete_range' in cmd) return `del ${text(cmd.delete_range.key)}${cmd.delete_range.range_end ? '…' : ''}`;
  if ('txn' in cmd) return 'txn';
  if ('compaction' in cmd) return `compact ${cmd.compaction.revision}`;
  if ('lease_grant' in cmd) return `lease grant ${cmd.lease_grant.ID.toString(16)}`;
  if ('lease_revoke' in cmd) return `lease revoke ${cmd.lease_revoke.ID.toString(16)}`;
  if (isAuthCommand(cmd)) {
    const [kind, args] = Object.entries(cmd).find(([k]) => k !== 'header') as [string, Record<string, unknown>];
    const names = ['name', 'user', 'role'].map((k) => args[k]).filter((v): v is string => typeof v === 'string');
    return [kind.replace(/_/g, ' '), ...names].join(' ');
  }
  return 'v3';
}
