// What a node's worker reports in few words: an entry's data ("set /a=1", "publish n1"), a peer
// message as the window's wire summary, and a message held in step mode with its entries.

import type { Message } from '../../src-shared/raft-types.js';
import type { MemberInfo } from '../node/client-backend.js';
import { summarizeV3 } from '../v3/command-summary.js';
import type { HeldReport, WireMessage } from './worker-protocol.js';

/** "set /a=1", "no-op", "publish n1", "add 8e9e05c52164694d"... at most ~48 characters. */
export function summarizeEntryData(type: 'normal' | 'conf', data: string): string {
  if (type === 'normal' && data === '') return 'no-op';
  let s: string;
  try {
    const o = JSON.parse(data) as Record<string, unknown>;
    if (type === 'conf') {
      const ctx = typeof o.context === 'string' ? (JSON.parse(o.context) as { member?: MemberInfo }) : undefined;
      s = `${String(o.type)} ${ctx?.member?.name || String(o.id)}`;
    } else if (o.t === 'publish') {
      s = `publish ${String(o.name)}`;
    } else if (o.t === 'v3') {
      s = summarizeV3(o.c);
    } else if (o.t === 'v2') {
      const c = o.c as { op: string; path: string; value?: string; dir?: boolean; space?: string };
      // v2 auth's users and roles: their values (password hashes among them) are not shown.
      if (c.space === 'auth') s = `auth ${c.op} ${c.path}${c.dir ? '/' : ''}`;
      else s = `${c.op} ${c.path}${c.dir ? '/' : c.value !== undefined ? `=${c.value}` : ''}`;
    } else s = data;
  } catch {
    s = data;
  }
  return s.length > 48 ? `${s.slice(0, 47)}…` : s;
}

export function summarizeMessage(m: Message): WireMessage {
  const w: WireMessage = { msgType: m.type, from: m.from, to: m.to, term: m.term };
  if (m.index !== undefined) w.index = m.index;
  if (m.logTerm !== undefined) w.logTerm = m.logTerm;
  if (m.entries !== undefined) w.entries = m.entries.length;
  if (m.commit !== undefined) w.commit = m.commit;
  if (m.reject !== undefined) w.reject = m.reject;
  if (m.snapshot !== undefined) w.snapshot = m.snapshot.meta.index;
  if (m.id !== undefined) w.id = m.id;
  return w;
}

const HELD_ENTRIES_SHOWN = 32;

export function summarizeHeld(m: Message): HeldReport['s'] {
  const s: HeldReport['s'] = summarizeMessage(m);
  if (m.type === 'MsgApp' && m.entries?.length) {
    s.entryDetails = m.entries
      .slice(0, HELD_ENTRIES_SHOWN)
      .map((e) => ({ index: e.index, term: e.term, type: e.type, data: summarizeEntryData(e.type, e.data) }));
  }
  if (m.type === 'MsgVote' || m.type === 'MsgPreVote')
    s.candidate = { lastIndex: m.index ?? 0, lastTerm: m.logTerm ?? 0 };
  return s;
}
