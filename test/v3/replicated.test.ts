// The contract the Raft node will keep, played in-process: members apply the same encoded
// command log; only the leader's lessor counts down; the leader proposes the revoke of an
// expired lease through the log; a new leader gives leases their TTL again (plus an election
// timeout), so a lease survives a leader change; every member ends with the same state.
import { describe, expect, it } from 'vitest';
import { decodeCommand, encodeCommand, type V3Command } from '../../src-main/v3/command.js';
import { IdGenerator } from '../../src-main/v3/lease/lessor.js';
import { V3StateMachine } from '../../src-main/v3/state-machine.js';
import type { WatchResponse } from '../../src-main/v3/watch/watch-hub.js';

const ELECTION_MS = 500;

describe('v3 state replicated through one log', () => {
  it('a lease outlives a leader change and expires by the new leader, on every member alike', () => {
    const clock = { t: 1_000_000 };
    const member = () => new V3StateMachine({ minLeaseTTL: 1, now: () => clock.t });
    const members = [member(), member(), member()] as const;
    const log: Buffer[] = [];
    /** Commit: appended to the log, applied by every member in order; the proposer's result. */
    const commit = (cmd: V3Command) => {
      const entry = encodeCommand(cmd);
      log.push(entry);
      const [first, ...others] = members;
      const result = first.apply(decodeCommand(entry));
      for (const m of others) m.apply(decodeCommand(entry));
      return result;
    };
    const seen: WatchResponse[] = [];
    members[2].watches.openStream((r) => seen.push(r)).create({ key: Buffer.from('k') });

    let leader = members[0];
    leader.lessor.promote(ELECTION_MS);
    const ID = new IdGenerator(0x1234n, clock.t).nextLeaseId();
    expect(commit({ lease_grant: { ID, TTL: 5 } })).toMatchObject({ ok: true, response: { ID, TTL: 5 } });
    commit({ put: { key: Buffer.from('k'), value: Buffer.from('v'), lease: ID } });

    clock.t += 3000;
    // The leader goes; another takes over 1 s later (followers never counted down).
    leader.lessor.demote();
    clock.t += 1000;
    expect(members[1].lessor.expired()).toEqual([]);
    leader = members[1];
    leader.lessor.promote(ELECTION_MS);
    expect(leader.lessor.timeToLive(ID, true)).toMatchObject({ TTL: 5, grantedTTL: 5, keys: [Buffer.from('k')] });

    clock.t += 5000;
    expect(leader.lessor.expired()).toEqual([]); // 5.5 s from the promotion
    clock.t += 600;
    const expired = leader.lessor.expired();
    expect(expired).toEqual([ID]);
    for (const id of expired) commit({ lease_revoke: { ID: id } });

    for (const m of members) {
      expect(m.range({ key: Buffer.from('k') }).kvs).toEqual([]);
      expect(m.lessor.has(ID)).toBe(false);
      expect(m.snapshot().equals(members[0].snapshot())).toBe(true);
    }
    expect(seen.map((r) => r.events.map((e) => `${e.type}@${e.kv.mod_revision}`).join(' ')).filter(Boolean)).toEqual([
      'PUT@2',
      'DELETE@3',
    ]);
    // A member that joins later from a snapshot is the same member.
    const late = new V3StateMachine({ minLeaseTTL: 1, now: () => clock.t });
    late.restore(members[1].snapshot());
    expect(late.store.hashKV(0)).toEqual(members[0].store.hashKV(0));
  });
});
