// The KV console's etcd v3 requests (window → supervisor), checked where they arrive, and each
// one as the call etcd's /v3 JSON gateway takes: the supervisor sends exactly that body, and the
// window prints exactly that body in its `curl` line. Keys and values are text (UTF-8), sent as
// the gateway wants bytes: base64. Lease ids are written as etcdctl prints them (16 hex digits)
// and sent as the gateway's int64s (decimal strings).

import * as v from 'valibot';
import { object } from './schema.js';

const KEY_TEXT = 'kv3: key must be a non-empty string of at most 4096 characters';
const key = v.pipe(v.string(KEY_TEXT), v.minLength(1, KEY_TEXT), v.maxLength(4096, KEY_TEXT));
const value = v.string('kv3: value must be a string');
const LEASE_TEXT = 'kv3: lease must be a lease id in hex, as etcdctl prints it (1 to 16 hex digits, not 0)';
const leaseId = v.pipe(v.string(LEASE_TEXT), v.regex(/^(?!0+$)[0-9a-f]{1,16}$/, LEASE_TEXT));
const WATCH_TEXT = 'kv3: watch must be an id of 1 to 64 letters, digits, "-" or "_"';
const watchId = v.pipe(v.string(WATCH_TEXT), v.regex(/^[A-Za-z0-9_-]{1,64}$/, WATCH_TEXT));
const flag = (name: string) => v.optional(v.boolean(`kv3: ${name} must be a boolean`));
const whole = (name: string, lo: number, hi: number) => {
  const text = `kv3: ${name} must be a whole number ${lo}..${hi}`;
  return v.optional(v.pipe(v.number(text), v.safeInteger(text), v.minValue(lo, text), v.maxValue(hi, text)));
};
const revision = (name: string) => whole(name, 0, Number.MAX_SAFE_INTEGER);
const op = <T extends string, E extends v.ObjectEntries>(name: T, entries: E) =>
  object({ op: v.literal(name), ...entries }, 'kv3: a request must be an object');

/** etcdctl txn's compare targets (value("k"), version("k"), create("k"), mod("k")) and relations. */
export const TXN_TARGETS = ['value', 'version', 'create', 'mod'] as const;
export type TxnTarget = (typeof TXN_TARGETS)[number];
export const TXN_RELATIONS = ['=', '!=', '<', '>'] as const;
export type TxnRelation = (typeof TXN_RELATIONS)[number];

/** etcd's largest lease TTL (seconds), as its lessor refuses anything longer. */
export const MAX_LEASE_TTL = 9_000_000_000;

export const KV3_OPS = [
  'put',
  'get',
  'delete',
  'txn',
  'watch',
  'unwatch',
  'leaseGrant',
  'leaseRevoke',
  'leaseKeepAlive',
  'leaseTimeToLive',
  'leaseList',
] as const;
export type Kv3Op = (typeof KV3_OPS)[number];

