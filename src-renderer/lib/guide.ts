// Guided step-throughs on the real cluster in step mode, one click a phase: an election
// (timeout → candidate → vote requests → votes → leader → first heartbeat), log replication
// (a write → append → acknowledgements → commit → followers learn the commit) and a membership
// change (member add → the configuration entry replicated and committed → the new member starts
// and catches up). The next phase is read off the real cluster (roles, indexes, the held queue),
// and what each click caused is told by the timeline sentences of the real events (narrate.ts),
// kept as a story of chapters the user can scroll back through (guide-story.ts). One more, "three
// ways to start a cluster", needs no step mode: it starts a cluster each way etcd's clustering
// guide names (static, etcd discovery, DNS SRV) and shows what each member found.

import { agreedLeader, type HeldMessage, type NodeState } from '../../src-shared/cluster-state.js';
import type { BootstrapMethod, Command } from '../../src-shared/commands.js';
import { bootstrapSummary } from './bootstrap-view.js';
import type { MessageType } from '../../src-shared/raft-types.js';
import type { GuideKind } from './guide-story.js';
import type { Session } from './session.svelte.js';

export type { GuideKind };

export interface GuideStep {
  /** What the user is asked to do, and why, as the Raft paper would say it. */
  title: string;
  explain: string;
  /** Omitted on the last step: the story is over. */
  commands?: Command[];
  /**
   * Commands that only finish once later steps happen (a write is answered once committed):
   * sent without waiting for their answer.
   */
  background?: boolean;
}

/** What a guide remembers between clicks. */
export interface GuideMemory {
  /** election: the leader it stopped. */
  stopped: string;
  /** replication / membership: the leader's last index before the write or the add, -1 before it. */
  before: number;
  /** membership: the name of the member it added. */
  added: string;
  /** bootstrap: the way the guide last started a cluster ('' before the first), and whether a member came too late. */
  way: '' | BootstrapMethod;
  extra: boolean;
  /** bootstrap: why the last cluster could not be started ('' if it could). */
  failed: string;
}

export const freshMemory = (): GuideMemory => ({
  stopped: '',
  before: -1,
  added: '',
  way: '',
  extra: false,
  failed: '',
});

export function nextStep(kind: GuideKind, session: Session, memory: GuideMemory): GuideStep {
  if (kind === 'election') return nextElectionStep(session, memory.stopped);
  if (kind === 'replication') return nextReplicationStep(session, memory);
  if (kind === 'bootstrap') return nextBootstrapStep(session, memory);
  return nextMembershipStep(session, memory);
}

const FREEZE: GuideStep = {
  title: 'Freeze time',
  explain:
    "Turn step mode on: every node's clock stops and every message waits in a queue until you deliver it. The nodes stay real.",
  commands: [{ type: 'stepMode', on: true }],
};

function leaderOf(session: Session): NodeState | undefined {
  return session.cluster?.nodes.find((n) => n.status === 'alive' && n.role === 'leader');
}

/** A sentence for the oldest held message, for guides that deliver whatever comes next. */
function whatItIs(m: HeldMessage): string {
  const conf = m.entryDetails?.find((e) => e.type === 'conf');
  switch (m.msgType) {
    case 'MsgApp':
      if (conf)
        return `${m.from} sends ${m.to} the configuration change "${conf.data}" (entry ${conf.index}). A node uses a new configuration as soon as it appends it, committed or not.`;
      return m.entries
        ? `${m.from} sends ${m.to} ${m.entries} entr${m.entries === 1 ? 'y' : 'ies'} after index ${m.index}, and its commit index ${m.commit}.`
        : `${m.from} tells ${m.to} its commit index (${m.commit}) and checks that their logs match at ${m.index}.`;
    case 'MsgAppResp':
      return m.reject
        ? `${m.from} tells ${m.to} its log does not match at ${m.index}: the leader will back up and resend.`
        : `${m.from} acknowledges to ${m.to} that its log now matches up to ${m.index}.`;
    case 'MsgSnap':
      return `${m.from} sends ${m.to} a snapshot at index ${m.snapshot}: ${m.to} is too far behind for log entries.`;
    case 'MsgHeartbeat':
      return `${m.from} heartbeats ${m.to}, with its commit index ${m.commit}.`;
    case 'MsgHeartbeatResp':
      return `${m.from} answers ${m.to}'s heartbeat.`;
    default:
      return `${m.from} → ${m.to}: ${m.msgType}, term ${m.term}.`;
  }
}

