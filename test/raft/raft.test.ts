// One test per Raft rule, on a hand-driven network (see net.ts).
import { describe, expect, it } from 'vitest';
import { bootstrapState, ProposalDropped } from '../../src-main/raft/raft.js';
import { Net } from './net.js';

const three = ['n1', 'n2', 'n3'];
const five = ['n1', 'n2', 'n3', 'n4', 'n5'];

function elected(ids = three, leader = 'n1', cfg = {}): Net {
  const net = new Net(ids, cfg);
  net.campaign(leader);
  expect(net.leaders()).toEqual([leader]);
  return net;
}

describe('bootstrap', () => {
  it('a new cluster starts with its members as committed conf entries at term 1', () => {
    const boot = bootstrapState(three);
    expect(boot.hardState).toEqual({ term: 1, vote: '', commit: 3 });
    expect(boot.entries.map((e) => e.type)).toEqual(['conf', 'conf', 'conf']);
    const net = new Net(three);
    expect(net.r('n2').voters()).toEqual(three);
  });
});

describe('leader election', () => {
  it('a node whose timer fires wins through pre-vote then vote, at term 2', () => {
    const net = new Net(three);
    net.tick('n1', 20); // randomized timeout is within [10, 20)
    expect(net.leaders()).toEqual(['n1']);
    expect(net.r('n1').term).toBe(2);
    expect(net.r('n2').lead).toBe('n1');
    const kinds = net.n('n1').events.map((e) => (e.kind === 'role' ? e.role : e.kind));
    expect(kinds).toEqual(expect.arrayContaining(['election-timeout', 'precandidate', 'candidate', 'leader']));
    const granted = net.n('n2').events.find((e) => e.kind === 'vote' && !e.pre);
    expect(granted).toMatchObject({ kind: 'vote', candidate: 'n1', term: 2, granted: true });
  });

  it('the election timeout is randomized in [electionTick, 2*electionTick)', () => {
    const firstCampaign: number[] = [];
    for (let seed = 0; seed < 30; seed++) {
      const net = new Net(['a', 'b', 'c'], { random: () => ((seed * 7919) % 100) / 100 });
      let t = 0;
      while (net.r('a').role === 'follower') {
        net.r('a').tick();
        t++;
      }
      firstCampaign.push(t);
    }
    expect(Math.min(...firstCampaign)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...firstCampaign)).toBeLessThan(20);
    expect(new Set(firstCampaign).size).toBeGreaterThan(3);
  });

  it('a vote is refused to a candidate whose log is behind, saying why', () => {
    const net = elected();
    net.isolate('n3');
    net.propose('n1', 'x');
    net.heal();
    net.isolate('n1'); // n1 gone; n3 (behind) campaigns
    net.r('n2').tick(); // n2 is still in its leader lease, so make it forget the leader first
    for (let i = 0; i < 20; i++) net.r('n2').tick();
    net.campaign('n3');
    expect(net.r('n3').role).not.toBe('leader');
    const refusal = net.n('n2').events.find((e) => e.kind === 'vote' && e.candidate === 'n3' && !e.granted);
    expect(refusal).toMatchObject({ reason: 'log-behind' });
  });

  it('one vote per term: a node that voted refuses another candidate in that term', () => {
    const net = new Net(three, { preVote: false });
    net.isolate('n3');
    net.campaign('n1'); // n2 votes for n1 in term 2
    net.heal();
    net.partition(['n1'], ['n3']);
    const term = net.r('n1').term;
    // n3 campaigns for the same term n2 already voted in.
    net.r('n3').term = term - 1;
    net.campaign('n3');
    const refusal = net.n('n2').events.find((e) => e.kind === 'vote' && e.candidate === 'n3' && e.term === term);
    expect(refusal).toMatchObject({ granted: false, reason: 'already-voted' });
  });

  it('pre-vote: a partitioned node does not inflate its term and does not depose the leader on return', () => {
    const net = elected();
    const term = net.r('n1').term;
    net.isolate('n3');
    net.tick('n3', 100);
    expect(net.r('n3').term).toBe(term);
    expect(net.r('n3').role).toBe('precandidate');
    net.heal();
    net.tickAll(3);
    expect(net.leaders()).toEqual(['n1']);
    expect(net.r('n1').term).toBe(term);
  });

  it('without pre-vote, the same partition forces a new election (the problem pre-vote solves)', () => {
    const net = elected(three, 'n1', { preVote: false, checkQuorum: false });
    const term = net.r('n1').term;
    net.isolate('n3');
    net.tick('n3', 60);
    expect(net.r('n3').term).toBeGreaterThan(term + 1);
  });

  it('check-quorum: an isolated leader steps down after an election timeout', () => {
    const net = elected();
    net.isolate('n1');
    net.tick('n1', 10); // the first check still sees the followers heard from before the cut
    expect(net.r('n1').role).toBe('leader');
    net.tick('n1', 10);
    expect(net.r('n1').role).toBe('follower');
    expect(net.n('n1').events.some((e) => e.kind === 'check-quorum-lost')).toBe(true);
  });

  it('leader lease: followers that hear from a live leader ignore a disruptive candidate', () => {
    const net = elected(three, 'n1', { preVote: false });
    net.partition(['n3'], ['n1']); // n3 cannot hear n1, but n2 can
    net.tick('n3', 30); // n3 campaigns, n2 is within its lease
    expect(net.leaders()).toEqual(['n1']);
    const ignored = net.n('n2').events.find((e) => e.kind === 'vote' && e.candidate === 'n3');
    expect(ignored).toMatchObject({ granted: false, reason: 'leader-lease' });
  });

  it('a stale leader back from a partition learns the new term and steps down', () => {
    const net = elected();
    net.isolate('n1');
    net.tickOnly(['n2', 'n3'], 25);
    expect(net.leaders()).toContain(net.r('n3').lead);
    const newLeader = net.r('n3').lead;
    net.heal();
    net.tick('n1'); // its heartbeat is answered with the higher term
    expect(net.leaders()).toEqual([newLeader]);
  });
});

