// etcd's v3 JSON gateway (3.4+: /v3/; 3.3: /v3beta/; 3.2: /v3alpha/): POST maintenance/status
// (member id, leader, raft term, commit and applied index, db size, revision, alarms), /health,
// cluster/member/list, kv, and the streaming POST watch. Not shown: candidate states.

import type { AttachApi, AttachedMember } from '../../src-shared/attach.js';
import { prefixEnd } from '../../src-shared/kv3.js';
import {
  hexId,
  readHealth,
  toMember,
  type EndpointReading,
  type EtcdClient,
  type WatchHandlers,
} from './etcd-client.js';
import {
  answerError,
  AttachError,
  describeNetError,
  forEachLine,
  JSON_TYPE,
  linked,
  NetError,
  num,
  parseJSON,
  type Http,
} from './http.js';

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const unb64 = (s: unknown): string => (typeof s === 'string' ? Buffer.from(s, 'base64').toString('utf8') : '');

/** A restart of the watch from the compaction point (the observer reconnects). */
class WatchRestart extends AttachError {}

export class V3Client implements EtcdClient {
  /** The status read while detecting the API: the first poll uses it instead of asking again. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a remote answer's JSON, read field by field defensively (num, hexId, Array.isArray)
  private pending: any;

  constructor(
    private readonly http: Http,
    readonly url: string,
    readonly api: AttachApi,
    firstStatus?: unknown,
  ) {
    this.pending = firstStatus;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a remote answer's JSON, read field by field defensively (num, hexId, Array.isArray)
  private call(method: string, body: object, what: string, timeoutMs?: number, retry?: boolean): Promise<any> {
    return this.http.v3(this.url, this.api, method, body, what, timeoutMs, retry);
  }

  async status(): Promise<EndpointReading> {
    const first = this.pending;
    this.pending = undefined;
    const [st, h] = await Promise.all([
      first ?? this.call('maintenance/status', {}, 'status', this.http.timeoutMs, true),
      readHealth(this.http, this.url),
    ]);
    const memberId = hexId(st.header?.member_id) || undefined;
    const leaderId = hexId(st.leader);
    const version: string | undefined = st.version;
    // The gateway omits zero values; 3.3 and older have no applied index nor in-use size at all.
    const modern = /^(3\.([4-9]|\d\d)|[4-9]|\d\d)/.test(version ?? '');
    const r: EndpointReading = {
      memberId,
      leaderId,
      role: leaderId !== '' && leaderId === memberId ? 'leader' : 'follower',
      version,
      raftTerm: num(st.raftTerm) ?? 0,
      raftIndex: num(st.raftIndex) ?? 0,
      dbSize: num(st.dbSize) ?? 0,
      storeIndex: num(st.header?.revision) ?? 0,
      alarms: Array.isArray(st.errors) ? st.errors.map(String) : [],
      health: h.health,
      warnings: h.warning ? [h.warning] : [],
      raftAppliedIndex: modern ? (num(st.raftAppliedIndex) ?? 0) : undefined,
      dbSizeInUse: modern ? (num(st.dbSizeInUse) ?? 0) : undefined,
      unavailable: modern ? [] : ['raftAppliedIndex', 'dbSizeInUse'],
    };
    if (st.header?.cluster_id) r.clusterId = hexId(st.header.cluster_id);
    return r;
  }

  async members(): Promise<AttachedMember[]> {
    const j = await this.call('cluster/member/list', {}, 'member list', this.http.timeoutMs, true);
    return (j.members ?? []).map((m: unknown) => toMember(m, this.api));
  }

  async put(key: string, value: string): Promise<{ revision: number }> {
    const j = await this.call('kv/put', { key: b64(key), value: b64(value) }, `put ${key}`);
    return { revision: num(j.header?.revision) ?? 0 };
  }

  async get(key: string): Promise<{ key: string; value: string; revision: number } | undefined> {
    const j = await this.call('kv/range', { key: b64(key) }, `get ${key}`);
    const kv = j.kvs?.[0];
    return kv ? { key, value: unb64(kv.value), revision: num(kv.mod_revision) ?? 0 } : undefined;
  }

  async delete(key: string): Promise<{ deleted: number }> {
    const j = await this.call('kv/deleterange', { key: b64(key) }, `delete ${key}`);
    return { deleted: num(j.deleted) ?? 0 };
  }

  async addMember(peerURLs: string[]): Promise<AttachedMember> {
    const j = await this.call('cluster/member/add', { peerURLs }, 'member add');
    return toMember(j.member, this.api);
  }

  async removeMember(id: string): Promise<void> {
    await this.call('cluster/member/remove', { ID: BigInt('0x' + id).toString() }, 'member remove');
  }

  /** The gateway's streaming watch: one JSON object per line. */
  async watch(prefix: string, from: number | undefined, h: WatchHandlers, signal: AbortSignal): Promise<void> {
    const create: Record<string, unknown> = {
      key: b64(prefix === '' ? Buffer.from([0]) : prefix),
      range_end: prefixEnd(prefix),
      prev_kv: true,
    };
    if (from !== undefined) create.start_revision = String(from);
    // The stream itself has no deadline, but its first line (created) must come in time.
    const timeoutMs = this.http.opTimeoutMs;
    const first = new AbortController();
    const timer = setTimeout(() => first.abort(new DOMException('no answer', 'TimeoutError')), timeoutMs);
    const link = linked(undefined, signal, first.signal);
    const path = `/${this.api}/watch`;
    let res: Response;
    try {
      const auth = await this.http.authHeaders(this.url, path);
      res = await this.http.fetch(this.url + path, {
        method: 'POST',
        body: JSON.stringify({ create_request: create }),
        headers: { ...auth, 'Content-Type': JSON_TYPE },
        signal: link.signal,
      });
    } catch (err) {
      clearTimeout(timer);
      link.done();
      if (err instanceof AttachError || err instanceof NetError) throw err;
      throw new NetError(describeNetError(err, this.url, timeoutMs));
    }
    if (res.status !== 200) {
      clearTimeout(timer);
      link.done();
      throw answerError(
        { status: res.status, headers: res.headers, text: await res.text().catch(() => '') },
        'watch',
        this.http.access?.login?.user,
      );
    }
    try {
      await forEachLine(res.body!, (line) => {
        clearTimeout(timer);
        this.onWatchLine(line, prefix, h);
      });
    } catch (err) {
      if (err instanceof AttachError) throw err;
      throw new NetError(describeNetError(err, this.url, timeoutMs));
    } finally {
      clearTimeout(timer);
      link.done();
    }
  }

