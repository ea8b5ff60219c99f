// Chaos clients: each runs one operation at a time (read, write, compare-and-swap) against a real
// node, through etcd's v2 keys API (here) or its v3 API (v3-kv.ts: Put, linearizable Range, Txn),
// and records what it learned as a history operation.
//
// The outcome is what the client can prove:
// - ok: an answer that says what happened (200/201; 412 or 404 on a cas: the compare failed,
//   decided when the entry was applied, so the cas is an ok operation that wrote nothing);
// - fail: nothing can have been applied (the connection was refused before anything was sent,
//   or a 4xx refusal);
// - unknown: the request went out and no verdict came back (a timeout, a reset, a 5xx such as
//   etcd's "request timed out" after proposing): it may still be applied, at any time.
// One plain TCP connection per request (no keep-alive), so that a refused connection really
// means "not sent" and a node's restart never leaves a stale pooled socket behind.

import http from 'node:http';
import type { Op, OpOutcome, OpType } from '../../src-shared/history.js';
import type { Rng } from '../util/rng.js';

const agent = new http.Agent({ keepAlive: false });

export type HttpAnswer =
  | { kind: 'response'; status: number; body: string }
  /** The connection failed before the request was sent. */
  | { kind: 'not-sent'; message: string }
  /** Sent (or maybe sent), and no complete answer. */
  | { kind: 'lost'; message: string };

/** A request body: a v2 form, or a v3 gateway message (JSON). */
export type RequestBody = { form: Record<string, string> } | { json: unknown };

/** One HTTP request to a node's client URL with a hard deadline; never throws. */
export function httpRequest(
  base: string,
  method: string,
  pathAndQuery: string,
  content: RequestBody | undefined,
  timeoutMs: number,
): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    const url = new URL(pathAndQuery, base);
    const body =
      content === undefined
        ? undefined
        : 'form' in content
          ? new URLSearchParams(content.form).toString()
          : JSON.stringify(content.json);
    const type = content !== undefined && 'json' in content ? 'application/json' : 'application/x-www-form-urlencoded';
    let connected = false;
    let settled = false;
    const done = (a: HttpAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(a);
    };
    const req = http.request(url, {
      method,
      agent,
      headers: body === undefined ? {} : { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) },
    });
    const timer = setTimeout(() => {
      done(
        connected
          ? { kind: 'lost', message: `no answer within ${timeoutMs} ms` }
          : { kind: 'not-sent', message: `could not connect within ${timeoutMs} ms` },
      );
      req.destroy();
    }, timeoutMs);
    req.on('socket', (s) => {
      if (!s.connecting) connected = true;
      else s.once('connect', () => (connected = true));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      done(
        connected
          ? { kind: 'lost', message: err.code ?? err.message }
          : { kind: 'not-sent', message: err.code ?? err.message },
      );
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        done({ kind: 'response', status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', (err: NodeJS.ErrnoException) => done({ kind: 'lost', message: err.code ?? err.message }));
      res.on('aborted', () => done({ kind: 'lost', message: 'answer cut short' }));
    });
    req.end(body);
  });
}

export interface KvAnswer {
  outcome: OpOutcome;
  /** A read's value (null: absent). */
  value?: string | null;
  /** A cas's verdict. */
  succeeded?: boolean;
  note: string;
}

function errorCode(body: string): number | undefined {
  try {
    const o = JSON.parse(body) as { errorCode?: unknown };
    return typeof o.errorCode === 'number' ? o.errorCode : undefined;
  } catch {
    return undefined;
  }
}

function note(a: HttpAnswer): string {
  if (a.kind !== 'response') return a.message;
  const code = errorCode(a.body);
  return `HTTP ${a.status}${code === undefined ? '' : ` errorCode ${code}`}`;
}

/** GET /v2/keys<key>: with `quorum` a linearizable read, without it the node's local state. */
export async function kvRead(base: string, key: string, quorum: boolean, timeoutMs: number): Promise<KvAnswer> {
  const a = await httpRequest(base, 'GET', `/v2/keys${key}${quorum ? '?quorum=true' : ''}`, undefined, timeoutMs);
  if (a.kind !== 'response') return { outcome: a.kind === 'not-sent' ? 'fail' : 'unknown', note: note(a) };
  if (a.status === 200) {
    const value = (JSON.parse(a.body) as { node?: { value?: unknown } }).node?.value;
    return typeof value === 'string'
      ? { outcome: 'ok', value, note: note(a) }
      : { outcome: 'fail', note: `${note(a)}: no value` };
  }
  if (a.status === 404 && errorCode(a.body) === 100) return { outcome: 'ok', value: null, note: note(a) };
  return { outcome: a.status >= 500 ? 'unknown' : 'fail', note: note(a) };
}

