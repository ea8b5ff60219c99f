import { describe, expect, it } from 'vitest';
import { clusterId, formatId, idToDecimal, memberId, parseId } from '../../src-main/node/ids.js';

// The reference capture (/work/shared/reference/etcd-3.4-v2-samples/12-members.txt).
const CAPTURE = {
  n1: { peer: 'http://127.0.0.1:32380', id: 'b75827e6d4dfe87e' },
  n2: { peer: 'http://127.0.0.1:32480', id: '4231518c29bf020f' },
  n3: { peer: 'http://127.0.0.1:32580', id: '922630e199b53a96' },
};
const CAPTURE_CLUSTER_ID = 'b642fa49c52c2640';

describe('clusterId (etcd genID)', () => {
  it('matches the X-Etcd-Cluster-Id of the reference capture', () => {
    expect(clusterId([CAPTURE.n1.id, CAPTURE.n2.id, CAPTURE.n3.id])).toBe(CAPTURE_CLUSTER_ID);
  });

  it('does not depend on the order of the member ids', () => {
    expect(clusterId([CAPTURE.n3.id, CAPTURE.n1.id, CAPTURE.n2.id])).toBe(CAPTURE_CLUSTER_ID);
    expect(clusterId([CAPTURE.n2.id, CAPTURE.n3.id, CAPTURE.n1.id])).toBe(CAPTURE_CLUSTER_ID);
  });

  it('matches a real etcd 3.4 single-member default cluster', () => {
    // etcd 3.4.14 started with no flags: "starting member 8e9e05c52164694d in cluster cdf818194e3a8c32"
    expect(clusterId(['8e9e05c52164694d'])).toBe('cdf818194e3a8c32');
  });
});

describe('memberId (etcd NewMember)', () => {
  it('matches a real etcd 3.4 default member (http://localhost:2380, token etcd-cluster)', () => {
    expect(memberId(['http://localhost:2380'], 'etcd-cluster')).toBe('8e9e05c52164694d');
  });

  it('matches the member added through POST /v2/members in the capture (empty token + request time)', () => {
    // 13f-members-add-ok.txt: Date: Tue, 24 Nov 2026 15:03:54 GMT -> id 62221ff56bcfa7ef
    expect(memberId(['http://127.0.0.1:32780'], '', new Date('2026-11-24T15:03:54Z'))).toBe('62221ff56bcfa7ef');
    // Only whole seconds count.
    expect(memberId(['http://127.0.0.1:32780'], '', new Date('2026-11-24T15:03:54.999Z'))).toBe('62221ff56bcfa7ef');
    expect(memberId(['http://127.0.0.1:32780'], '', new Date('2026-11-24T15:03:55Z'))).not.toBe('62221ff56bcfa7ef');
  });

  it('the capture was bootstrapped with a non-default token (its ids are not the etcd-cluster ones)', () => {
    expect(memberId([CAPTURE.n1.peer], 'etcd-cluster')).not.toBe(CAPTURE.n1.id);
    expect(memberId([CAPTURE.n2.peer], 'etcd-cluster')).not.toBe(CAPTURE.n2.id);
  });

  it('prints like types.ID.String(): no zero padding', () => {
    const id = memberId([CAPTURE.n1.peer], 'etcd-cluster');
    expect(id).toBe('628170c800dbcee');
    expect(id).toHaveLength(15);
  });

  it('sorts the peer URLs before hashing', () => {
    const a = memberId(['http://127.0.0.1:2380', 'http://10.0.0.1:2380'], 'etcd-cluster');
    const b = memberId(['http://10.0.0.1:2380', 'http://127.0.0.1:2380'], 'etcd-cluster');
    expect(a).toBe(b);
    expect(a).not.toBe(memberId(['http://127.0.0.1:2380'], 'etcd-cluster'));
  });

  it('depends on the token', () => {
    expect(memberId(['http://localhost:2380'], 'other')).not.toBe('8e9e05c52164694d');
  });
});

describe('id helpers', () => {
  it('parses and formats ids', () => {
    expect(parseId('b75827e6d4dfe87e')).toBe(0xb75827e6d4dfe87en);
    expect(parseId('0628170c800dbcee')).toBe(0x628170c800dbceen);
    expect(formatId(0x628170c800dbceen)).toBe('628170c800dbcee');
    expect(formatId(0n)).toBe('0');
    expect(() => parseId('xyz')).toThrow();
    expect(() => parseId('1234567890abcdef0')).toThrow();
    expect(() => formatId(1n << 64n)).toThrow();
  });

  it('converts to the decimal form raft prints', () => {
    // "switched to configuration voters=(10276657743932975437)"
    expect(idToDecimal('8e9e05c52164694d')).toBe('10276657743932975437');
  });
});