describe('log replication', () => {
  it('a proposal on the leader is replicated, committed and applied everywhere', () => {
    const net = elected();
    net.propose('n1', 'a');
    net.propose('n1', 'b');
    net.tickAll(1); // heartbeats carry the final commit index
    for (const id of three) expect(net.data(id)).toEqual(['a', 'b']);
    const commits = net.n('n2').events.filter((e) => e.kind === 'commit');
    expect(commits.length).toBeGreaterThan(0);
  });

  it('a proposal on a follower is forwarded to the leader', () => {
    const net = elected();
    net.propose('n3', 'via-follower');
    net.tickAll(1);
    for (const id of three) expect(net.data(id)).toEqual(['via-follower']);
  });

  it('a proposal with no leader is refused with a reason', () => {
    const net = new Net(three);
    expect(() => net.r('n1').propose('x')).toThrow(ProposalDropped);
  });

  it('an entry is not committed without a majority', () => {
    const net = elected();
    net.isolate('n2');
    net.isolate('n3');
    net.propose('n1', 'lonely');
    expect(net.r('n1').log.committed).toBeLessThan(net.r('n1').log.lastIndex());
    expect(net.data('n1')).toEqual([]);
  });

  it('a follower with a long divergent suffix is repaired with few round trips (fast back-off)', () => {
    const net = elected(five);
    // n1 appends 50 entries nobody else gets, then is deposed.
    net.isolate('n1');
    for (let i = 0; i < 50; i++) {
      try {
        net.r('n1').propose(`stale${i}`);
      } catch {
        /* n1 may have stepped down */
      }
    }
    net.drain(net.n('n1'));
    net.flush();
    net.tickOnly(['n2', 'n3', 'n4', 'n5'], 25);
    const first = net.r('n2').lead;
    expect(['n2', 'n3', 'n4', 'n5']).toContain(first);
    // The majority's log grows past n1's meanwhile, in a later term: the two logs differ over
    // ~50 indexes. Leadership then moves on, so the leader that meets n1 first probes it at the
    // end of that long log (a leader elected right after n1 left would probe just past the
    // common prefix, and find no conflict to repair): probing back one index per rejection
    // would take ~50 round trips.
    const fresh = Array.from({ length: 50 }, (_, i) => `fresh${i}`);
    for (const v of fresh) net.propose(first, v);
    const lead = ['n2', 'n3', 'n4', 'n5'].find((id) => id !== first)!;
    net.r(first).transferLeader(lead);
    net.flush();
    expect(net.leaders()).toEqual(expect.arrayContaining([lead]));
    expect(net.r(lead).log.lastIndex()).toBeGreaterThan(net.r('n1').log.lastIndex());
    net.heal();
    const before = net.sent.length;
    net.tickAll(3);
    const rejections = net.sent.slice(before).filter((m) => m.type === 'MsgAppResp' && m.reject && m.from === 'n1');
    expect(rejections.length).toBeGreaterThan(0); // there was a conflict to repair
    expect(rejections.length).toBeLessThanOrEqual(3);
    expect(net.r('n1').log.lastIndex()).toBe(net.r(lead).log.lastIndex());
    expect(net.data('n1')).toEqual(fresh);
    expect(net.n('n1').events.some((e) => e.kind === 'truncate')).toBe(true);
  });

  it('only entries of the current term are committed by counting replicas (Raft §5.4.2, Figure 8)', () => {
    // n1 holds an uncommitted entry from term 2 that n2 and n3 lack.
    const net = new Net([], { maxEntriesPerMsg: 1 });
    const base = bootstrapState(three);
    const old = { index: 4, term: 2, type: 'normal' as const, data: 'old' };
    net.add('n1', { ...base, hardState: { term: 3, vote: '', commit: 3 }, entries: [...base.entries, old] });
    net.add('n2', { ...base, hardState: { term: 3, vote: '', commit: 3 } });
    net.add('n3', { ...base, hardState: { term: 3, vote: '', commit: 3 } });
    // n1 wins term 4; its no-op (index 5, term 4) is held back from the others.
    // (The first probe, which the followers reject for lacking entry 4, still goes through.)
    net.drop((m) => m.type === 'MsgApp' && !!m.entries?.some((e) => e.index === 5) && net.r(m.to).log.term(4) === 2);
    net.campaign('n1');
    expect(net.r('n1').role).toBe('leader');
    net.tickAll(2);
    // The term-2 entry now sits on a majority, yet must not count as committed.
    expect(net.r('n2').log.term(4)).toBe(2);
    expect(net.r('n1').log.committed).toBe(3);
    net.heal();
    net.tickAll(2);
    expect(net.r('n1').log.committed).toBe(5);
    expect(net.data('n2')).toEqual(['old']);
  }, 10_000);

  it('a restarted node resumes from its durable state: term, vote and log', () => {
    const net = elected();
    net.propose('n1', 'a');
    net.tickAll(1);
    const { term, vote } = net.r('n2').hardState();
    const last = net.r('n2').log.lastIndex();
    const n2 = net.restart('n2');
    expect(n2.raft.hardState()).toMatchObject({ term, vote });
    expect(n2.raft.log.lastIndex()).toBe(last);
    expect(net.data('n2')).toEqual(['a']); // committed entries are re-applied from the log
  });
});

