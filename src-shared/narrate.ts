// What just happened, in words: one sentence per Raft event, the way the Raft paper would say
// it. The status line, the timeline and (later) the guided step-through all read these, live or
// replayed, so the words are made in one place. Pure and browser-safe.

import type { AttachEvent } from './attach.js';
import type { Command } from './commands.js';
import { describeKv3 } from './kv3.js';
import type { RaftEvent, VoteRefusal } from './raft-types.js';

/** How much a sentence matters: 'major' ones reach the status line, all reach the timeline. */
export type Weight = 'major' | 'minor';

export interface Narration {
  text: string;
  weight: Weight;
}

const REFUSAL: Record<VoteRefusal, string> = {
  'already-voted': 'it already voted for someone else in that term',
  'log-behind': "the candidate's log is behind its own",
  'stale-term': "the candidate's term is older than its own",
  'leader-lease': 'it still hears from a live leader',
};

/**
 * `node` is the name of the node that produced the event; `nameOf` turns the member ids inside
 * the event into names.
 */
export function narrate(node: string, e: RaftEvent, nameOf: (id: string) => string): Narration | undefined {
  const major = (text: string): Narration => ({ text, weight: 'major' });
  const minor = (text: string): Narration => ({ text, weight: 'minor' });
  switch (e.kind) {
    case 'election-timeout':
      return e.pre
        ? major(
            `${node} heard from no leader in time and asks the others whether it could win term ${e.term + 1} (pre-vote)`,
          )
        : major(`${node} timed out and started an election for term ${e.term + 1}`);
    case 'role':
      switch (e.role) {
        case 'leader':
          return major(`${node} won the election and leads term ${e.term}`);
        case 'candidate':
          return minor(`${node} is a candidate in term ${e.term} and voted for itself`);
        case 'precandidate':
          return minor(`${node} is a pre-candidate (still in term ${e.term})`);
        case 'follower':
          return e.lead
            ? minor(`${node} follows ${nameOf(e.lead)} in term ${e.term}`)
            : minor(`${node} is a follower in term ${e.term}, with no leader known`);
      }
      return undefined;
    case 'term':
      return minor(`${node} moved from term ${e.from} to term ${e.to}`);
    case 'vote': {
      const what = e.pre ? 'a pre-vote' : 'its vote';
      const who = nameOf(e.candidate);
      return e.granted
        ? minor(`${node} granted ${what} to ${who} for term ${e.term}`)
        : minor(`${node} refused ${what} to ${who} for term ${e.term}: ${REFUSAL[e.reason ?? 'stale-term']}`);
    }
    case 'vote-result':
      if (e.from === '' || nameOf(e.from) === node) return undefined;
      return minor(
        `${node} got ${e.granted ? 'a yes' : 'a no'} from ${nameOf(e.from)}: ${e.votes} of the ${e.needed} ${e.pre ? 'pre-votes' : 'votes'} it needs for term ${e.term}`,
      );
    case 'append':
      return e.first === e.last
        ? minor(`${node} appended entry ${e.first} (term ${e.term}) to its log`)
        : minor(`${node} appended entries ${e.first}–${e.last} (term ${e.term}) to its log`);
    case 'truncate':
      return major(`${node} dropped its uncommitted entries from ${e.from} on: they conflict with the leader's log`);
    case 'commit':
      return minor(`${node} knows entries up to ${e.index} are committed (stored on a majority)`);
    case 'apply':
      return undefined; // one per entry: the commit sentence already says it
    case 'conf': {
      const who = nameOf(e.change.id);
      const verb = e.promoted
        ? 'promotes'
        : { add: 'adds', 'add-learner': 'adds a learner,', remove: 'removes', update: 'updates' }[e.change.type];
      const voters = `voters are now ${e.voters.map(nameOf).join(', ')}`;
      // The promoted member says it in the first person; the others as any change they take in.
      if (e.promoted && who === node)
        return major(`${who} was promoted from learner to voting member (entry ${e.index}): ${voters}`);
      // A learner replicates the log but does not vote: named apart.
      const learners = e.learners?.length ? `; learners (no vote): ${e.learners.map(nameOf).join(', ')}` : '';
      const suffix = e.promoted ? ' from learner to voting member' : '';
      return major(`${node} takes in the change at ${e.index} that ${verb} ${who}${suffix}: ${voters}${learners}`);
    }
    case 'snapshot-created':
      return minor(`${node} took a snapshot at index ${e.index} and compacted its log`);
    case 'snapshot-sent':
      return major(
        `${node} sends a snapshot at index ${e.index} to ${nameOf(e.to)}, which is too far behind for log entries`,
      );
    case 'snapshot-installed':
      return major(`${node} installed the snapshot at index ${e.index} from ${nameOf(e.from)}`);
    case 'check-quorum-lost':
      return major(`${node} stepped down: it heard from only ${e.active} of the ${e.needed} members a leader needs`);
    case 'transfer-start':
      return major(`${node} hands leadership over to ${nameOf(e.to)}`);
    case 'transfer-abort':
      return major(`${node} gave up handing leadership to ${nameOf(e.to)}: ${e.reason}`);
    case 'removed':
      return major(`${node} learned it was removed from the cluster and stops`);
  }
}

