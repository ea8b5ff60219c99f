// The shell commands that do what the KV console does, so users can repeat it with their own
// tools against the very same node: etcd's v2 keys API (curl, ETCDCTL_API=2 etcdctl) and its
// v3 API (etcdctl, and curl to the /v3 JSON gateway); and, for v3, what etcdctl prints for an
// answer, which is what the console shows.
/* eslint-disable @typescript-eslint/no-explicit-any -- the gateway's JSON answers, read field by field defensively (int, unb64, ?? []) */

import { gatewayCall, int, leaseHex, unb64, type Kv3Request } from '../../src-shared/kv3.js';
import type { KvResult } from '../../src-shared/command-results.js';
import type { SecurityView } from '../../src-shared/attach.js';

export type KvOp = 'put' | 'get' | 'delete' | 'watch';

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function curlFor(op: KvOp, clientURL: string, key: string, value: string): string {
  const url = `${clientURL}/v2/keys${key}`;
  switch (op) {
    case 'put':
      return `curl -s -X PUT ${url} -d value=${shellQuote(encodeURIComponent(value))}`;
    case 'get':
      return `curl -s ${url}`;
    case 'delete':
      return `curl -s -X DELETE ${url}`;
    case 'watch':
      return `curl -s ${shellQuote(`${url}?wait=true`)}`;
  }
}

export function etcdctlFor(op: KvOp, clientURL: string, key: string, value: string): string {
  const base = `ETCDCTL_API=2 etcdctl --endpoints ${clientURL}`;
  switch (op) {
    case 'put':
      return `${base} set ${shellQuote(key)} ${shellQuote(value)}`;
    case 'get':
      return `${base} get ${shellQuote(key)}`;
    case 'delete':
      return `${base} rm ${shellQuote(key)}`;
    case 'watch':
      return `${base} watch ${shellQuote(key)}`;
  }
}

// ------------------------------------------------------------------ etcd's v3 API

/** A key, value or flag for etcdctl's command line; `--` first when one would read as a flag. */
function positional(...args: string[]): string {
  return `${args.some((a) => a.startsWith('-')) ? '-- ' : ''}${args.map(shellQuote).join(' ')}`;
}

/** etcdctl's own argument and flags, then the positional ones (after `--` when they start with "-"). */
function withFlags(cmd: string, flags: string[], ...args: string[]): string {
  const pos = positional(...args);
  const f = flags.length ? ` ${flags.join(' ')}` : '';
  return pos.startsWith('-- ') ? `${cmd}${f} ${pos}` : `${cmd} ${pos}${f}`;
}

/** A string as etcdctl txn reads it from stdin (Go's %q): a Go-compatible quoted string. */
const goQuote = (s: string) => JSON.stringify(s);

/** etcdctl txn's stdin for the console's compare-and-swap: compares, success ops, failure ops. */
export function txnLines(r: Extract<Kv3Request, { op: 'txn' }>): string[] {
  const dash = r.value.startsWith('-') || r.key.startsWith('-') ? '-- ' : '';
  return [
    `${r.target}(${goQuote(r.key)}) ${r.relation} ${goQuote(r.expected)}`,
    '',
    `put ${dash}${goQuote(r.key)} ${goQuote(r.value)}`,
    '',
    `get ${r.key.startsWith('-') ? '-- ' : ''}${goQuote(r.key)}`,
    '',
  ];
}

/** How a terminal reaches a secured cluster: the TLS files by path, the user (never a password). */
export interface TerminalAccess {
  files?: SecurityView['files'];
  user?: string;
}

/** etcdctl's --cacert/--cert/--key and --user (it asks for the password itself). */
const etcdctlAccess = (a: TerminalAccess | undefined) => accessFlags(a, (user) => `--user ${shellQuote(user)}`);

/** curl's --cacert/--cert/--key, and the token header (the token from POST /v3/auth/authenticate). */
const curlAccess = (a: TerminalAccess | undefined) => accessFlags(a, () => '-H "Authorization: $TOKEN"');