describe('membership changes', () => {
  it('adds a member through the log; the new node catches up and can vote', () => {
    const net = elected();
    net.propose('n1', 'before');
    net.r('n1').proposeConfChange({ type: 'add', id: 'n4' });
    net.add('n4');
    net.flush();
    net.tickAll(2);
    expect(net.r('n1').voters()).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(net.r('n4').voters()).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(net.data('n4')).toEqual(['before']);
    // With 4 voters, a majority is 3: n1 and n2 alone (a majority of the old three) cannot
    // commit; with the new member back they can.
    net.isolate('n3');
    net.isolate('n4');
    net.propose('n1', 'needs-three');
    net.tickAll(2);
    expect(net.data('n1')).not.toContain('needs-three');
    net.heal();
    net.tickAll(2);
    expect(net.data('n1')).toContain('needs-three');
    expect(net.data('n4')).toContain('needs-three');
  });

  it('refuses a second change while one is uncommitted', () => {
    const net = elected();
    net.isolate('n2');
    net.isolate('n3');
    net.r('n1').proposeConfChange({ type: 'add', id: 'n4' });
    expect(() => net.r('n1').proposeConfChange({ type: 'add', id: 'n5' })).toThrow(/in progress/);
  });

  it('refuses adding an existing member or removing a stranger', () => {
    const net = elected();
    expect(() => net.r('n1').proposeConfChange({ type: 'add', id: 'n2' })).toThrow(/already a member/);
    expect(() => net.r('n1').proposeConfChange({ type: 'remove', id: 'n9' })).toThrow(/not a member/);
  });

  it('removing the leader: it commits its removal, steps down and hands over at once', () => {
    const net = elected();
    net.r('n1').proposeConfChange({ type: 'remove', id: 'n1' });
    net.flush();
    net.tickAll(1);
    expect(net.r('n1').role).toBe('follower');
    expect(net.n('n1').events.some((e) => e.kind === 'removed')).toBe(true);
    const leaders = net.leaders();
    expect(leaders).toHaveLength(1);
    const [leader = ''] = leaders;
    expect(['n2', 'n3']).toContain(leader);
    expect(net.r(leader).voters()).toEqual(['n2', 'n3']);
    // The removed node never campaigns again.
    net.tick('n1', 50);
    expect(net.r('n1').role).toBe('follower');
    net.propose(leader, 'after');
    net.tickAll(1);
    expect(net.data('n2')).toContain('after');
  });

  it('a change proposed by a leader cut off in a minority is rolled back when a new leader takes over', () => {
    const net = elected(five);
    net.partition(['n1', 'n2'], ['n3', 'n4', 'n5']);
    net.r('n1').proposeConfChange({ type: 'remove', id: 'n5' });
    net.flush();
    expect(net.r('n2').voters()).not.toContain('n5'); // effective as soon as appended
    net.tickOnly(['n3', 'n4', 'n5'], 25);
    const lead = net.r('n3').lead;
    expect(['n3', 'n4', 'n5']).toContain(lead);
    net.propose(lead, 'majority-side');
    net.heal();
    net.tickAll(12);
    expect(net.leaders()).toEqual([lead]);
    for (const id of ['n1', 'n2']) {
      expect(net.r(id).voters()).toEqual(five); // the uncommitted removal was truncated
      expect(net.data(id)).toEqual(['majority-side']);
    }
  });
});