const REQUESTS: ReadonlySet<MessageType> = new Set(['MsgPreVote', 'MsgVote']);
const ANSWERS: ReadonlySet<MessageType> = new Set(['MsgPreVoteResp', 'MsgVoteResp']);
const FROM_LEADER: ReadonlySet<MessageType> = new Set(['MsgApp', 'MsgHeartbeat']);

const deliver = (held: HeldMessage[]): Command[] => held.map((m) => ({ type: 'stepDeliver', id: m.id }));

/** Tick until there is a leader, each guide saying `why` it needs one. */
const waitForLeader = (why: string): GuideStep => ({
  title: 'Wait for a leader',
  explain: why,
  commands: [{ type: 'stepRunUntil', until: 'leader' }],
});

/**
 * The next phase of the election, given the cluster now and the leader the guide stopped
 * (`stopped`, '' before it did).
 */
export function nextElectionStep(session: Session, stopped: string): GuideStep {
  const c = session.cluster;
  const step = c?.step;
  const alive = (c?.nodes ?? []).filter((n) => n.status === 'alive');
  const leader = alive.find((n) => n.role === 'leader');
  if (!step?.on) return FREEZE;
  if (!stopped) {
    if (!leader) return waitForLeader('The guide starts from a cluster with a leader: tick until one is elected.');
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
    const [earliest] = first;
    if (earliest) {
      return {
        title: `Deliver ${leader.name}'s first ${earliest.msgType === 'MsgApp' ? 'append' : 'heartbeat'}`,
        explain: `${leader.name} asserts its leadership at once, so that no one else starts an election: its first message tells the others who leads term ${leader.term}.`,
        commands: deliver(first),
      };
    }
    return {
      title: `${leader.name} leads term ${leader.term}`,
      explain: 'That was a whole election. Turn step mode off to let time run again, or step on to watch replication.',
    };
  }
  const [answer] = answers;
  if (answer) {
    const kind = answer.msgType === 'MsgPreVoteResp' ? 'pre-vote' : 'vote';
    return {
      title: `Deliver the ${kind} answers`,
      explain: `Each voter has decided. A ${kind} is granted only to a candidate whose log is at least as up to date as the voter's, and (for a real vote) at most once per term. A majority wins.`,
      commands: deliver(answers),
    };
  }
  const [request] = requests;
  if (request) {
    const pre = request.msgType === 'MsgPreVote';
    const who = request.from;
    return {
      title: `Deliver ${who}'s ${pre ? 'pre-vote' : 'vote'} requests`,
      explain: pre
        ? `${who} first asks whether it could win term ${request.term} (pre-vote), without raising anyone's term: a node cut off from the others cannot disturb the cluster this way.`
        : `${who} is a candidate for term ${request.term}: it voted for itself and asks the others, sending its last log index ${request.index} and term ${request.logTerm}.`,
      commands: deliver(requests),
    };
  }
  if (candidates.length === 0) {
    return {
      title: 'Let time pass',
      explain:
        "Tick every node until one's election timer runs out. Each timer was drawn at random, so one node usually times out first.",
      commands: [{ type: 'stepRunUntil', until: 'election-timeout' }],
    };
  }
  const [candidate] = candidates;
  return {
    title: 'Let time pass',
    explain:
      candidates.length === 1 && candidate
        ? `${candidate.name} is waiting for answers that cannot come: tick until its timer runs out and it tries again.`
        : `${candidates.map((n: NodeState) => n.name).join(' and ')} are waiting for answers that cannot come: tick until a timer runs out and that node tries again.`,
    commands: [{ type: 'stepRunUntil', until: 'election-timeout' }],
  };
}

