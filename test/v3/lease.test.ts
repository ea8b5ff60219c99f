// The lessor: etcd's minimum TTL and errors, leader-only expiry on an injected clock, keep-alive,
// time-to-live with keys, promote/demote, and revokes that delete the attached keys in one txn.
import { describe, expect, it } from 'vitest';
import {
  IdGenerator,
  Lessor,
  NotPrimaryError,
  EXPIRED_RETRY_MS,
  leaseIdFrom,
  minLeaseTTL,
} from '../../src-main/v3/lease/lessor.js';
import { V3StateMachine } from '../../src-main/v3/state-machine.js';

const b = (s: string) => Buffer.from(s);

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe('lessor', () => {
  it("etcd's minimum TTL: (3*electionTicks)/2 heartbeats, in whole seconds rounded up", () => {
    expect(minLeaseTTL(1000, 100)).toBe(2); // etcd's defaults: 1.5 s -> 2
    expect(minLeaseTTL(500, 50)).toBe(1); // 0.75 s -> 1
    expect(minLeaseTTL(5000, 500)).toBe(8); // 7.5 s -> 8
  });

  it('grants with the minimum TTL and etcd errors', () => {
    const l = new Lessor({ minLeaseTTL: 2 });
    expect(l.grant(5n, 0)).toEqual({ ID: 5n, TTL: 2 });
    expect(l.grant(6n, 60)).toEqual({ ID: 6n, TTL: 60 });
    expect(() => l.grant(5n, 10)).toThrow('etcdserver: lease already exists');
    expect(() => l.grant(7n, 9_000_000_001)).toThrow('etcdserver: too large lease TTL');
    expect(() => l.grant(0n, 10)).toThrow('etcdserver: requested lease not found');
    expect(() => l.revoke(99n)).toThrow('etcdserver: requested lease not found');
    expect(leaseIdFrom(0xffffffffffffffffn)).toBe(0x7fffffffffffffffn);
  });

  it("ids as etcd's generator makes them: member id's low 2 bytes, start time, a counter", () => {
    const g = new IdGenerator(0x8e9e05c52164694dn, 0x0123456789ab);
    const [a, b] = [g.nextLeaseId(), g.nextLeaseId()];
    expect(a.toString(16)).toBe('694d23456789ab01');
    expect(b - a).toBe(1n);
    // A member id whose low bytes set the top bit still gives positive ids.
    expect(new IdGenerator(0xffffn, 0).nextLeaseId()).toBe(0x7fff000000000001n);
  });

  it('only the primary counts down; expired leases are handed out, again after the retry interval', () => {
    const c = clock();
    const l = new Lessor({ minLeaseTTL: 1, now: c.now });
    l.grant(1n, 10);
    l.grant(2n, 20);
    expect(() => l.renew(1n)).toThrow(NotPrimaryError);
    c.t += 60_000;
    expect(l.expired()).toEqual([]); // a follower never expires anything
    l.promote(500);
    expect(l.timeToLive(1n, false).TTL).toBe(10); // 10.5 s left, truncated
    c.t += 10_400;
    expect(l.expired()).toEqual([]);
    c.t += 200;
    expect(l.expired()).toEqual([1n]);
    expect(l.expired()).toEqual([]); // its revoke is on the way
    c.t += EXPIRED_RETRY_MS;
    expect(l.expired()).toEqual([1n]); // not revoked yet: hand it out again
    expect(() => l.renew(1n)).toThrow('etcdserver: requested lease not found');
    expect(l.list()).toEqual([1n, 2n]);
    // A keep-alive gives the full TTL again from now.
    c.t += 5000;
    expect(l.renew(2n)).toBe(20);
    expect(l.timeToLive(2n, false)).toMatchObject({ TTL: 20, grantedTTL: 20 });
    l.demote();
    c.t += 100_000;
    expect(l.expired()).toEqual([]);
    expect(l.nextExpiry()).toBeUndefined();
  });

  it('a new leader gives every lease its TTL again plus an election timeout (leases survive leader changes)', () => {
    const c = clock();
    const l = new Lessor({ minLeaseTTL: 1, now: c.now });
    l.promote(0);
    l.grant(1n, 5);
    c.t += 4000;
    l.demote();
    c.t += 30_000; // the old leader is gone for a while
    l.promote(1000);
    expect(l.nextExpiry()).toBe(c.t + 6000);
    expect(l.expired()).toEqual([]);
  });
});

describe('leases in the state machine', () => {
  it('revoke deletes the attached keys in one revision, in key order; time-to-live lists them', () => {
    const m = new V3StateMachine({ minLeaseTTL: 1 });
    const events: string[] = [];
    m.onEvents = (rev, evs) => events.push(...evs.map((e) => `${rev}:${e.type}:${e.kv.key}`));
    expect(m.apply({ lease_grant: { ID: 42n, TTL: 30 } })).toMatchObject({
      ok: true,
      response: { ID: 42n, TTL: 30, header: { revision: 1 } },
    });
    for (const k of ['z', 'a', 'm']) m.apply({ put: { key: b(k), value: b('v'), lease: 42n } });
    m.apply({ put: { key: b('m'), value: b('w') } }); // re-put without the lease: detached
    m.apply({ put: { key: b('free'), value: b('v') } });
    expect(m.lessor.timeToLive(42n, true).keys.map(String)).toEqual(['a', 'z']);
    expect(m.apply({ put: { key: b('x'), lease: 43n } })).toMatchObject({
      ok: false,
      error: { message: 'etcdserver: requested lease not found' },
    });
    events.length = 0;
    const r = m.apply({ lease_revoke: { ID: 42n } });
    expect(r).toMatchObject({ ok: true, response: { header: { revision: 7 } } });
    expect(events).toEqual(['7:DELETE:a', '7:DELETE:z']);
    expect(m.range({ key: b('\0'), range_end: b('\0') }).kvs.map((kv) => String(kv.key))).toEqual(['free', 'm']);
    expect(m.lessor.has(42n)).toBe(false);
  });

  it('a restored member has the leases and their keys back', () => {
    const m = new V3StateMachine({ minLeaseTTL: 1 });
    m.apply({ lease_grant: { ID: 9n, TTL: 30 } });
    m.apply({ put: { key: b('k'), value: b('v'), lease: 9n } });
    const r = new V3StateMachine({ minLeaseTTL: 1 });
    r.restore(m.snapshot());
    expect(r.lessor.timeToLive(9n, true)).toMatchObject({ grantedTTL: 30, keys: [b('k')] });
    expect(r.snapshot().equals(m.snapshot())).toBe(true);
  });
});
