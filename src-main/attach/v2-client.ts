// The v2 API (a `raftlab node`, or an etcd without its v3 gateway): /version, /v2/stats/self,
// HEAD /v2/keys/ (X-Raft-Term, X-Raft-Index = commit, X-Etcd-Index), /health, /v2/members,
// keys, and the long-poll watch. Not shown: applied index, db size, alarms, learners.

import type { AttachedMember } from '../../src-shared/attach.js';
import type { Role } from '../../src-shared/raft-types.js';
import { readHealth, toMember, type EndpointReading, type EtcdClient, type WatchHandlers } from './etcd-client.js';
import { answerError, AttachError, FORM, JSON_TYPE, NetError, num, parseJSON, type Answer, type Http } from './http.js';

const ROLES: Record<string, Role> = {
  StateLeader: 'leader',
  StateFollower: 'follower',
  StateCandidate: 'candidate',
  StatePreCandidate: 'precandidate',
};

const KEYS_OFF = 'the v2 keys API is off (etcd without --enable-v2)';

function keyPath(key: string): string {
  if (!key.startsWith('/'))
    throw new AttachError('etcd', `v2 keys are paths starting with "/" (got ${JSON.stringify(key)})`);
  return '/v2/keys' + key.split('/').map(encodeURIComponent).join('/');
}

export class V2Client implements EtcdClient {
  readonly api = 'v2' as const;

  constructor(
    private readonly http: Http,
    readonly url: string,
  ) {}

  async status(): Promise<EndpointReading> {
    const url = this.url;
    const [ver, self, head, h] = await Promise.all([
      this.http.request(url, '/version'),
      this.http.request(url, '/v2/stats/self').catch((e: unknown) => e as Error),
      this.http.request(url, '/v2/keys/', { method: 'HEAD' }).catch((e: unknown) => e as Error),
      readHealth(this.http, url),
    ]);
    const r: EndpointReading = {
      health: h.health,
      warnings: [],
      alarms: [],
      unavailable: ['raftAppliedIndex', 'dbSize', 'dbSizeInUse', 'alarms', 'isLearner'],
      version: parseJSON(ver.text)?.etcdserver,
      // Not shown by v2: said explicitly, so nothing of an earlier API lingers.
      raftAppliedIndex: undefined,
      dbSize: undefined,
      dbSizeInUse: undefined,
    };
    const st = self instanceof Error ? undefined : self.status === 200 ? parseJSON(self.text) : undefined;
    if (st) {
      r.memberId = st.id || undefined;
      r.name = st.name;
      r.role = ROLES[st.state] ?? 'follower';
      const lead = String(st.leaderInfo?.leader ?? '');
      r.leaderId = lead === '0' ? '' : lead;
    } else {
      r.warnings.push(`/v2/stats/self: ${self instanceof Error ? self.message : `HTTP ${self.status}`}`);
      r.unavailable.push('memberId', 'leaderId', 'role');
    }
    if (!(head instanceof Error) && head.status === 200 && head.headers.get('x-raft-term') !== null) {
      r.raftTerm = num(head.headers.get('x-raft-term')) ?? 0;
      r.raftIndex = num(head.headers.get('x-raft-index')) ?? 0;
      r.storeIndex = num(head.headers.get('x-etcd-index'));
      const cid = head.headers.get('x-etcd-cluster-id');
      if (cid) r.clusterId = cid;
    } else {
      const why = head instanceof Error ? head.message : head.status === 404 ? KEYS_OFF : `HTTP ${head.status}`;
      r.warnings.push(`raft term and index: ${why}`);
      r.unavailable.push('raftTerm', 'raftIndex', 'storeIndex');
    }
    if (h.warning) r.warnings.push(h.warning);
    return r;
  }

  async members(): Promise<AttachedMember[]> {
    const a = await this.http.request(this.url, '/v2/members');
    if (a.status !== 200) throw answerError(a, 'member list');
    return (parseJSON(a.text)?.members ?? []).map((m: unknown) => toMember(m, 'v2'));
  }

  async put(key: string, value: string): Promise<{ revision: number }> {
    const a = await this.http.request(this.url, keyPath(key), {
      method: 'PUT',
      body: new URLSearchParams({ value }).toString(),
      type: FORM,
      timeoutMs: this.http.opTimeoutMs,
    });
    if (a.status !== 200 && a.status !== 201) throw answerError(a, `put ${key}`);
    return { revision: num(parseJSON(a.text)?.node?.modifiedIndex) ?? 0 };
  }