/** Log replication: one write, from the client's request to every node knowing it is committed. */
export function nextReplicationStep(session: Session, memory: GuideMemory): GuideStep {
  const step = session.cluster?.step;
  if (!step?.on) return FREEZE;
  const leader = leaderOf(session);
  if (!leader) return waitForLeader('Replication starts at the leader: tick until there is one.');
  if (memory.before < 0) {
    return {
      title: `Write a key through ${leader.name}`,
      explain: `A client asks ${leader.name} to set /guide. The leader appends it to its own log at once, but answers the client only once a majority has it.`,
      commands: [{ type: 'kv', name: leader.name, method: 'PUT', key: '/guide', value: `v${leader.lastIndex + 1}` }],
      background: true,
    };
  }
  const target = memory.before + 1;
  const alive = (session.cluster?.nodes ?? []).filter((n) => n.status === 'alive');
  const held = step.held;
  if (leader.lastIndex < target)
    return {
      title: 'The leader appends the write',
      explain: `${leader.name} is writing the entry to its log (on disk before anything is sent)…`,
    };
  const appends = held.filter((m) => m.from === leader.name && m.msgType === 'MsgApp' && (m.entries ?? 0) > 0);
  if (appends.length > 0) {
    return {
      title: 'Deliver the append to the followers',
      explain: `${leader.name} sends the new entry ${target} (term ${leader.term}) to every follower, with the index and term of the entry before it, so each can check its log matches.`,
      commands: deliver(appends),
    };
  }
  const acks = held.filter((m) => m.to === leader.name && m.msgType === 'MsgAppResp');
  if (acks.length > 0 && leader.commit < target) {
    return {
      title: 'Deliver the acknowledgements',
      explain: `Each follower stored the entry on disk before answering. Once a majority (the leader included) has it, the entry is committed and ${leader.name} answers the client.`,
      commands: deliver(acks),
    };
  }
  const behind = alive.filter((n) => n.commit < target);
  if (leader.commit >= target && behind.length > 0) {
    const next = held.filter(
      (m) =>
        m.from === leader.name &&
        (m.msgType === 'MsgApp' || m.msgType === 'MsgHeartbeat') &&
        behind.some((b) => b.name === m.to),
    );
    if (next.length > 0) {
      return {
        title: "Deliver the leader's next message",
        explain: `${behind.map((n) => n.name).join(' and ')} stored entry ${target} but do not know yet that it is committed: the leader's next message carries its commit index ${leader.commit}.`,
        commands: deliver(next),
      };
    }
    return {
      title: `Tick ${leader.name} to its next heartbeat`,
      explain: "Followers learn the commit index from the leader's next append or heartbeat.",
      commands: [{ type: 'stepTick', name: leader.name }],
    };
  }
  if (leader.commit < target) {
    const oldest = held[0];
    if (oldest) return { title: 'Deliver the next message', explain: whatItIs(oldest), commands: deliver([oldest]) };
    return {
      title: 'Let time pass',
      explain: 'Tick every node so the leader sends again.',
      commands: [{ type: 'stepTick' }],
    };
  }
  return {
    title: `Entry ${target} is committed everywhere`,
    explain: `Every running node applied entry ${target}: the write is durable on a majority and every node will keep it, whatever fails next.`,
  };
}

/** A membership change the etcd way: member add, the configuration entry committed, the new member started and caught up. */
export function nextMembershipStep(session: Session, memory: GuideMemory): GuideStep {
  const step = session.cluster?.step;
  if (!step?.on) return FREEZE;
  const leader = leaderOf(session);
  if (!leader) return waitForLeader('Only the leader takes a configuration change: tick until there is one.');
  if (memory.before < 0) {
    return {
      title: 'Add a member (etcdctl member add)',
      explain: `${leader.name} appends a configuration change adding a new member. It is listed as unstarted until its process starts; one server is added at a time, so any two majorities overlap.`,
      commands: [{ type: 'addMember' }],
      background: true,
    };
  }
  const added = (session.cluster?.nodes ?? []).find((n) => n.name === memory.added);
  const oldest = step.held[0];
  if (added && added.status === 'alive' && added.commit >= memory.before + 1 && added.lastIndex >= leader.lastIndex) {
    return {
      title: `${added.name} is a member and has caught up`,
      explain: `${added.name} has the whole log up to ${added.lastIndex}, with the configuration that includes it. Majorities now count ${session.cluster!.nodes.filter((n) => n.status !== 'removed' && n.status !== 'unstarted').length} members.`,
    };
  }
  if (oldest) return { title: 'Deliver the next message', explain: whatItIs(oldest), commands: deliver([oldest]) };
  return {
    title: 'Let time pass',
    explain:
      added && added.status !== 'alive'
        ? `${added.name} is starting; tick so the leader reaches it.`
        : 'Tick every node so the leader sends again.',
    commands: [{ type: 'stepTick' }],
  };
}

/**
 * "Three ways to start a cluster" (etcd's clustering guide): static, then etcd discovery one
 * member at a time (each registers and waits; the last one completes the size; one more finds
 * the cluster full), then DNS SRV records. Read off the cluster as the others are; no step mode.
 */