  private onWatchLine(line: string, prefix: string, h: WatchHandlers): void {
    const j = parseJSON(line);
    if (j?.error)
      throw answerError(
        { status: j.error.http_code ?? 500, headers: new Headers(), text: JSON.stringify(j.error) },
        'watch',
        this.http.access?.login?.user,
      );
    const r = j?.result;
    if (!r) return;
    if (r.canceled) {
      const compacted = num(r.compact_revision);
      if (compacted) {
        h.missed(
          `the watch fell behind etcd's compaction: changes before revision ${compacted} under ${JSON.stringify(prefix)} were missed`,
          compacted,
        );
        throw new WatchRestart('etcd', 'watch compacted; restarting');
      }
      throw answerError(
        {
          status: 400,
          headers: new Headers(),
          text: JSON.stringify({
            message: String(r.cancel_reason ?? 'canceled').replace(/^rpc error: code = \w+ desc = /, ''),
          }),
        },
        'watch',
      );
    }
    if (r.created) h.created((num(r.header?.revision) ?? 0) + 1);
    for (const ev of r.events ?? []) {
      const del = ev.type === 'DELETE';
      h.change({
        action: del ? 'delete' : 'put',
        detail: del ? 'delete' : 'put',
        key: unb64(ev.kv?.key),
        revision: num(ev.kv?.mod_revision) ?? 0,
        value: del ? undefined : unb64(ev.kv?.value),
        prevValue: ev.prev_kv ? unb64(ev.prev_kv.value) : undefined,
      });
    }
  }
}