/** The TLS files' flags (named alike in etcdctl and curl), then the user's as `userFlag` says; each after a space. */
function accessFlags(a: TerminalAccess | undefined, userFlag: (user: string) => string): string {
  const f = a?.files;
  const flags = [
    f?.caFile ? `--cacert ${shellQuote(f.caFile)}` : '',
    f?.certFile ? `--cert ${shellQuote(f.certFile)}` : '',
    f?.keyFile ? `--key ${shellQuote(f.keyFile)}` : '',
    a?.user ? userFlag(a.user) : '',
  ];
  return flags
    .filter(Boolean)
    .map((x) => ` ${x}`)
    .join('');
}

/** The Debian etcdctl (v3, its default API) line that makes the same request. */
export function etcdctl3For(r: Kv3Request, clientURL: string, access?: TerminalAccess): string {
  const base = `etcdctl --endpoints ${clientURL}${etcdctlAccess(access)}`;
  switch (r.op) {
    case 'put':
      return `${base} ${withFlags('put', [...(r.lease ? [`--lease=${r.lease}`] : []), ...(r.prevKv ? ['--prev-kv'] : [])], r.key, r.value)}`;
    case 'get':
      return `${base} ${withFlags('get', [...(r.prefix ? ['--prefix'] : []), ...(r.limit ? [`--limit=${r.limit}`] : []), ...(r.revision ? [`--rev=${r.revision}`] : [])], r.key)}`;
    case 'delete':
      return `${base} ${withFlags('del', [...(r.prefix ? ['--prefix'] : []), ...(r.prevKv ? ['--prev-kv'] : [])], r.key)}`;
    case 'txn':
      return `printf '%s\\n' ${txnLines(r)
        .map((l) => (l === '' ? "''" : shellQuote(l)))
        .join(' ')} | ${base} txn`;
    case 'unwatch':
      return '';
    case 'watch': {
      return `${base} ${withFlags('watch', [...(r.prefix ? ['--prefix'] : []), ...(r.startRevision ? [`--rev=${r.startRevision}`] : []), ...(r.prevKv ? ['--prev-kv'] : [])], r.key)}`;
    }
    case 'leaseGrant':
      return `${base} lease grant ${r.ttl}`;
    case 'leaseRevoke':
      return `${base} lease revoke ${r.lease}`;
    case 'leaseKeepAlive':
      return `${base} lease keep-alive --once ${r.lease}`;
    case 'leaseTimeToLive':
      return `${base} lease timetolive ${r.lease}${r.keys ? ' --keys' : ''}`;
    case 'leaseList':
      return `${base} lease list`;
  }
}

/** The curl line that sends the same call to the node's /v3 JSON gateway (keys and values in base64). */
export function curl3For(r: Kv3Request, clientURL: string, access?: TerminalAccess): string {
  const call = gatewayCall(r);
  if (!call) return '';
  return `curl -s${call.stream ? 'N' : ''}${curlAccess(access)} -X POST ${clientURL}${call.path} -d ${shellQuote(JSON.stringify(call.body))}`;
}

// ------------------------------------------------------------------ answers as etcdctl prints them

interface GatewayKv {
  key?: string;
  value?: string;
  create_revision?: string;
  mod_revision?: string;
  version?: string;
  lease?: string;
}

/** etcdctl's printKV: the key, then the value. */
const kvLines = (kv: GatewayKv | undefined): string[] => (kv ? [unb64(kv.key), unb64(kv.value)] : []);

/** The error etcdctl prints (on stderr) for a gateway error answer. */
function errorText(body: unknown, status: number): string {
  const b = body as { message?: unknown; error?: unknown } | string | undefined;
  const said =
    typeof b === 'string'
      ? b
      : typeof b?.message === 'string'
        ? b.message
        : typeof b?.error === 'string'
          ? b.error
          : `HTTP ${status}`;
  return `Error: ${said}`;
}

function responseLines(kind: 'put' | 'get' | 'delete', resp: any): string[] {
  switch (kind) {
    case 'put':
      return ['OK', ...kvLines(resp?.prev_kv)];
    case 'get':
      return (resp?.kvs ?? []).flatMap(kvLines);
    case 'delete':
      return [String(int(resp?.deleted)), ...(resp?.prev_kvs ?? []).flatMap(kvLines)];
  }
}

