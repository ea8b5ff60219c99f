// The guided "step through an election": from a stable cluster in step mode, the user is led
// through timeout → candidate → vote requests → votes → leader → first heartbeat, one click a
// phase. The next phase is read off the real cluster (roles, the held queue), and what each
// click caused is told by the timeline sentences of the real events (narrate.ts).

import type { Command, HeldMessage, NodeState } from '../../src-shared/protocol.js';
import type { MessageType } from '../../src-shared/raft-types.js';
import type { Session } from './session.svelte.js';

export interface GuideStep {
  /** What the user is asked to do, and why, as the Raft paper would say it. */
  title: string;
  explain: string;
  /** Omitted on the last step: the election is over. */
  commands?: Command[];
}

const REQUESTS: ReadonlySet<MessageType> = new Set(['MsgPreVote', 'MsgVote']);
const ANSWERS: ReadonlySet<MessageType> = new Set(['MsgPreVoteResp', 'MsgVoteResp']);
const FROM_LEADER: ReadonlySet<MessageType> = new Set(['MsgApp', 'MsgHeartbeat']);

const deliver = (held: HeldMessage[]): Command[] => held.map((m) => ({ type: 'stepDeliver', id: m.id }));

/**
 * The next phase of the election, given the cluster now and the leader the guide stopped
 * (`stopped`, '' before it did).
 */
export function nextElectionStep(session: Session, stopped: string): GuideStep {
  const c = session.cluster;
  const step = c?.step;
  const alive = (c?.nodes ?? []).filter((n) => n.status === 'alive');
  const leader = alive.find((n) => n.role === 'leader');
  if (!step?.on) {
    return {
      title: 'Freeze time',
      explain: 'Turn step mode on: every node\'s clock stops and every message waits in a queue until you deliver it. The nodes stay real.',
      commands: [{ type: 'stepMode', on: true }],
    };
  }
  if (!stopped) {
    if (!leader) return { title: 'Wait for a leader', explain: 'The guide starts from a cluster with a leader: tick until one is elected.', commands: [{ type: 'stepRunUntil', until: 'leader' }] };
    return {
      title: `Stop the leader, ${leader.name}`,
      explain: `Kill ${leader.name} as a crash would. Its followers stop hearing heartbeats, but nothing happens until their election timers run out.`,
      commands: [{ type: 'killNode', name: leader.name }],
    };
  }
  const held = step.held;
  const requests = held.filter((m) => REQUESTS.has(m.msgType) && m.to !== stopped);
  const answers = held.filter((m) => ANSWERS.has(m.msgType));
  const candidates = alive.filter((n) => n.role === 'candidate' || n.role === 'precandidate');
  if (leader && leader.name !== stopped) {
    const first = held.filter((m) => m.from === leader.name && FROM_LEADER.has(m.msgType) && m.to !== stopped);
    if (first.length > 0) {
      return {
        title: `Deliver ${leader.name}'s first ${first[0].msgType === 'MsgApp' ? 'append' : 'heartbeat'}`,
        explain: `${leader.name} asserts its leadership at once, so that no one else starts an election: its first message tells the others who leads term ${leader.term}.`,
        commands: deliver(first),
      };
    }
    return {
      title: `${leader.name} leads term ${leader.term}`,
      explain: 'That was a whole election. Turn step mode off to let time run again, or step on to watch replication.',
    };
  }
  if (answers.length > 0) {
    const kind = answers[0].msgType === 'MsgPreVoteResp' ? 'pre-vote' : 'vote';
    return {
      title: `Deliver the ${kind} answers`,
      explain: `Each voter has decided. A ${kind} is granted only to a candidate whose log is at least as up to date as the voter's, and (for a real vote) at most once per term. A majority wins.`,
      commands: deliver(answers),
    };
  }
  if (requests.length > 0) {
    const pre = requests[0].msgType === 'MsgPreVote';
    const who = requests[0].from;
    return {
      title: `Deliver ${who}'s ${pre ? 'pre-vote' : 'vote'} requests`,
      explain: pre
        ? `${who} first asks whether it could win term ${requests[0].term} (pre-vote), without raising anyone's term: a node cut off from the others cannot disturb the cluster this way.`
        : `${who} is a candidate for term ${requests[0].term}: it voted for itself and asks the others, sending its last log index ${requests[0].index} and term ${requests[0].logTerm}.`,
      commands: deliver(requests),
    };
  }
  if (candidates.length === 0) {
    return {
      title: 'Let time pass',
      explain: 'Tick every node until one\'s election timer runs out. Each timer was drawn at random, so one node usually times out first.',
      commands: [{ type: 'stepRunUntil', until: 'election-timeout' }],
    };
  }
  return {
    title: 'Let time pass',
    explain: `${candidates.map((n: NodeState) => n.name).join(', ')} is waiting for answers that cannot come: tick until its timer runs out and it tries again.`,
    commands: [{ type: 'stepRunUntil', until: 'election-timeout' }],
  };
}
