// The vendored etcd .proto files load with @grpc/proto-loader, once, with every v3 service and
// the JSON gateway paths etcd declares (google.api.http), which the /v3 gateway will follow.
import { describe, expect, it } from 'vitest';
import { etcdProto, service } from '../../src-main/v3/proto/load.js';

describe('etcd v3 protos', () => {
  it('load once, with the six services and their gateway paths', () => {
    const a = etcdProto();
    expect(etcdProto()).toBe(a);
    const kv = service('KV');
    expect(Object.keys(kv)).toEqual(['Range', 'Put', 'DeleteRange', 'Txn', 'Compact']);
    for (const name of ['Watch', 'Lease', 'Cluster', 'Maintenance', 'Auth'] as const)
      expect(Object.keys(service(name)).length).toBeGreaterThan(0);
    expect(Object.keys(service('Cluster'))).toContain('MemberPromote');
    const http = (m: { options?: Record<string, unknown> } | undefined) => m?.options?.['(google.api.http)'];
    const def = a.definition['etcdserverpb.KV'] as Record<string, { options?: Record<string, unknown> }>;
    expect(http(def.Range)).toEqual({ post: '/v3/kv/range', body: '*' });
    const lease = a.definition['etcdserverpb.Lease'] as Record<string, { options?: Record<string, unknown> }>;
    expect(http(lease.LeaseRevoke)).toMatchObject({ post: '/v3/lease/revoke' });
  });

  it('keep an absent field absent and 64-bit integers exact', () => {
    const t = (
      etcdProto().definition['etcdserverpb.KV'] as Record<
        string,
        | { requestDeserialize: (b: Buffer) => Record<string, unknown>; requestSerialize: (v: unknown) => Buffer }
        | undefined
      >
    ).Range;
    if (!t) throw new Error('expected etcdserverpb.KV to define Range');
    const plain = t.requestDeserialize(t.requestSerialize({ key: Buffer.from('a'), revision: '9007199254740993' }));
    expect(plain.range_end).toBeUndefined();
    expect(plain.revision).toBe('9007199254740993');
    const empty = t.requestDeserialize(t.requestSerialize({ key: Buffer.from('a'), range_end: Buffer.alloc(0) }));
    expect(empty.range_end).toEqual(Buffer.alloc(0));
  });
});