/** PUT /v2/keys<key>: a write, or with `expected` a compare-and-swap (prevValue). */
export async function kvWrite(
  base: string,
  key: string,
  value: string,
  expected: string | undefined,
  timeoutMs: number,
): Promise<KvAnswer> {
  const form: Record<string, string> = { value };
  if (expected !== undefined) form.prevValue = expected;
  const a = await httpRequest(base, 'PUT', `/v2/keys${key}`, { form }, timeoutMs);
  if (a.kind !== 'response') return { outcome: a.kind === 'not-sent' ? 'fail' : 'unknown', note: note(a) };
  if (a.status === 200 || a.status === 201)
    return expected === undefined
      ? { outcome: 'ok', note: note(a) }
      : { outcome: 'ok', succeeded: true, note: note(a) };
  const code = errorCode(a.body);
  if (expected !== undefined && ((a.status === 412 && code === 101) || (a.status === 404 && code === 100))) {
    return { outcome: 'ok', succeeded: false, note: note(a) };
  }
  return { outcome: a.status >= 500 ? 'unknown' : 'fail', note: note(a) };
}

/** One API's three operations on a node's client URL `base`. */
export interface KvApi {
  name: 'v2' | 'v3';
  /** `quorum`: linearizable; without it the node's local state (may be stale). */
  read(base: string, key: string, quorum: boolean, timeoutMs: number): Promise<KvAnswer>;
  write(base: string, key: string, value: string, timeoutMs: number): Promise<KvAnswer>;
  cas(base: string, key: string, expected: string, value: string, timeoutMs: number): Promise<KvAnswer>;
}

export const V2_API: KvApi = {
  name: 'v2',
  read: kvRead,
  write: (base, key, value, timeoutMs) => kvWrite(base, key, value, undefined, timeoutMs),
  cas: (base, key, expected, value, timeoutMs) => kvWrite(base, key, value, expected, timeoutMs),
};

// ------------------------------------------------------------------ the client loop

/** What one client works on: an API and the keys it touches (v2 and v3 are separate keyspaces, as in etcd). */
export interface Keyspace {
  api: KvApi;
  keys: string[];
}

export interface ClientContext {
  timeoutMs: number;
  /** Linearizable reads (v2 quorum=true, v3 Range); false reads a node's local state (may be stale). */
  quorumReads: boolean;
  /** Relative weights (default 5 : 3 : 2). */
  mix: { read: number; write: number; cas: number };
  /** A node to send this operation to (name and client URL), or none right now. */
  pickNode(type: OpType): { name: string; url: string } | undefined;
  /** ms since the history's start. */
  now(): number;
  nextId(): number;
  record(op: Op): void;
  running(): boolean;
}

/** One client: operations back to back (a short random pause between) until told to stop. */
export async function runClient(name: string, rng: Rng, ctx: ClientContext, space: Keyspace): Promise<void> {
  const { api, keys } = space;
  // What this client last saw of each key: its cas expects that, as a real client's would.
  const seen = new Map<string, string | null>();
  let seq = 0;
  while (ctx.running()) {
    const key = rng.pick(keys);
    const r = rng() * (ctx.mix.read + ctx.mix.write + ctx.mix.cas);
    const expected = seen.get(key);
    // A cas needs a value to compare with (prevValue '' means no compare in etcd).
    const type: OpType =
      r < ctx.mix.read ? 'read' : r < ctx.mix.read + ctx.mix.write || typeof expected !== 'string' ? 'write' : 'cas';
    const node = ctx.pickNode(type);
    if (!node) {
      await sleep(20);
      continue;
    }
    const value = `${name}.${++seq}`;
    const invoke = ctx.now();
    /** What every operation records once its answer is in (its id is given then, in completion order). */
    const answered = (a: KvAnswer) => ({
      id: ctx.nextId(),
      client: name,
      node: node.name,
      key,
      invoke,
      complete: ctx.now(),
      outcome: a.outcome,
    });
    let op: Op;
    if (type === 'read') {
      const a = await api.read(node.url, key, ctx.quorumReads, ctx.timeoutMs);
      op = { ...answered(a), type, note: a.note };
      if (a.outcome === 'ok') {
        op.value = a.value;
        seen.set(key, a.value ?? null);
      }
    } else if (type === 'write') {
      const a = await api.write(node.url, key, value, ctx.timeoutMs);
      op = { ...answered(a), type, value, note: a.note };
      if (a.outcome === 'ok') seen.set(key, value);
    } else {
      const a = await api.cas(node.url, key, expected as string, value, ctx.timeoutMs);
      op = { ...answered(a), type, expected: expected as string, value, note: a.note };
      if (a.outcome === 'ok') {
        op.succeeded = a.succeeded;
        if (a.succeeded) seen.set(key, value);
        else seen.delete(key); // stale: read before the next cas
      }
    }
    ctx.record(op);
    await sleep(rng.int(0, 15));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
