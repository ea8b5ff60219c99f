// Every colour and mark the window uses, in one place: the views draw with these and the legend
// explains exactly these.

import type { MessageType, Role } from '../../src-shared/raft-types.js';
import type { NodeStatus } from '../../src-shared/cluster-state.js';

export const ROLE_COLOR: Record<Role, string> = {
  follower: '#5b8def',
  precandidate: '#f2b84b',
  candidate: '#f08a3c',
  leader: '#2fb37a',
};

export const ROLE_SHAPE: Record<Role, string> = {
  follower: 'circle',
  precandidate: 'diamond (dashed)',
  candidate: 'diamond',
  leader: 'rounded square',
};

export const STATUS_TEXT: Record<NodeStatus, string> = {
  unstarted: 'added, not started yet',
  starting: 'starting',
  alive: 'running',
  killed: 'killed (its data dir is kept)',
  removed: 'removed from the cluster',
  unreachable: 'does not answer',
};

export interface MessageLook {
  color: string;
  label: string;
  /** Requests are filled dots, responses rings. */
  response: boolean;
}

export const MESSAGE_LOOK: Record<MessageType, MessageLook> = {
  MsgPreVote: { color: '#e0a526', label: 'pre-vote request', response: false },
  MsgPreVoteResp: { color: '#e0a526', label: 'pre-vote answer', response: true },
  MsgVote: { color: '#e0702b', label: 'vote request', response: false },
  MsgVoteResp: { color: '#e0702b', label: 'vote answer', response: true },
  MsgApp: { color: '#3f7de8', label: 'append entries', response: false },
  MsgAppResp: { color: '#3f7de8', label: 'append answer', response: true },
  MsgHeartbeat: { color: '#8a94a6', label: 'heartbeat', response: false },
  MsgHeartbeatResp: { color: '#8a94a6', label: 'heartbeat answer', response: true },
  MsgSnap: { color: '#11a3a3', label: 'snapshot', response: false },
  MsgProp: { color: '#9b59d0', label: 'forwarded proposal', response: false },
  MsgTimeoutNow: { color: '#d9485f', label: 'leader transfer: campaign now', response: false },
  MsgReadIndex: { color: '#6c6fd6', label: 'read-index request', response: false },
  MsgReadIndexResp: { color: '#6c6fd6', label: 'read-index answer', response: true },
};

export const REFUSED_COLOR = '#d9485f';
export const CUT_COLOR = '#d9485f';
/** A TLS link (both members' peer URLs https://). */
export const TLS_COLOR = '#4f9a6b';

/** Log cells are tinted by term so that runs of the same term read as one band. */
export function termColor(term: number): string {
  const hues = [210, 150, 35, 280, 0, 185, 95, 320];
  return `hsl(${hues[term % hues.length]} 65% 86%)`;
}