export const Kv3RequestSchema = v.variant(
  'op',
  [
    /** etcdctl put: `lease` attaches the key to a lease; `prevKv` answers the value it replaced. */
    op('put', { key, value, lease: v.optional(leaseId), prevKv: flag('prevKv') }),
    /** etcdctl get: one key, or every key with that prefix; at most `limit`; as of `revision` (0: now). */
    op('get', { key, prefix: flag('prefix'), limit: whole('limit', 0, 1_000_000_000), revision: revision('revision') }),
    op('delete', { key, prefix: flag('prefix'), prevKv: flag('prevKv') }),
    /**
     * A compare-and-swap as etcdctl txn takes it: if `target`(key) `relation` `expected`, then
     * put `value` at `key`, else get `key`.
     */
    v.pipe(
      op('txn', {
        key,
        target: v.picklist(TXN_TARGETS, 'kv3: target must be value, version, create or mod'),
        relation: v.picklist(TXN_RELATIONS, 'kv3: relation must be =, !=, < or >'),
        expected: v.string('kv3: expected must be a string'),
        value,
      }),
      v.check(
        (r) => r.target === 'value' || /^\d{1,16}$/.test(r.expected),
        'kv3: a version or revision compared must be a whole number',
      ),
    ),
    /**
     * Starts streaming the changes of `key` (or under it, `prefix`) from `startRevision` (history
     * first) or from now: the window names it `watch`, the changes come as `watch` events.
     */
    op('watch', {
      watch: watchId,
      key,
      prefix: flag('prefix'),
      startRevision: revision('startRevision'),
      prevKv: flag('prevKv'),
    }),
    op('unwatch', { watch: watchId }),
    op('leaseGrant', {
      ttl: v.pipe(
        v.unknown(),
        v.check((t) => t !== undefined, `kv3: ttl is required`),
        whole('ttl', 1, MAX_LEASE_TTL),
      ),
    }),
    op('leaseRevoke', { lease: leaseId }),
    /** One keep-alive (etcdctl lease keep-alive --once). */
    op('leaseKeepAlive', { lease: leaseId }),
    op('leaseTimeToLive', { lease: leaseId, keys: flag('keys') }),
    op('leaseList', {}),
  ],
  (issue) => (issue.path ? `kv3: op must be one of ${KV3_OPS.join(', ')}` : 'kv3: a request must be an object'),
);
export type Kv3Request = v.InferOutput<typeof Kv3RequestSchema>;

// ------------------------------------------------------------------ bytes and ids

