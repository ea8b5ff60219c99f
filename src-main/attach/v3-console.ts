// The KV console's v3 requests sent to one client URL over etcd's /v3 JSON gateway: the very
// call the window prints as `curl` (src-shared/kv3.ts makes it), answered as curl shows it.
// Watches stay open and report each line as it arrives, until unwatched or the stream ends.
// The supervisor sends through it to its own nodes, the attached source to any etcd 3.4+.

import { gatewayCall, type GatewayCall, type Kv3Request } from '../../src-shared/kv3.js';
import type { KvResult, WatchLine } from '../../src-shared/command-results.js';
import { describeNetError, forEachLine, JSON_TYPE, parseJSON } from './http.js';

type WatchRequest = Extract<Kv3Request, { op: 'watch' }>;

/** The first JSON value of an answer (a stream's first line), or the text when it is not JSON. */
function bodyOf(text: string): unknown {
  const whole = parseJSON(text);
  if (whole !== undefined) return whole;
  const first = parseJSON(text.split('\n', 1)[0]);
  return first ?? text;
}

async function post(url: string, call: GatewayCall, signal: AbortSignal, timeoutMs: number): Promise<Response> {
  try {
    return await fetch(url + call.path, { method: 'POST', body: JSON.stringify(call.body), headers: { 'Content-Type': JSON_TYPE }, signal });
  } catch (err) {
    throw new Error(`${call.path}: ${describeNetError(err, url, timeoutMs)}`, { cause: err });
  }
}

export class V3Console {
  private readonly watches = new Map<string, AbortController>();

  /** `emit`: a watch's lines and its end (the window's `watch` events). */
  constructor(private readonly emit: (line: WatchLine) => void) {}

  /** Sends `r` to `node`'s client URL `url`; `timeoutMs` bounds the answer (a watch's first line). */
  async execute(node: string, url: string, r: Kv3Request, timeoutMs: number): Promise<KvResult | undefined> {
    if (r.op === 'unwatch') {
      const w = this.watches.get(r.watch);
      if (!w) throw new Error(`kv3: no watch ${r.watch} is open`);
      this.watches.delete(r.watch);
      w.abort();
      return undefined;
    }
    if (r.op === 'watch') return this.watch(node, url, r, timeoutMs);
    const call = gatewayCall(r)!;
    const signal = AbortSignal.timeout(timeoutMs);
    const res = await post(url, call, signal, timeoutMs);
    // A keep-alive is a stream too: etcd answers its one request and ends it.
    const text = await res.text().catch((err: unknown) => {
      throw new Error(`${call.path}: ${describeNetError(err, url, timeoutMs)}`);
    });
    return { status: res.status, body: bodyOf(text) };
  }

  /** Ends every watch (the cluster is replaced, or the app stops). */
  closeAll(): void {
    for (const w of this.watches.values()) w.abort();
    this.watches.clear();
  }

  private async watch(node: string, url: string, r: WatchRequest, timeoutMs: number): Promise<KvResult> {
    if (this.watches.has(r.watch)) throw new Error(`kv3: a watch ${r.watch} is already open`);
    const ctrl = new AbortController();
    this.watches.set(r.watch, ctrl);
    const call = gatewayCall(r)!;
    // The stream has no deadline; its first line (created, or why not) must come in time.
    const timer = setTimeout(() => ctrl.abort(new DOMException('no answer', 'TimeoutError')), timeoutMs);
    let res: Response;
    try {
      res = await post(url, call, ctrl.signal, timeoutMs);
    } catch (err) {
      clearTimeout(timer);
      this.watches.delete(r.watch);
      throw err;
    }
    if (res.status !== 200) {
      clearTimeout(timer);
      this.watches.delete(r.watch);
      return { status: res.status, body: bodyOf(await res.text().catch(() => '')) };
    }
    return new Promise<KvResult>((resolve, reject) => {
      let first = true;
      const ended = (why: string) => {
        clearTimeout(timer);
        if (first) reject(new Error(`watch: ${why}`));
        // Unwatched (or all closed): the window knows; anything else is news.
        else if (this.watches.get(r.watch) === ctrl) this.emit({ watch: r.watch, node, ended: why });
        if (this.watches.get(r.watch) === ctrl) this.watches.delete(r.watch);
      };
      forEachLine(res.body!, (line) => {
        const body = bodyOf(line) as { result?: { canceled?: boolean; cancel_reason?: string; compact_revision?: string } } | string;
        if (first) {
          first = false;
          clearTimeout(timer);
          resolve({ status: 200, body });
          return;
        }
        if (typeof body === 'object' && body.result) this.emit({ watch: r.watch, node, result: body.result });
        else this.emit({ watch: r.watch, node, ended: `the node answered ${line.slice(0, 200)}` });
      }).then(
        () => ended('the node ended the watch stream'),
        (err: unknown) => ended(ctrl.signal.aborted && !(ctrl.signal.reason instanceof DOMException && ctrl.signal.reason.name === 'TimeoutError') ? 'unwatched' : `the watch stream broke: ${describeNetError(err, url, timeoutMs)}`),
      );
    });
  }
}
