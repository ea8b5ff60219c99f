// What a node is started with, how it logs, and how it refuses to start: shared by the parts of
// a node (raft-node.ts composes them) and by whoever starts one (cli.ts, node-server.ts, the
// app's worker).

import type { Message } from '../../src-shared/raft-types.js';
import type { LogLevel, LogMsg } from './log.js';
import type { PeerTransportOptions } from './peer-transport.js';
import type { TLSInfo } from './tls-info.js';

export type LogFn = (level: LogLevel, pkg: string, msg: string) => void;

export interface NodeSettings {
  name: string;
  dataDir: string;
  initialCluster: { name: string; peerURLs: string[] }[];
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  listenPeerURLs: string[];
  advertisePeerURLs: string[];
  /**
   * etcd's PeerTLSInfo (--peer-cert-file, ..., or --peer-auto-tls's own): serves https:// peer
   * listen URLs and secures what this member dials at https:// peer URLs.
   */
  peerTLS?: TLSInfo;
  /** Filled in by whoever serves the client API, before start(). */
  advertiseClientURLs: string[];
  heartbeatMs: number;
  electionMs: number;
  snapshotCount: number;
  /** Entries kept behind a snapshot for followers that lag a little (etcd: 5000). */
  snapshotCatchUpEntries?: number;
  strictReconfigCheck?: boolean;
  /** etcd's --quota-backend-bytes (0 or absent: etcd's 2 GiB; negative: no quota). */
  quotaBackendBytes?: number;
  /** Links cut on purpose by the app (peer member id → cut?); see PeerTransportOptions.isLinkCut. */
  isLinkCut?: (peer: string) => boolean;
  /** Start in manual (step) mode, with a seeded election-timeout source: see RaftNode.setManual. */
  manual?: { seed?: number };
  /**
   * Manual mode: where the peer messages Raft emits go instead of the transport. Given here
   * (not as an event) so that nothing emitted while start() runs is missed. Default: a 'held' event.
   */
  onHeld?: (msgs: Message[]) => void;
  /** The app's slow network (slow-network.ts), which every sent message goes through. */
  outbound?: PeerTransportOptions['outbound'];
  /** Peer messages just stepped into Raft (the app reports their delivery). */
  onStepped?: (msgs: Message[]) => void;
}

/** Refused configuration or data: the message says what and where. */
export class NodeStartError extends Error {}

/** Raft's election timeout in ticks (one tick per heartbeat interval), as etcd derives it. */
export function electionTicks(s: Pick<NodeSettings, 'electionMs' | 'heartbeatMs'>): number {
  return Math.max(2, Math.round(s.electionMs / s.heartbeatMs));
}

const RAFT_LEVEL = { DEBUG: 'D', INFO: 'I', WARN: 'W', ERROR: 'E', FATAL: 'C', PANIC: 'C' } as const;

/** One of etcd's messages (log.ts), through a node's log. */
export function note(log: LogFn, m: LogMsg): void {
  if (m.kind === 'raft') log(RAFT_LEVEL[m.level], 'raft', m.text);
  else log(m.level, m.pkg, m.text);
}