/** A user action, in words (the timeline, the trace export). */
/** A moment of the session as a clock shows it: 14:03:07.250 (local time). */
export function clockTime(at: number): string {
  const d = new Date(at);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

export function describeCommand(cmd: Command): string {
  switch (cmd.type) {
    case 'startCluster': {
      const how =
        cmd.bootstrap === 'discovery'
          ? `, bootstrapped by etcd discovery (${cmd.discoveryService ? `the service at ${cmd.discoveryService}` : 'a discovery service the app starts'})`
          : cmd.bootstrap === 'dns'
            ? ', bootstrapped by DNS SRV records'
            : '';
      const secure = cmd.secure
        ? `, secured: TLS on client and peer ports${cmd.secure.clientCertAuth ? ', client certificates required' : ''}${cmd.secure.rootPassword !== undefined ? ', auth on (user root)' : ''}`
        : '';
      return `You started a fresh ${cmd.size}-node cluster${how}${secure}${cmd.oneByOne ? ': its members wait for you to start them' : ''}`;
    }
    case 'bootstrapExtra':
      return `You started one more member with the same bootstrap flags${cmd.fallback ? ` (--discovery-fallback ${cmd.fallback})` : ''}`;
    case 'killNode':
      return `You killed ${cmd.name} (like kill -9)`;
    case 'restartNode':
      return `You started ${cmd.name} from its data dir`;
    case 'setClock': {
      const parts: string[] = [];
      if (cmd.offsetMs !== undefined)
        parts.push(`offset ${cmd.offsetMs >= 0 ? '+' : ''}${(cmd.offsetMs / 1000).toFixed(1)} s`);
      if (cmd.rate !== undefined) parts.push(`rate ×${cmd.rate}`);
      return `You set ${cmd.name}'s clock: ${parts.join(', ')}`;
    }
    case 'cutLink':
      return `You cut the link ${cmd.a}–${cmd.b}`;
    case 'healLink':
      return `You healed the link ${cmd.a}–${cmd.b}`;
    case 'healAll':
      return 'You healed every link';
    case 'addMember':
      return cmd.learner
        ? 'You added a learner (etcdctl member add --learner, then start it)'
        : 'You added a member (etcdctl member add, then start it)';
    case 'promoteMember':
      return `You promoted ${cmd.name} from learner to voting member (etcdctl member promote)`;
    case 'removeMember':
      return `You removed ${cmd.name} (etcdctl member remove)`;
    case 'transferLeader':
      return `You asked the leader to hand over to ${cmd.to}`;
    case 'kv':
      return `${cmd.method} ${cmd.key} on ${cmd.name}`;
    case 'kv3':
      return `v3 ${describeKv3(cmd.request)} on ${cmd.name}`;
    case 'setSpeed':
      return cmd.speed >= 1
        ? 'You set the cluster to real time (×1)'
        : `You slowed the whole cluster to ×1/${Math.round(1 / cmd.speed)}: its clocks and its network`;
    case 'dropMessage':
      return `You dropped message #${cmd.id} in flight`;
    case 'timeoutNode':
      return `You made ${cmd.name}'s election timer run out`;
    case 'attach': {
      // Which files and which user, never the password.
      const how = [
        cmd.caFile ? 'a CA' : '',
        cmd.certFile ? 'a client certificate' : '',
        cmd.user ? `user ${cmd.user}` : '',
      ].filter(Boolean);
      return `You attached to the cluster at ${cmd.urls.join(', ')}${how.length ? ` with ${how.join(', ')}` : ''}`;
    }
    case 'login':
      return `You logged the KV console in as ${cmd.user}`;
    case 'logout':
      return 'You logged the KV console out';
    case 'detach':
      return 'You went back to the local cluster';
    case 'chaos':
      return `You started chaos: ${cmd.seconds} s of faults and clients on a fresh ${cmd.nodes ?? 3}-node cluster${cmd.workload && cmd.workload !== 'v2' ? `, clients on the ${cmd.workload === 'v3' ? 'v3 API' : 'v2 and v3 APIs'}` : ''}${cmd.breakOnPurpose ? ', with reads broken on purpose' : ''}`;
    case 'exportTrace':
      return `You exported the session trace (${cmd.format === 'chrome' ? "Chrome's format" : 'JSONL'})`;
    case 'stepMode':
      return cmd.on
        ? `You turned step mode on${cmd.seed !== undefined ? ` (seed ${cmd.seed})` : ''}: clocks stop, messages wait`
        : 'You turned step mode off: real time again';
    case 'stepDeliver':
      return `You delivered held message #${cmd.id}`;
    case 'stepDrop':
      return `You dropped held message #${cmd.id}`;
    case 'stepDeliverAll':
      return 'You delivered every held message';
    case 'stepTick':
      return cmd.name ? `You advanced ${cmd.name}'s clock one tick` : "You advanced every node's clock one tick";
    case 'stepCancel':
      return 'You stopped the run';
    case 'stepRunUntil':
      return `You let it run until ${cmd.until === 'vote-granted' ? 'a vote is granted' : cmd.until === 'leader' ? 'there is a new leader' : cmd.until === 'commit' ? 'a commit' : 'an election timeout'}`;
    case 'resumeFrom':
      return `You resumed the cluster from ${clockTime(cmd.at)}: a new branch`;
    case 'checkpoint':
      return 'You took a checkpoint of every node';
    case 'branches':
      return 'You asked for the branches';
    default:
      return `You sent ${(cmd as { type: string }).type}`;
  }
}

/** What was seen on an attached cluster, in words; `kind` picks the timeline filter it falls under. */
export function narrateAttach(e: AttachEvent): Narration & { kind: 'role' | 'membership' | 'key' | 'warning' } {
  const label = (m: { id: string; name: string }) => m.name || m.id;
  switch (e.type) {
    case 'leaderChanged':
      return e.to
        ? {
            text: `${e.toName || e.to} leads the attached cluster (term ${e.term})${e.from ? `, after ${e.fromName || e.from}` : ''}`,
            weight: 'major',
            kind: 'role',
          }
        : { text: `the attached cluster has no leader (term ${e.term})`, weight: 'major', kind: 'role' };
    case 'termBumped':
      return { text: `the attached cluster's term went from ${e.from} to ${e.to}`, weight: 'minor', kind: 'role' };
    case 'memberAdded':
      return {
        text: `member ${label(e.member)} was added${e.member.started ? '' : ' (not started yet)'}`,
        weight: 'major',
        kind: 'membership',
      };
    case 'memberRemoved':
      return { text: `member ${label(e.member)} was removed`, weight: 'major', kind: 'membership' };
    case 'memberStarted':
      return { text: `member ${label(e.member)} started and joined`, weight: 'major', kind: 'membership' };
    case 'keyChanged':
      return e.action === 'put'
        ? { text: `${e.key} = ${e.value ?? ''} (revision ${e.revision})`, weight: 'minor', kind: 'key' }
        : { text: `${e.key} was deleted (revision ${e.revision})`, weight: 'minor', kind: 'key' };
    case 'endpointUnreachable':
      return { text: `${e.url} does not answer: ${e.error}`, weight: 'major', kind: 'warning' };
    case 'endpointReachable':
      return {
        text: `${e.url} answers${e.api ? ` (${e.api}${e.version ? `, etcd ${e.version}` : ''})` : ''}`,
        weight: 'minor',
        kind: 'membership',
      };
    case 'problem':
      return { text: e.message, weight: 'major', kind: 'warning' };
  }
}
