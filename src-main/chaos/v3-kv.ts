// The chaos clients' v3 workload: etcd's v3 KV API through the node's /v3 JSON gateway (the very
// calls `curl` users make): Put is a write, Range a read (linearizable unless serializable is
// asked), and a Txn comparing the key's value then putting is the compare-and-swap.
//
// The outcome is what the client can prove, as for v2 (clients.ts):
// - ok: HTTP 200 (a Txn's `succeeded` says whether the compare held; the gateway leaves a false
//   one out, as grpc-gateway does);
// - fail: nothing can have been proposed: the connection was refused before sending, or etcd's
//   checks before proposing refused it (400 InvalidArgument, 401/403 auth, 404);
// - unknown: sent and no verdict (a timeout, a reset, 503 "request timed out" / "leader changed"
//   after proposing, and any other status): it may take effect at any time.
// A compare on the value of an absent key fails in etcd ("nil == empty string in grpc"): a cas
// expecting a value never swaps an absent key, as the register model has it.

import type { HttpAnswer, KvAnswer, KvApi } from './clients.js';
import { httpRequest } from './clients.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

/** Statuses etcd's gateway gives refusals made before anything is proposed. */
const REFUSED = new Set([400, 401, 403, 404]);

function parse(body: string): Record<string, unknown> | undefined {
  try {
    const o = JSON.parse(body) as unknown;
    return typeof o === 'object' && o !== null ? (o as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function note(a: HttpAnswer): string {
  if (a.kind !== 'response') return a.message;
  const message = parse(a.body)?.message;
  return `HTTP ${a.status}${typeof message === 'string' ? ` ${message}` : ''}`;
}

/** The outcome of an answer that is not a 200 (or no answer). */
function notOk(a: HttpAnswer, isWrite: boolean): KvAnswer {
  if (a.kind === 'not-sent') return { outcome: 'fail', note: note(a) };
  if (a.kind === 'lost') return { outcome: 'unknown', note: note(a) };
  // A read has no effect: a refusal of any kind is a failed read.
  if (!isWrite || REFUSED.has(a.status)) return { outcome: 'fail', note: note(a) };
  return { outcome: 'unknown', note: note(a) };
}

/** POST /v3/kv/range: a linearizable read (read index), or the node's local state when `quorum` is false. */
export async function v3Read(base: string, key: string, quorum: boolean, timeoutMs: number): Promise<KvAnswer> {
  const a = await httpRequest(
    base,
    'POST',
    '/v3/kv/range',
    { json: { key: b64(key), ...(quorum ? {} : { serializable: true }) } },
    timeoutMs,
  );
  if (a.kind !== 'response' || a.status !== 200) return notOk(a, false);
  const kvs = parse(a.body)?.kvs;
  if (kvs === undefined) return { outcome: 'ok', value: null, note: note(a) };
  const kv = Array.isArray(kvs) && kvs.length === 1 ? (kvs[0] as { key?: unknown; value?: unknown }) : undefined;
  if (!kv || kv.key !== b64(key)) return { outcome: 'fail', note: `${note(a)}: not one kv for ${key}` };
  return { outcome: 'ok', value: typeof kv.value === 'string' ? unb64(kv.value) : '', note: note(a) };
}

/** POST /v3/kv/put. */
export async function v3Put(base: string, key: string, value: string, timeoutMs: number): Promise<KvAnswer> {
  const a = await httpRequest(base, 'POST', '/v3/kv/put', { json: { key: b64(key), value: b64(value) } }, timeoutMs);
  if (a.kind !== 'response' || a.status !== 200) return notOk(a, true);
  return { outcome: 'ok', note: note(a) };
}

/** POST /v3/kv/txn: if value(key) = expected then put key value. */
export async function v3Cas(
  base: string,
  key: string,
  expected: string,
  value: string,
  timeoutMs: number,
): Promise<KvAnswer> {
  const txn = {
    compare: [{ key: b64(key), target: 'VALUE', result: 'EQUAL', value: b64(expected) }],
    success: [{ request_put: { key: b64(key), value: b64(value) } }],
  };
  const a = await httpRequest(base, 'POST', '/v3/kv/txn', { json: txn }, timeoutMs);
  if (a.kind !== 'response' || a.status !== 200) return notOk(a, true);
  const succeeded = parse(a.body)?.succeeded === true;
  return { outcome: 'ok', succeeded, note: `${note(a)} succeeded ${succeeded}` };
}

export const V3_API: KvApi = { name: 'v3', read: v3Read, write: v3Put, cas: v3Cas };