/** A watch response's events as `etcdctl watch` prints them: the type, the previous kv (--prev-kv), the kv. */
export function watchEventLines(result: unknown): string[] {
  const events = ((result as { events?: unknown[] })?.events ?? []) as {
    type?: string;
    kv?: GatewayKv;
    prev_kv?: GatewayKv;
  }[];
  return events.flatMap((e) => [e.type ?? 'PUT', ...kvLines(e.prev_kv), ...kvLines(e.kv)]);
}

/**
 * What etcdctl prints for the same request given this answer (stdout; or its `Error:` line):
 * the console shows it, and test/app/kv3-console.test.ts runs etcdctl to compare.
 */
export function etcdctl3Output(r: Kv3Request, res: KvResult): string {
  const b = res.body as any;
  if (res.status !== 200) {
    // etcdctl words some failures itself around etcd's text.
    const said = errorText(b, res.status).slice('Error: '.length);
    const worded =
      r.op === 'leaseGrant'
        ? `failed to grant lease (${said})`
        : r.op === 'leaseRevoke'
          ? `failed to revoke lease (${said})`
          : said;
    return `Error: ${worded}\n`;
  }
  const lines = ((): string[] => {
    switch (r.op) {
      case 'put':
      case 'get':
      case 'delete':
        return responseLines(r.op, b);
      case 'txn':
        return [
          b?.succeeded ? 'SUCCESS' : 'FAILURE',
          ...(b?.responses ?? []).flatMap((x: any) => [
            '',
            ...(x.response_put
              ? responseLines('put', x.response_put)
              : x.response_range
                ? responseLines('get', x.response_range)
                : responseLines('delete', x.response_delete_range)),
          ]),
        ];
      case 'watch':
      case 'unwatch':
        return watchEventLines(b?.result);
      case 'leaseGrant':
        return [`lease ${leaseHex(b?.ID)} granted with TTL(${int(b?.TTL)}s)`];
      case 'leaseRevoke':
        return [`lease ${r.lease.padStart(16, '0')} revoked`];
      case 'leaseKeepAlive': {
        // A keep-alive of a lease that is gone is answered with no TTL; etcdctl calls it not found.
        const ka = b?.result;
        if (b?.error) return [errorText(b.error, 500)];
        return int(ka?.TTL) > 0
          ? [`lease ${leaseHex(ka.ID)} keepalived with TTL(${int(ka.TTL)})`]
          : ['Error: etcdserver: requested lease not found'];
      }
      case 'leaseTimeToLive': {
        if (int(b?.grantedTTL) === 0 && int(b?.TTL) === -1) return [`lease ${leaseHex(b?.ID)} already expired`];
        const keys = r.keys ? `, attached keys([${((b?.keys ?? []) as string[]).map(unb64).join(' ')}])` : '';
        return [`lease ${leaseHex(b?.ID)} granted with TTL(${int(b?.grantedTTL)}s), remaining(${int(b?.TTL)}s)${keys}`];
      }
      case 'leaseList': {
        const leases = (b?.leases ?? []) as { ID?: string }[];
        return [`found ${leases.length} leases`, ...leases.map((l) => leaseHex(l.ID))];
      }
    }
  })();
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** The revisions an answer carries, in words: the store's, and each key's (created, modified, version). */
export function revisionWords(r: Kv3Request, res: KvResult): string {
  const b = res.body as any;
  if (res.status !== 200) return '';
  const header = b?.header ?? b?.result?.header;
  const parts = header?.revision ? [`revision ${int(header.revision)}`] : [];
  const kvs: GatewayKv[] =
    r.op === 'get'
      ? (b?.kvs ?? [])
      : r.op === 'txn'
        ? (b?.responses ?? []).flatMap((x: any) => x.response_range?.kvs ?? [])
        : [];
  for (const kv of kvs.slice(0, 5))
    parts.push(
      `${unb64(kv.key)}: created ${int(kv.create_revision)}, modified ${int(kv.mod_revision)}, version ${int(kv.version)}`,
    );
  if (kvs.length > 5) parts.push(`… ${kvs.length - 5} more`);
  if (r.op === 'get' && b?.more) parts.push(`more keys beyond the limit (count ${int(b.count)})`);
  return parts.join(' · ');
}
