// The window's view of a cluster it did not start: a real etcd (or raftlab) cluster observed
// from outside, through its client API only (src-main/attach/etcd-observer.ts). Nothing here is
// read from a process's memory, so much of what NodeState carries (votes, logs, clocks, timers,
// peer links) is simply unknown; toClusterState() (attached-cluster.ts) fills those with neutral
// values so the views that draw a supervised cluster can draw an attached one too.
//
// Ids are etcd's member ids as v2 and etcdctl print them: lowercase hex, no padding (the v3 JSON
// gateway sends decimal uint64 strings; the observer converts).

import type { Role } from './raft-types.js';

/** Which client API an endpoint was observed through. */
export type AttachApi =
  /** The v3 JSON gateway (etcd 3.4+: /v3/; 3.3: /v3beta/; 3.2: /v3alpha/). */
  | 'v3'
  | 'v3beta'
  | 'v3alpha'
  /** v2 only (a `raftlab node`, or an etcd without its gateway): /v2/*, /version, /health. */
  | 'v2';

/**
 * How attach reaches a secured cluster: files on the machine raftlab runs on (PEM, as etcdctl's
 * --cacert/--cert/--key take them) and a login. Paths rather than pasted PEM: a key never
 * crosses the window boundary nor lands in the trace. The password is dropped from the trace
 * (redactCommand) and never sent back to the window.
 */
export interface AttachCredentials {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  user?: string;
  password?: string;
}

/** What the window is told of a cluster's security (never a secret): TLS, a client certificate, a login. */
export interface SecurityView {
  /** https:// client URLs. */
  tls: boolean;
  /** A client certificate is presented (attach), or required by the nodes (--client-cert-auth). */
  clientCert: boolean;
  /** A CA file was given (attach). */
  ca?: boolean;
  /** v3 auth is enabled (a cluster raftlab started with a root password). */
  auth?: boolean;
  /** The user logged in (attach, or the KV console). */
  user?: string;
  /** https:// peer URLs: the links between members are TLS (a cluster raftlab started). */
  peerTLS?: boolean;
  /**
   * The files a terminal uses to reach it (etcdctl --cacert/--cert/--key), by path: the ones
   * attach was given, or the CA and console certificate raftlab made. Paths only, as etcd logs them.
   */
  files?: { caFile?: string; certFile?: string; keyFile?: string };
}

export interface AttachedMember {
  id: string;
  /** '' while unstarted: etcd learns a member's name when it first publishes itself. */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  /** Published (has a name): etcdctl's `[unstarted]` is `started: false`. */
  started: boolean;
  /** v3 only; false when the API cannot tell. */
  isLearner: boolean;
}

export type Health = 'healthy' | 'unhealthy' | 'unknown';

/** One client URL as last polled. Raft figures of an unreachable endpoint are as last seen. */
export interface EndpointStatus {
  url: string;
  /** Given on the command line, or discovered from the member list. */
  origin: 'given' | 'discovered';
  /** Undefined until the first answer (or failure). */
  reachable: boolean | undefined;
  /** Why it is unreachable (or refused outright: https, a TLS port), in words fit for the window. */
  error?: string;
  /** Partial failures of a reachable endpoint (health timed out, an API switched off...). */
  warnings: string[];
  api?: AttachApi;
  /** The server's version (`etcdserver` of /version, or the v3 status). */
  version?: string;
  memberId?: string;
  name?: string;
  /** The leader this member knows ('' none). */
  leaderId?: string;
  /** From /v2/stats/self where served (any candidate state is visible there); else leader/follower. */
  role?: Role;
  raftTerm?: number;
  /** Raft's committed index (v3 status `raftIndex`, v2 `X-Raft-Index`). */
  raftIndex?: number;
  /** v3 only. */
  raftAppliedIndex?: number;
  /** v3 only: the backend file's size and the part in use, bytes. */
  dbSize?: number;
  dbSizeInUse?: number;
  /** The v3 store revision, or the v2 store index (`X-Etcd-Index`). */
  storeIndex?: number;
  health: Health;
  /** Alarms etcd reports in its status (e.g. "etcdserver: mvcc: database space exceeded"). */
  alarms: string[];
  /** Fields this endpoint's API cannot show, by EndpointStatus field name. */
  unavailable: string[];
  /** Date.now() of the last check, and of the last answer. */
  checkedAt?: number;
  seenAt?: number;
}

export interface WatchStatus {
  prefix: string;
  api?: AttachApi;
  /** The endpoint currently streaming (undefined while reconnecting). */
  endpoint?: string;
  /** The next revision (v3) or v2 index it asks for. */
  next?: number;
  error?: string;
}

export interface AttachedView {
  source: 'attached';
  /** Date.now() when this snapshot was made. */
  at: number;
  /** The URLs as given (normalized to their origin). */
  urls: string[];
  clusterId?: string;
  members: AttachedMember[];
  /** Why the member list could not be read (the last known list is kept). */
  membersError?: string;
  endpoints: EndpointStatus[];
  /**
   * The leader as seen by the reachable endpoints in the highest term; undefined when none
   * (an election, a lost quorum, or nothing reachable).
   */
  leader?: { id: string; name: string; term: number };
  /** The highest term any endpoint reported. */
  term: number;
  watch?: WatchStatus;
  /** Cluster-wide problems in words: authentication required, keys API off, history compacted... */
  problems: string[];
  /** How it is reached: TLS, a client certificate, a login. */
  security?: SecurityView;
}

export type AttachKeyAction = 'put' | 'delete';

/** What the observer saw change; `at` is Date.now() when it saw it. */
export type AttachEvent = { at: number } & (
  | { type: 'leaderChanged'; from?: string; fromName?: string; to?: string; toName?: string; term: number }
  | { type: 'termBumped'; from: number; to: number }
  | { type: 'memberAdded'; member: AttachedMember }
  | { type: 'memberRemoved'; member: AttachedMember }
  /** An unstarted member published its name and client URLs. */
  | { type: 'memberStarted'; member: AttachedMember }
  | {
      type: 'keyChanged';
      action: AttachKeyAction;
      key: string;
      /** Absent for a delete. */
      value?: string;
      prevValue?: string;
      /** v3 mod_revision, or v2 modifiedIndex. */
      revision: number;
      /** The v2 action as etcd names it (set, create, compareAndSwap, expire...); v3 is put/delete. */
      detail: string;
      dir?: boolean;
    }
  | { type: 'endpointUnreachable'; url: string; error: string }
  | { type: 'endpointReachable'; url: string; api?: AttachApi; version?: string }
  | { type: 'problem'; message: string }
);

export type AttachEventType = AttachEvent['type'];

/** The name the views use: the member's name, or its id while unstarted or unnamed. */
export function memberLabel(m: { id: string; name: string }): string {
  return m.name !== '' ? m.name : m.id;
}