describe('snapshots', () => {
  it('a lagging follower gets the leader snapshot (InstallSnapshot) and catches up', () => {
    const net = elected();
    net.isolate('n3');
    for (let i = 0; i < 20; i++) net.propose('n1', `v${i}`);
    const leader = net.r('n1');
    const applied = leader.log.applied;
    const snap = leader.createSnapshot(applied, JSON.stringify({ upTo: applied }));
    net.n('n1').storage.saveSnapshot(snap, applied);
    expect(leader.log.firstIndex()).toBe(applied + 1);
    net.heal();
    net.tickAll(3);
    const n3 = net.n('n3');
    expect(n3.events.some((e) => e.kind === 'snapshot-installed')).toBe(true);
    expect(n3.storage.snapshot?.meta.index).toBe(applied);
    expect(n3.raft.log.committed).toBe(leader.log.committed);
    // And it is up to date afterwards: new entries arrive through the log.
    net.propose('n1', 'after');
    net.tickAll(1);
    expect(net.data('n3')).toEqual(['after']);
  });

  it('a snapshot records the membership as of its index', () => {
    const net = elected();
    net.propose('n1', 'before-add');
    const beforeAdd = net.r('n1').log.lastIndex();
    net.r('n1').proposeConfChange({ type: 'add', id: 'n4' });
    net.add('n4');
    net.flush();
    net.tickAll(2);
    const r = net.r('n1');
    expect(r.log.applied).toBeGreaterThan(beforeAdd);
    // At an index before the change was appended: the three voters of then, not today's four.
    expect(r.createSnapshot(beforeAdd, '{}').meta.conf.voters).toEqual(['n1', 'n2', 'n3']);
    expect(r.createSnapshot(r.log.applied, '{}').meta.conf.voters).toEqual(['n1', 'n2', 'n3', 'n4']);
  });
});

describe('leader transfer', () => {
  it('hands leadership to a caught-up follower with MsgTimeoutNow, despite leases', () => {
    const net = elected();
    const term = net.r('n1').term;
    net.r('n1').transferLeader('n3');
    net.flush();
    expect(net.leaders()).toEqual(['n3']);
    expect(net.r('n3').term).toBe(term + 1);
    expect(net.sent.some((m) => m.type === 'MsgTimeoutNow' && m.to === 'n3')).toBe(true);
  });

  it('refuses proposals while transferring, and aborts if the target never catches up', () => {
    const net = elected();
    net.isolate('n3');
    net.propose('n1', 'x');
    net.r('n1').transferLeader('n3');
    expect(() => net.r('n1').propose('y')).toThrow(/transferred/);
    net.heal();
    net.drop((m) => m.to === 'n3' && m.type === 'MsgApp');
    net.tick('n1', 10);
    expect(net.r('n1').transferee).toBe('');
    expect(net.n('n1').events.some((e) => e.kind === 'transfer-abort')).toBe(true);
  });
});

