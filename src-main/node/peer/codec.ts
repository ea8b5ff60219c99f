// What travels on a peer link: batches of Raft messages as JSON arrays, cut into
// newline-terminated frames on the stream, and the check every batch from a peer passes before
// Raft sees any of it: the shape (MessageSchema, src-shared/raft-types.ts), then what depends
// on this link and this node (who may speak on it, to whom, up to which term).

import * as v from 'valibot';
import { MessageSchema, type Message } from '../../../src-shared/raft-types.js';
import { checker } from '../../../src-shared/schema.js';
import { maxAcceptableTerm } from '../../raft/raft.js';

/**
 * The most a peer may send us in one request or stream batch: what we hold in memory (bytes,
 * then the string and the parsed messages, about 4× this at worst) before Raft sees it. A
 * sender keeps its batches far below it (FRAME_BYTES; an append carries at most 1 MiB of
 * entries, raft.ts maxBytesPerMsg, or one entry); only a snapshot, which is the whole v2
 * store in one message, comes near it: a store beyond 64 MiB of JSON cannot be sent to a
 * follower that needs it (the follower logs why).
 */
export const MAX_BATCH_BYTES = 64 * 1024 * 1024;
/** A sender's batch is cut into frames of about this much, so none nears the receiver's limit. */
const FRAME_BYTES = 4 * 1024 * 1024;

/** Compiled for the common case: a sound batch passes in ~0.1 µs a message (schema.ts fastGuard). */
const checkBatch = checker(v.array(MessageSchema, 'body is not a JSON array'));

/** A batch as newline-terminated JSON arrays of about FRAME_BYTES each (one message may be larger alone). */
export function frames(batch: Message[]): { text: string; count: number }[] {
  const out: { text: string; count: number }[] = [];
  let parts: string[] = [];
  let size = 0;
  for (const m of batch) {
    const json = JSON.stringify(m);
    if (parts.length > 0 && size + json.length > FRAME_BYTES) {
      out.push({ text: `[${parts.join(',')}]\n`, count: parts.length });
      parts = [];
      size = 0;
    }
    parts.push(json);
    size += json.length + 1;
  }
  if (parts.length > 0) out.push({ text: `[${parts.join(',')}]\n`, count: parts.length });
  return out;
}

/**
 * Parses and checks a batch: a JSON array of messages addressed to `self`, each from `sender`
 * (the member the request or stream came from: one member cannot speak for another). Unknown
 * fields are dropped. Throws with the first problem; a bad message refuses the whole batch.
 */
export function parseMessages(text: string, self: string, sender?: string, maxTerm = maxAcceptableTerm(0)): Message[] {
  const batch = checkBatch(JSON.parse(text));
  if (!batch.ok) throw new Error(batch.problem);
  for (const m of batch.value) checkOnLink(m, self, sender, maxTerm);
  return batch.value;
}

/**
 * Terms are bounded relative to ours (raft.ts maxAcceptableTerm: why, against etcd's uint64),
 * and no term inside a message exceeds the message's own.
 */
function checkOnLink(m: Message, self: string, sender: string | undefined, maxTerm: number): void {
  if (sender !== undefined && m.from !== sender)
    throw new Error(`message from ${m.from.slice(0, 40)} on the link of ${sender}`);
  if (m.to !== self) throw new Error(`message to ${m.to.slice(0, 40)}, not to ${self}`);
  if (m.term > maxTerm) throw new Error(`bad term: ${m.term} is beyond ${maxTerm}`);
  if (m.logTerm !== undefined && m.logTerm > maxTerm) throw new Error('bad logTerm');
  if (m.entries) for (const e of m.entries) if (e.term > m.term) throw new Error('bad entry');
  if (m.snapshot && m.snapshot.meta.term > m.term) throw new Error('bad snapshot');
}