  async get(key: string): Promise<{ key: string; value: string; revision: number } | undefined> {
    const a = await this.http.request(this.url, `${keyPath(key)}?quorum=true`, { timeoutMs: this.http.opTimeoutMs });
    if (a.status === 404 && parseJSON(a.text)?.errorCode === 100) return undefined;
    if (a.status !== 200) throw answerError(a, `get ${key}`);
    const n = parseJSON(a.text)?.node;
    return { key, value: n?.value ?? '', revision: num(n?.modifiedIndex) ?? 0 };
  }

  async delete(key: string): Promise<{ deleted: number }> {
    const a = await this.http.request(this.url, keyPath(key), { method: 'DELETE', timeoutMs: this.http.opTimeoutMs });
    if (a.status === 404 && parseJSON(a.text)?.errorCode === 100) return { deleted: 0 };
    if (a.status !== 200) throw answerError(a, `delete ${key}`);
    return { deleted: 1 };
  }

  async addMember(peerURLs: string[]): Promise<AttachedMember> {
    const a = await this.http.request(this.url, '/v2/members', {
      method: 'POST',
      body: JSON.stringify({ peerURLs }),
      type: JSON_TYPE,
      timeoutMs: this.http.opTimeoutMs,
    });
    if (a.status !== 201) throw answerError(a, 'member add');
    return toMember(parseJSON(a.text), 'v2');
  }

  async removeMember(id: string): Promise<void> {
    const a = await this.http.request(this.url, `/v2/members/${id.toLowerCase()}`, {
      method: 'DELETE',
      timeoutMs: this.http.opTimeoutMs,
    });
    if (a.status !== 204) throw answerError(a, 'member remove');
  }

  /** Long polls, one event each, from the next index (so nothing is missed between them). */
  async watch(prefix: string, from: number | undefined, h: WatchHandlers, signal: AbortSignal): Promise<void> {
    if (prefix !== '' && !prefix.startsWith('/')) {
      throw new AttachError(
        'unsupported',
        `key changes cannot be watched: v2 watches a directory, and ${JSON.stringify(prefix)} does not start with "/"`,
      );
    }
    const dir = prefix.replace(/\/+$/, '');
    const path = keyPath(dir === '' ? '/' : dir);
    let next = from;
    if (next === undefined) {
      const head = await this.http.request(this.url, '/v2/keys/', { method: 'HEAD', signal });
      if (head.status === 404) throw new AttachError('unsupported', `key changes cannot be watched: ${KEYS_OFF}`);
      if (head.status !== 200) throw answerError(head, 'watch');
      next = (num(head.headers.get('x-etcd-index')) ?? 0) + 1;
    }
    h.created(next);
    while (!signal.aborted) {
      let a: Answer;
      try {
        // Re-asked now and then so a silently dead connection cannot hold the watch forever.
        a = await this.http.request(this.url, `${path}?wait=true&recursive=true&waitIndex=${next}`, {
          signal,
          timeoutMs: 10_000,
        });
      } catch (err) {
        if (err instanceof NetError && /^no answer within/.test(err.message)) continue;
        throw err;
      }
      const j = parseJSON(a.text);
      if (a.status === 200 && j?.node) {
        const n = j.node;
        const rev: number = num(n.modifiedIndex) ?? next;
        const del = ['delete', 'expire', 'compareAndDelete'].includes(j.action);
        h.change({
          action: del ? 'delete' : 'put',
          detail: j.action,
          key: n.key,
          revision: rev,
          value: del ? undefined : n.value,
          prevValue: j.prevNode?.value,
          dir: n.dir === true,
        });
        next = rev + 1;
      } else if (j?.errorCode === 401) {
        // The v2 history holds 1000 events: resume from where it now starts.
        next = (num(j.index) ?? 0) + 1;
        h.missed(
          `the v2 watch fell behind (etcd keeps 1000 events): changes before index ${j.index} under ${JSON.stringify(prefix)} were missed`,
          next,
        );
      } else if (a.status === 404 && j === undefined) {
        throw new AttachError('unsupported', `key changes cannot be watched: ${KEYS_OFF}`);
      } else {
        throw answerError(a, 'watch');
      }
    }
  }
}