describe('read index', () => {
  it('the leader confirms a read point with a heartbeat round to a quorum', () => {
    const net = elected(five);
    net.propose('n1', 'a');
    const committed = net.r('n1').log.committed;
    // Only n2 answers the heartbeats: with the leader itself that is 2 of 5, not a quorum.
    net.drop((m) => m.type === 'MsgHeartbeatResp' && m.from !== 'n2');
    net.r('n1').readIndex('ctx1');
    net.drain(net.n('n1'));
    net.flush();
    expect(net.n('n1').reads).toEqual([]);
    // The next round is answered by all: 3 of 5 suffice, and the read is released at the
    // commit index it was asked at.
    net.heal();
    net.tick('n1');
    expect(net.n('n1').reads).toEqual([{ index: committed, context: 'ctx1' }]);
  });

  it('a follower gets its read point from the leader', () => {
    const net = elected();
    net.propose('n1', 'a');
    net.r('n2').readIndex('ctx2');
    net.drain(net.n('n2'));
    net.flush();
    expect(net.n('n2').reads).toEqual([{ index: net.r('n1').log.committed, context: 'ctx2' }]);
  });

  it('a leader cut off from its quorum cannot confirm a read, and confirms it once healed', () => {
    const net = elected();
    const committed = net.r('n1').log.committed;
    net.isolate('n1');
    net.r('n1').readIndex('ctx3');
    net.drain(net.n('n1'));
    net.flush();
    net.tick('n1', 3); // three heartbeat rounds, all lost (check-quorum acts only after 10 ticks)
    expect(net.n('n1').reads).toEqual([]);
    expect(net.r('n1').role).toBe('leader');
    // Without the read above being pending, this heartbeat round would release nothing: so
    // this also fails if readIndex drops the request instead of waiting for a quorum.
    net.heal();
    net.tick('n1');
    expect(net.n('n1').reads).toEqual([{ index: committed, context: 'ctx3' }]);
  });
});

describe('message bounds (no message can wedge elections)', () => {
  it('ignores a term past the bound, takes one at it, and keeps electing past it', () => {
    const net = elected();
    const n2 = net.r('n2');
    n2.step({ type: 'MsgHeartbeat', from: 'n1', to: 'n2', term: 2 ** 53 - 1, commit: 0 });
    expect(n2.term).toBe(2);
    n2.step({ type: 'MsgHeartbeat', from: 'n1', to: 'n2', term: 2 ** 52, commit: 0 });
    expect(n2.term).toBe(2 ** 52);
    // Past the floor a message may lead by 2^16 at most.
    n2.step({ type: 'MsgHeartbeat', from: 'n1', to: 'n2', term: 2 ** 52 + 2 ** 16 + 1, commit: 0 });
    expect(n2.term).toBe(2 ** 52);
    // n1's next heartbeat learns the new term from n2's answer and steps down; then n3 wins.
    net.tick('n1', 1);
    expect(net.leaders()).toEqual([]);
    // n3, still at term 2, learns the term from the refusals of its first pre-vote.
    net.campaign('n3');
    net.campaign('n3');
    expect(net.leaders()).toEqual(['n3']);
    expect(net.r('n3').term).toBeGreaterThan(2 ** 52);
    expect(Number.isSafeInteger(net.r('n3').term + 1)).toBe(true);
  });
});

describe('append size (etcd MaxSizePerMsg)', () => {
  it('an append carries at most maxBytesPerMsg of entry data, but always one entry', () => {
    const net = elected(three, 'n1', { maxBytesPerMsg: 250 });
    net.isolate('n2');
    for (let i = 0; i < 6; i++) net.propose('n1', 'x'.repeat(100));
    net.propose('n1', 'y'.repeat(1000));
    net.heal();
    const before = net.sent.length;
    net.tickAll(5);
    const apps = net.sent
      .slice(before)
      .filter((m) => m.type === 'MsgApp' && m.to === 'n2' && (m.entries?.length ?? 0) > 0);
    expect(apps.length).toBeGreaterThan(1);
    for (const m of apps) {
      const size = m.entries!.reduce((n, e) => n + e.data.length, 0);
      expect(m.entries!.length === 1 || size <= 250).toBe(true);
    }
    expect(net.data('n2')).toEqual(net.data('n1'));
    expect(net.data('n2').at(-1)).toBe('y'.repeat(1000));
  });
});