/** UTF-8 bytes of `s` in base64, as the gateway takes bytes. */
export function b64(s: string | Uint8Array): string {
  const bytes = typeof s === 'string' ? new TextEncoder().encode(s) : s;
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** The gateway's base64 bytes as text (invalid UTF-8 shown with U+FFFD, as a terminal would). */
export function unb64(s: unknown): string {
  if (typeof s !== 'string' || s === '') return '';
  const bin = atob(s);
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

/** The end of the range of keys starting with `prefix` (clientv3's GetPrefixRangeEnd), in base64. */
export function prefixEnd(prefix: string): string {
  const b = new TextEncoder().encode(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      // i is within b, and within end below
      const end = b.slice(0, i + 1);
      end[i]!++;
      return b64(end);
    }
  }
  return b64(new Uint8Array([0]));
}

/** A lease id as etcdctl prints it (%016x) from the gateway's decimal int64. */
export function leaseHex(dec: unknown): string {
  try {
    return BigInt.asUintN(64, BigInt(String(dec ?? '0')))
      .toString(16)
      .padStart(16, '0');
  } catch {
    return String(dec);
  }
}

/** etcdctl's hex lease id as the gateway's decimal int64. */
export function leaseDec(hex: string): string {
  return BigInt.asIntN(64, BigInt(`0x${hex}`)).toString();
}

/** A 64-bit integer of the gateway (a string; absent when zero) as a number. */
export function int(x: unknown): number {
  const n = Number(x ?? 0);
  return Number.isFinite(n) ? n : 0;
}

// ------------------------------------------------------------------ the gateway call of each request

/** One POST to the JSON gateway: its path and body. */
export interface GatewayCall {
  path: string;
  body: Record<string, unknown>;
  /** A stream (watch): the answer is one {"result": …} line per message, for as long as it lasts. */
  stream?: boolean;
}

const COMPARE_TARGET: Record<TxnTarget, [string, string]> = {
  value: ['VALUE', 'value'],
  version: ['VERSION', 'version'],
  create: ['CREATE', 'create_revision'],
  mod: ['MOD', 'mod_revision'],
};
const COMPARE_RESULT: Record<TxnRelation, string> = { '=': 'EQUAL', '!=': 'NOT_EQUAL', '<': 'LESS', '>': 'GREATER' };

/** What etcdctl sends for `r`, as the gateway's JSON (undefined for unwatch: nothing is sent). */
export function gatewayCall(r: Kv3Request): GatewayCall | undefined {
  switch (r.op) {
    case 'put':
      return {
        path: '/v3/kv/put',
        body: {
          key: b64(r.key),
          value: b64(r.value),
          ...(r.lease ? { lease: leaseDec(r.lease) } : {}),
          ...(r.prevKv ? { prev_kv: true } : {}),
        },
      };
    case 'get':
      return {
        path: '/v3/kv/range',
        body: {
          key: b64(r.key),
          ...(r.prefix ? { range_end: prefixEnd(r.key) } : {}),
          ...(r.limit ? { limit: r.limit } : {}),
          ...(r.revision ? { revision: r.revision } : {}),
        },
      };
    case 'delete':
      return {
        path: '/v3/kv/deleterange',
        body: {
          key: b64(r.key),
          ...(r.prefix ? { range_end: prefixEnd(r.key) } : {}),
          ...(r.prevKv ? { prev_kv: true } : {}),
        },
      };
    case 'txn': {
      const [target, field] = COMPARE_TARGET[r.target];
      const expected = r.target === 'value' ? b64(r.expected) : Number(r.expected);
      return {
        path: '/v3/kv/txn',
        body: {
          compare: [{ key: b64(r.key), target, result: COMPARE_RESULT[r.relation], [field]: expected }],
          success: [{ request_put: { key: b64(r.key), value: b64(r.value) } }],
          failure: [{ request_range: { key: b64(r.key) } }],
        },
      };
    }
    case 'watch':
      return {
        path: '/v3/watch',
        stream: true,
        body: {
          create_request: {
            key: b64(r.key),
            ...(r.prefix ? { range_end: prefixEnd(r.key) } : {}),
            ...(r.startRevision ? { start_revision: r.startRevision } : {}),
            ...(r.prevKv ? { prev_kv: true } : {}),
          },
        },
      };
    case 'unwatch':
      return undefined;
    case 'leaseGrant':
      return { path: '/v3/lease/grant', body: { TTL: r.ttl } };
    case 'leaseRevoke':
      return { path: '/v3/lease/revoke', body: { ID: leaseDec(r.lease) } };
    case 'leaseKeepAlive':
      return { path: '/v3/lease/keepalive', body: { ID: leaseDec(r.lease) } };
    case 'leaseTimeToLive':
      return { path: '/v3/lease/timetolive', body: { ID: leaseDec(r.lease), ...(r.keys ? { keys: true } : {}) } };
    case 'leaseList':
      return { path: '/v3/lease/leases', body: {} };
  }
}

/** A write: the supervisor takes a checkpoint before it, as before any action that changes the cluster. */
export function kv3Writes(r: Kv3Request): boolean {
  return r.op === 'put' || r.op === 'delete' || r.op === 'txn' || r.op === 'leaseGrant' || r.op === 'leaseRevoke';
}

/** A request in a few words, as etcdctl's subcommand would read: "put /a=1", "lease grant 10s". */
export function describeKv3(r: Kv3Request): string {
  const cut = (s: string) => (s.length > 40 ? `${s.slice(0, 39)}…` : s);
  switch (r.op) {
    case 'put':
      return `put ${cut(r.key)}=${cut(r.value)}${r.lease ? ` with lease ${r.lease}` : ''}`;
    case 'get':
      return `get ${cut(r.key)}${r.prefix ? ' (prefix)' : ''}${r.revision ? ` at revision ${r.revision}` : ''}`;
    case 'delete':
      return `del ${cut(r.key)}${r.prefix ? ' (prefix)' : ''}`;
    case 'txn':
      return `txn: if ${r.target}(${cut(r.key)}) ${r.relation} ${cut(r.expected)} then put ${cut(r.value)}`;
    case 'watch':
      return `watch ${cut(r.key)}${r.prefix ? ' (prefix)' : ''}${r.startRevision ? ` from revision ${r.startRevision}` : ''}`;
    case 'unwatch':
      return 'stop watching';
    case 'leaseGrant':
      return `lease grant ${r.ttl}s`;
    case 'leaseRevoke':
      return `lease revoke ${r.lease}`;
    case 'leaseKeepAlive':
      return `lease keep-alive ${r.lease}`;
    case 'leaseTimeToLive':
      return `lease timetolive ${r.lease}`;
    case 'leaseList':
      return 'lease list';
  }
}
