// The v2 members API (etcd 3.4's v2http membersHandler): list, leader, add, remove, update,
// request bodies decoded as Go's json and checked by the one types.NewURLs (../etcd-urls.ts).

import { readBody } from '../../net/read-body.js';
import { MemberError, type ClientBackend, type MemberInfo } from '../client-backend.js';
import { newURLs } from '../etcd-urls.js';
import { goJSONSyntaxError } from '../go/json.js';
import {
  allowMethod,
  httpError,
  internalServerError,
  jsonReply,
  messageReply,
  type Reply,
  type Req,
} from './replies.js';

export const MEMBERS_PREFIX = '/v2/members';
/** Members API bodies are a list of URLs; anything this large is not one. */
const MAX_MEMBER_BODY_BYTES = 1024 * 1024;

/**
 * /v2/members and /v2/members/<id>|leader (v2http's membersHandler). `authorize` is the auth
 * check (etcd's hasWriteRootAccess): its reply, if any, answers instead.
 */
export async function membersReply(
  req: Req,
  backend: ClientBackend,
  authorize?: (req: Req) => Promise<Reply | undefined>,
): Promise<Reply> {
  const notAllowed = allowMethod(req.method, ['GET', 'POST', 'DELETE', 'PUT']);
  if (notAllowed) return notAllowed;
  const refused = await authorize?.(req);
  if (refused) return refused;
  let clusterId = '';
  const withCid = (r: Reply): Reply => ({ ...r, headers: [...(r.headers ?? []), ['X-Etcd-Cluster-Id', clusterId]] });
  try {
    clusterId = backend.status().clusterId;
    const sub = trimPrefix(req.path, MEMBERS_PREFIX);
    switch (req.method) {
      case 'GET': {
        if (sub === '') return withCid(jsonReply(200, { members: backend.members().map(memberJSON) }, true));
        if (sub !== 'leader') return withCid(messageReply(404, 'Not found'));
        const leader = backend.status().leader;
        const m = leader === '' || leader === '0' ? undefined : findMember(backend, leader);
        if (!m) return withCid(messageReply(503, 'During election'));
        return withCid(jsonReply(200, memberJSON(m), true));
      }
      case 'POST': {
        const body = await memberRequest(req);
        if ('status' in body) return withCid(body);
        const m = await backend.addMember(body.peerURLs);
        return withCid(jsonReply(201, memberJSON(m), true));
      }
      case 'DELETE': {
        const id = memberId(backend, sub);
        if (typeof id !== 'string') return withCid(id);
        await backend.removeMember(id);
        return withCid({ status: 204, noLength: true });
      }
      default: {
        // PUT
        const id = memberId(backend, sub);
        if (typeof id !== 'string') return withCid(id);
        const body = await memberRequest(req);
        if ('status' in body) return withCid(body);
        await backend.updateMember(id, body.peerURLs);
        return withCid({ status: 204, noLength: true });
      }
    }
  } catch (err) {
    if (err instanceof MemberError) return withCid(messageReply(err.status, err.message));
    return withCid(internalServerError());
  }
}

/** etcd's getID (strconv.ParseUint base 16): the backend gets its own spelling of the id. */
function memberId(backend: ClientBackend, idStr: string): string | Reply {
  // No id: net/http's Error without an Allow header, as etcd does.
  if (idStr === '') return httpError(405, 'Method Not Allowed');
  const id = parseHexId(idStr);
  if (id === null) return messageReply(404, `No such member: ${idStr}`);
  return findMember(backend, id)?.id ?? id.toString(16);
}

function findMember(backend: ClientBackend, id: string | bigint): MemberInfo | undefined {
  const want = typeof id === 'bigint' ? id : parseHexId(id);
  if (want === null) return undefined;
  return backend.members().find((m) => parseHexId(m.id) === want);
}

/** etcd's unmarshalRequest + MemberCreateRequest/MemberUpdateRequest.UnmarshalJSON. */
async function memberRequest(req: Req): Promise<{ peerURLs: string[] } | Reply> {
  let ctype = req.raw.headers['content-type'] ?? '';
  const semi = ctype.indexOf(';');
  if (semi !== -1) ctype = ctype.slice(0, semi).trim().toLowerCase();
  if (ctype !== 'application/json') return messageReply(415, `Bad Content-Type ${ctype}, accept application/json`);
  const body = await readBody(req.raw, MAX_MEMBER_BODY_BYTES);
  if (body.aborted) return messageReply(400, 'unexpected EOF');
  if (body.tooLarge) return { ...messageReply(400, 'http: request body too large'), close: true };
  const parsed = decodeMemberRequest(body.data.toString('utf8'));
  if (typeof parsed === 'string') return messageReply(400, parsed);
  return { peerURLs: parsed };
}

function memberJSON(m: MemberInfo): MemberInfo {
  return { id: m.id, name: m.name, peerURLs: [...m.peerURLs], clientURLs: [...m.clientURLs] };
}

/** A uint64 written in hex (any number of leading zeros, as Go's ParseUint allows), or null. */
function parseHexId(s: string): bigint | null {
  if (!/^[0-9a-fA-F]+$/.test(s)) return null;
  const v = BigInt(`0x${s}`);
  return v < 1n << 64n ? v : null;
}

function trimPrefix(p: string, prefix: string): string {
  let s = p.startsWith(prefix) ? p.slice(prefix.length) : p;
  if (s.startsWith('/')) s = s.slice(1);
  return s;
}

const REQUEST_TYPE = 'struct { PeerURLs []string "json:\\"peerURLs\\"" }';

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  return typeof v; // string, number, object
}

/** `{"peerURLs": [...]}` decoded as etcd does (json.Unmarshal, then types.NewURLs); error text on failure. */
export function decodeMemberRequest(body: string): string[] | string {
  const syntax = goJSONSyntaxError(body);
  if (syntax !== null) return syntax;
  const v: unknown = JSON.parse(body);
  let urls: string[] | null = null;
  if (v !== null) {
    if (typeof v !== 'object' || Array.isArray(v))
      return `json: cannot unmarshal ${jsonKind(v)} into Go value of type ${REQUEST_TYPE}`;
    let typeError: string | null = null;
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
      if (k.toLowerCase() !== 'peerurls') continue; // Go matches field names case-insensitively
      if (val === null) {
        urls = null;
      } else if (!Array.isArray(val)) {
        typeError ??= `json: cannot unmarshal ${jsonKind(val)} into Go struct field .peerURLs of type []string`;
      } else {
        urls = [];
        for (const el of val as unknown[]) {
          if (el === null) urls.push('');
          else if (typeof el === 'string') urls.push(el);
          else {
            typeError ??= `json: cannot unmarshal ${jsonKind(el)} into Go struct field .peerURLs of type string`;
            urls.push('');
          }
        }
      }
    }
    if (typeError !== null) return typeError;
  }
  try {
    return newURLs(urls ?? []);
  } catch (e) {
    return (e as Error).message;
  }
}
