// How the data-driven Raft scripts print messages, entries, Readies and events: one line per
// thing, in the manner of etcd-io/raft's DescribeMessage / DescribeReady, so that a script
// reads like a trace (`1->2 MsgVote Term:2 Log:1/3`: Log is term/index).
import {
  decodeConfChange,
  type Entry,
  type Message,
  type NodeId,
  type RaftEvent,
  type Snapshot,
} from '../../src-shared/raft-types.js';
import type { Ready } from '../../src-main/raft/raft.js';

export function fmtEntry(e: Entry): string {
  if (e.type === 'conf') {
    const cc = decodeConfChange(e.data);
    return `${e.term}/${e.index} EntryConfChange ${cc.type} ${cc.id}`;
  }
  return `${e.term}/${e.index} EntryNormal ${JSON.stringify(e.data)}`;
}

export function fmtSnapshot(s: Snapshot): string {
  const learners = s.meta.conf.learners?.length ? ` Learners:(${s.meta.conf.learners.join(' ')})` : '';
  return `Index:${s.meta.index} Term:${s.meta.term} Voters:(${s.meta.conf.voters.join(' ')})${learners}`;
}

export function fmtMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${m.type} Term:${m.term}`;
  if (m.index !== undefined || m.logTerm !== undefined) s += ` Log:${m.logTerm ?? 0}/${m.index ?? 0}`;
  if (m.commit !== undefined) s += ` Commit:${m.commit}`;
  if (m.reject) s += m.rejectHint === undefined ? ' Rejected' : ` Rejected (Hint: ${m.rejectHint})`;
  if (m.entries?.length) s += ` Entries:[${m.entries.map(fmtEntry).join(', ')}]`;
  if (m.snapshot) s += ` Snapshot:[${fmtSnapshot(m.snapshot)}]`;
  if (m.context) s += ` Context:${m.context}`;
  return s;
}

/** The lines of a Ready, in the order the node handles it: persist, send, apply. */
export function fmtReady(rd: Ready): string[] {
  const out: string[] = [];
  if (rd.hardState)
    out.push(`HardState Term:${rd.hardState.term} Vote:${rd.hardState.vote || 0} Commit:${rd.hardState.commit}`);
  if (rd.entries.length) out.push('Entries:', ...rd.entries.map(fmtEntry));
  if (rd.snapshot) out.push(`Snapshot ${fmtSnapshot(rd.snapshot)}`);
  if (rd.messages.length) out.push('Messages:', ...rd.messages.map(fmtMessage));
  if (rd.committedEntries.length) out.push('CommittedEntries:', ...rd.committedEntries.map(fmtEntry));
  if (rd.readStates.length)
    out.push('ReadStates:', ...rd.readStates.map((r) => `Index:${r.index} Context:${r.context}`));
  return out;
}

/**
 * One event as a sentence, or undefined for events the Ready already shows (a term change
 * always comes with a role event; applied entries are listed as CommittedEntries).
 */
export function fmtEvent(id: NodeId, e: RaftEvent): string | undefined {
  switch (e.kind) {
    case 'term':
    case 'apply':
      return undefined;
    case 'role':
      if (e.role === 'follower') return `${id} became follower at term ${e.term}${e.lead ? ` (lead ${e.lead})` : ''}`;
      return `${id} became ${e.role === 'precandidate' ? 'pre-candidate' : e.role} at term ${e.term}`;
    case 'election-timeout':
      return `${id} is starting a new ${e.pre ? 'pre-vote ' : ''}election at term ${e.term}`;
    case 'vote': {
      const what = e.pre ? 'MsgPreVote' : 'MsgVote';
      if (e.granted) return `${id} cast ${what} for ${e.candidate} at term ${e.term}`;
      const verb = e.reason === 'leader-lease' ? 'ignored' : 'rejected';
      return `${id} ${verb} ${what} from ${e.candidate} at term ${e.term}: ${e.reason}`;
    }
    case 'vote-result':
      return (
        `${id} received ${e.granted ? 'grant' : 'rejection'} of ${e.pre ? 'pre-vote' : 'vote'} from ${e.from}` +
        ` at term ${e.term}: ${e.votes} granted, ${e.needed} needed`
      );
    case 'append':
      return e.first === e.last
        ? `${id} appended ${e.term}/${e.last}`
        : `${id} appended ${e.first}..${e.last} (last ${e.term}/${e.last})`;
    case 'truncate':
      return `${id} truncated its log from index ${e.from}`;
    case 'commit':
      return `${id} committed up to ${e.term}/${e.index}`;
    case 'conf':
      return `${id} switched to configuration voters=(${e.voters.join(' ')})${e.learners ? ` learners=(${e.learners.join(' ')})` : ''} at ${e.index} (${e.change.type} ${e.change.id})`;
    case 'snapshot-created':
      return `${id} created snapshot at ${e.term}/${e.index}`;
    case 'snapshot-sent':
      return `${id} sent snapshot at index ${e.index} to ${e.to}`;
    case 'snapshot-installed':
      return `${id} installed snapshot at ${e.term}/${e.index} from ${e.from}`;
    case 'check-quorum-lost':
      return `${id} stepped down at term ${e.term}: check-quorum heard from ${e.active} voters, ${e.needed} needed`;
    case 'transfer-start':
      return `${id} starts transferring leadership to ${e.to} at term ${e.term}`;
    case 'transfer-abort':
      return `${id} aborted leadership transfer to ${e.to}: ${e.reason}`;
    case 'removed':
      return `${id} applied its own removal at index ${e.index}`;
    default: {
      const never: never = e;
      throw new Error(`unknown event ${JSON.stringify(never)}`);
    }
  }
}
