// etcd's corner cases as one sequence of requests, run on a fresh store and a fresh etcd and
// compared answer by answer (etcd-compare.test.ts through the store, gateway.test.ts over HTTP).
import { prefixRangeEnd } from '../../src-main/v3/mvcc/range-end.js';
import type { Op } from './v3-harness.js';

const b = (s: string) => Buffer.from(s, 'latin1');

export const SCRIPTED_OPS: Op[] = [
  { range: { key: b('a') } },
  { range: { key: b('') } },
  { put: { key: b('a'), value: b('1'), prev_kv: true } },
  { put: { key: b('a'), value: b('2'), prev_kv: true } },
  { put: { key: b('a/x'), value: b('3') } },
  { put: { key: b('a/y'), value: b('4') } },
  { put: { key: b('b'), value: b('5') } },
  { range: { key: b('a'), range_end: prefixRangeEnd(b('a')) } },
  { range: { key: b('a'), range_end: prefixRangeEnd(b('a')), limit: 2 } },
  { range: { key: b('a'), range_end: prefixRangeEnd(b('a')), limit: 3 } },
  { range: { key: b('a'), range_end: b('\0'), count_only: true, limit: 1 } },
  { range: { key: b('a'), range_end: b('\0'), keys_only: true } },
  { range: { key: b('a'), range_end: b('\0'), sort_order: 'DESCEND', sort_target: 'MOD', limit: 2 } },
  { range: { key: b('a'), range_end: b('\0'), sort_target: 'VALUE' } },
  { range: { key: b('a'), range_end: b('\0'), min_mod_revision: 4, limit: 1 } },
  { range: { key: b('a'), range_end: b('\0'), max_create_revision: 3 } },
  { range: { key: b('a'), revision: 2 } },
  { range: { key: b('a'), revision: 99 } },
  { range: { key: b('b'), range_end: b('a') } },
  { put: { key: b('zz'), ignore_value: true } },
  { put: { key: b('a'), value: b('v'), ignore_value: true } },
  { put: { key: b('a'), ignore_value: true, prev_kv: true } },
  { put: { key: b('a'), lease: 7n } },
  { put: { key: b('a'), lease: 7n, ignore_lease: true } },
  { lease_grant: { ID: 7n, TTL: 900 } },
  { lease_grant: { ID: 7n, TTL: 900 } },
  { lease_grant: { ID: 8n, TTL: 9_000_000_001 } },
  { put: { key: b('l1'), value: b('x'), lease: 7n } },
  { put: { key: b('l2'), value: b('x'), lease: 7n } },
  { put: { key: b('l2'), value: b('y'), ignore_lease: true, prev_kv: true } },
  { put: { key: b('l2'), value: b('z') } },
  { lease_revoke: { ID: 7n } },
  { lease_revoke: { ID: 7n } },
  { range: { key: b('l'), range_end: prefixRangeEnd(b('l')) } },
  { delete_range: { key: b('nothing') } },
  { delete_range: { key: b('a/'), range_end: prefixRangeEnd(b('a/')), prev_kv: true } },
  // Txns: compares on every target, a missing key, nested txns, the duplicate-key rule.
  {
    txn: {
      compare: [{ key: b('a'), target: 'VALUE', result: 'EQUAL', value: b('2') }],
      success: [{ request_put: { key: b('c'), value: b('1') } }, { request_range: { key: b('c') } }],
      failure: [{ request_range: { key: b('a') } }],
    },
  },
  {
    txn: {
      compare: [{ key: b('missing'), target: 'VALUE', result: 'NOT_EQUAL', value: b('2') }],
      success: [{ request_put: { key: b('c'), value: b('2') } }],
      failure: [{ request_delete_range: { key: b('nope') } }],
    },
  },
  {
    txn: {
      compare: [
        { key: b('missing'), target: 'VERSION', result: 'EQUAL', version: 0 },
        { key: b('a'), target: 'CREATE', result: 'LESS', create_revision: 3 },
      ],
      success: [
        {
          request_txn: {
            compare: [{ key: b('c'), target: 'MOD', result: 'GREATER', mod_revision: 1 }],
            success: [{ request_put: { key: b('d'), value: b('n') } }],
          },
        },
        { request_range: { key: b('d') } },
      ],
    },
  },
  {
    txn: {
      compare: [{ key: b('a'), range_end: b('\0'), target: 'LEASE', result: 'EQUAL', lease: 0n }],
      success: [{ request_delete_range: { key: b('c') } }, { request_delete_range: { key: b('c') } }],
    },
  },
  {
    txn: {
      success: [{ request_put: { key: b('e'), value: b('1') } }, { request_put: { key: b('e'), value: b('2') } }],
    },
  },
  {
    txn: {
      success: [
        { request_put: { key: b('e'), value: b('1') } },
        { request_delete_range: { key: b('a'), range_end: b('f') } },
      ],
    },
  },
  {
    txn: {
      success: [
        { request_put: { key: b('e'), value: b('1') } },
        { request_delete_range: { key: b('a'), range_end: b('\0') } },
      ],
    },
  },
  {
    txn: {
      success: [
        {
          request_txn: {
            success: [{ request_put: { key: b('f'), value: b('1') } }],
            failure: [{ request_put: { key: b('f'), value: b('2') } }],
          },
        },
      ],
    },
  },
  {
    txn: {
      success: [
        { request_put: { key: b('f'), value: b('1') } },
        { request_txn: { success: [{ request_put: { key: b('f'), value: b('2') } }] } },
      ],
    },
  },
  { txn: { success: [{}] } },
  { txn: { success: [{ request_range: { key: b('f'), revision: 99 } }] } },
  { txn: { success: [{ request_put: { key: b('f'), value: b('3'), ignore_value: true } }] } },
  { txn: { success: [{ request_put: { key: b('f'), value: b('3'), lease: 12345n } }] } },
  { txn: { compare: [{ key: b(''), target: 'VERSION', result: 'EQUAL', version: 0 }] } },
  { txn: {} },
  // etcd's --max-txn-ops (128): 129 compares are too many.
  {
    txn: {
      compare: Array.from({ length: 129 }, () => ({
        key: b('a'),
        target: 'VERSION' as const,
        result: 'GREATER' as const,
        version: 0,
      })),
    },
  },
  {
    txn: {
      compare: Array.from({ length: 128 }, () => ({
        key: b('a'),
        target: 'VERSION' as const,
        result: 'GREATER' as const,
        version: 0,
      })),
      success: [{ request_range: { key: b('a') } }],
    },
  },
  { compaction: { revision: 99 } },
  { compaction: { revision: 4 } },
  { compaction: { revision: 4 } },
  { compaction: { revision: 3 } },
  { range: { key: b('a'), revision: 3 } },
  { range: { key: b('a'), revision: 4 } },
  { txn: { success: [{ request_range: { key: b('a'), revision: 3 } }] } },
  { put: { key: b('a'), value: b('after') } },
  { lease_grant: { ID: 9n, TTL: 0 } },
];
