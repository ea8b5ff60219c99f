// One etcd client URL, as the observer talks to it: the same questions (status, members, keys,
// member changes, a watch) asked through whichever API the endpoint serves. v2-client.ts and
// v3-client.ts answer them; detectClient (detect-client.ts) picks one. The observer
// (etcd-observer.ts) only polls and diffs.

import type { AttachApi, AttachedMember, EndpointStatus } from '../../src-shared/attach.js';
import { parseJSON, type Http } from './http.js';

/** What one status poll reads: the Raft and health fields of EndpointStatus, plus the cluster id. */
export type EndpointReading = Pick<
  EndpointStatus,
  | 'memberId'
  | 'name'
  | 'leaderId'
  | 'role'
  | 'version'
  | 'raftTerm'
  | 'raftIndex'
  | 'raftAppliedIndex'
  | 'dbSize'
  | 'dbSizeInUse'
  | 'storeIndex'
  | 'health'
  | 'alarms'
  | 'warnings'
  | 'unavailable'
> & { clusterId?: string };

export interface KeyChange {
  action: 'put' | 'delete';
  /** The API's own word: put/delete (v3), set/create/compareAndSwap/expire... (v2). */
  detail: string;
  key: string;
  revision: number;
  value?: string;
  prevValue?: string;
  dir?: boolean;
}

export interface WatchHandlers {
  /** The watch is live; `next` is the revision (v3) or index (v2) it will see next. */
  created(next: number): void;
  change(c: KeyChange): void;
  /** Changes were lost (compaction, v2's 1000-event history): resume from `resumeFrom`. */
  missed(problem: string, resumeFrom: number): void;
}

export interface EtcdClient {
  readonly url: string;
  readonly api: AttachApi;
  status(): Promise<EndpointReading>;
  members(): Promise<AttachedMember[]>;
  put(key: string, value: string): Promise<{ revision: number }>;
  get(key: string): Promise<{ key: string; value: string; revision: number } | undefined>;
  delete(key: string): Promise<{ deleted: number }>;
  addMember(peerURLs: string[]): Promise<AttachedMember>;
  /** `id` is etcd's hex member id. */
  removeMember(id: string): Promise<void>;
  /**
   * Streams changes of keys under `prefix` from `from` (undefined: from now) until the stream
   * ends (resolves) or fails (throws). A missed stretch is reported and the watch goes on or
   * throws to be restarted from `resumeFrom`.
   */
  watch(prefix: string, from: number | undefined, h: WatchHandlers, signal: AbortSignal): Promise<void>;
}

/** `/health` as etcd answers it, read the same way for both APIs. */
export async function readHealth(
  http: Http,
  url: string,
): Promise<{ health: EndpointStatus['health']; warning?: string }> {
  try {
    const a = await http.request(url, '/health');
    const j = parseJSON(a.text);
    if (a.status === 200 && j?.health === 'true') return { health: 'healthy' };
    if (a.status === 404) return { health: 'unknown', warning: '/health is not served' };
    return { health: 'unhealthy', warning: j?.reason ? `unhealthy: ${j.reason}` : undefined };
  } catch (err) {
    // etcd answers /health after a quorum read: no answer in time says as much as a "false".
    return { health: 'unhealthy', warning: `health check: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** A member as either API lists it (v2: hex ids; the gateway: decimal uint64 strings). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a remote member's JSON, read field by field defensively
export function toMember(m: any, api: AttachApi): AttachedMember {
  const id = api === 'v2' ? String(m?.id ?? '') : hexId(m?.ID);
  const name = typeof m?.name === 'string' ? m.name : '';
  return {
    id,
    name,
    peerURLs: Array.isArray(m?.peerURLs) ? m.peerURLs.map(String) : [],
    clientURLs: Array.isArray(m?.clientURLs) ? m.clientURLs.map(String) : [],
    started: name !== '',
    isLearner: m?.isLearner === true,
  };
}

/** uint64 from the v3 gateway (decimal string) → etcd's hex id; '' for 0. */
export function hexId(dec: unknown): string {
  if (dec === undefined || dec === null || dec === '' || dec === '0' || dec === 0) return '';
  try {
    return BigInt(String(dec)).toString(16);
  } catch {
    return String(dec);
  }
}