export function nextBootstrapStep(session: Session, memory: GuideMemory): GuideStep {
  const c = session.cluster;
  const nodes = c?.nodes ?? [];
  const led = c ? agreedLeader(c) : undefined;
  const boot = c?.bootstrap;
  const STATIC: GuideStep = {
    title: 'Static: every member is told the whole cluster',
    explain:
      "When you know every member's address before you start, give each the same list: etcd --name n1 --initial-cluster n1=http://…:2380,n2=…,n3=… --initial-cluster-state new. " +
      'Each member knows its peers from the start; the ids come from the peer URLs and --initial-cluster-token. This starts a fresh 3-member cluster that way.',
    commands: [{ type: 'startCluster', size: 3 }],
  };
  const DISCOVERY: GuideStep = {
    title: 'etcd discovery: the members find each other through a directory',
    explain:
      "When the addresses are not known in advance, a discovery service holds a token: a directory with the cluster's size (curl -X PUT …/_config/size -d value=3). " +
      'Each member gets --discovery <token URL>, registers itself there (name=peerURL) and waits until the size is reached. The app starts a raftlab node as the service; the members wait for you to start them.',
    commands: [{ type: 'startCluster', size: 3, bootstrap: 'discovery', oneByOne: true }],
  };
  const DNS: GuideStep = {
    title: 'DNS SRV: the records name the members',
    explain:
      "With --discovery-srv <domain>, each member looks up _etcd-server._tcp.<domain> (and _etcd-server-ssl for https peers): every record is one member's peer host and port. " +
      'A member finds itself among them by its advertised peer URL. The app serves the records with dnsmasq on loopback.',
    commands: [{ type: 'startCluster', size: 3, bootstrap: 'dns' }],
  };
  switch (memory.way) {
    case '':
      return STATIC;
    case 'static':
      if (boot || !led)
        return {
          title: 'The members find each other',
          explain: 'Each one already knows the others: they connect and elect a leader.',
        };
      return DISCOVERY;
    case 'discovery': {
      if (boot?.method !== 'discovery')
        return {
          title: 'Setting up the token…',
          explain: "The service is starting and the token's size key is being written.",
        };
      const next = nodes.find((n) => n.status === 'unstarted');
      const regs = boot.registrations?.length ?? 0;
      if (next) {
        const last = nodes.filter((n) => n.status === 'unstarted').length === 1;
        return {
          title: `Start ${next.name}`,
          explain: last
            ? `${bootstrapSummary(boot, nodes)}. ${next.name} completes the size: every waiting member sees the last registration through its watch, takes the first ${boot.size} registrations as the initial cluster, and they start together.`
            : `${next.name} reads the size, registers itself (a create-only key named after its member id, value ${next.name}=${next.peerURL}) and, finding ${regs + 1} of ${boot.size}, waits with a recursive watch on the directory.`,
          commands: [{ type: 'restartNode', name: next.name }],
          background: true,
        };
      }
      if (!led)
        return {
          title: 'The cluster forms',
          explain: `${bootstrapSummary(boot, nodes)}. The members connect to the peers they found and elect a leader.`,
        };
      if (!memory.extra) {
        return {
          title: 'One more member, too late',
          explain: `A member started with the same --discovery URL after the size is reached finds the cluster full. With --discovery-fallback exit it gives up; with proxy (etcd 3.4's default) it runs as a v2 proxy in front of the cluster.`,
          commands: [{ type: 'bootstrapExtra', fallback: 'proxy' }],
        };
      }
      return DNS;
    }
    case 'dns':
      if (memory.failed) {
        return {
          title: 'DNS SRV is not available here',
          explain: `The app could not serve the records: ${memory.failed}. The other two ways work without it.`,
        };
      }
      if (boot?.method !== 'dns')
        return {
          title: 'Setting up the records…',
          explain: 'dnsmasq is starting on loopback with one SRV record per member.',
        };
      if (!led) return { title: 'Each member looks itself up', explain: `${bootstrapSummary(boot, nodes)}.` };
      return {
        title: 'Three ways, one cluster each',
        explain: `${bootstrapSummary(boot, nodes)}. Whichever way it started, the cluster is the same afterwards: the bootstrap flags are read only while a member's data dir is empty (a restarted member ignores them).`,
      };
    default:
      return STATIC;
  }
}
