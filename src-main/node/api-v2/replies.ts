// The v2 API's answers as etcd writes them: Go's header order (CORS and the handler's headers
// sorted, then Date, Content-Length, a sniffed Content-Type), http.Error texts, v2error bodies.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { RaftUnavailable } from '../client-backend.js';
import { hexEscapeNonASCII, htmlEscape } from '../go/http.js';
import { goJSON } from '../go/json.js';
import { escapedPath } from '../go/url.js';
import { V2Error } from '../store-v2/errors.js';

export type HeaderList = Array<[string, string]>;

export const CORS: HeaderList = [
  ['Access-Control-Allow-Headers', 'accept, content-type, authorization'],
  ['Access-Control-Allow-Methods', 'POST, GET, OPTIONS, PUT, DELETE'],
  ['Access-Control-Allow-Origin', '*'],
];
export const JSON_TYPE: [string, string] = ['Content-Type', 'application/json'];
export const TEXT_TYPE = 'text/plain; charset=utf-8';

export interface Reply {
  status: number;
  headers?: HeaderList;
  body?: string;
  /** Go sniffs a Content-Type the handler did not set and writes it after Content-Length. */
  sniffedType?: string;
  /** Go omits Content-Length when nothing was written to a HEAD response, and on 204. */
  noLength?: boolean;
  /** Close the connection after this reply (a request body was left unread). */
  close?: boolean;
  /** No answer at all: the connection is dropped (what Go does when a handler panics). */
  abort?: boolean;
}

/** The request as etcd's mux and handlers see it. */
export interface Req {
  method: string;
  /** Percent-decoded path (Go's r.URL.Path). */
  path: string;
  rawQuery: string;
  raw: IncomingMessage;
}

/** v2http's allowMethod: 405 text with `Allow` listing what is allowed. */
export function allowMethod(method: string, allowed: string[]): Reply | undefined {
  if (allowed.includes(method)) return undefined;
  const r = httpError(405, 'Method Not Allowed');
  r.headers!.push(['Allow', allowed.join(',')]);
  return r;
}

/** Go's http.Error. */
export function httpError(status: number, text: string): Reply {
  return {
    status,
    headers: [
      ['Content-Type', TEXT_TYPE],
      ['X-Content-Type-Options', 'nosniff'],
    ],
    body: `${text}\n`,
  };
}

/** httptypes.HTTPError: `{"message": ...}`, no trailing newline. */
export function messageReply(status: number, message: string): Reply {
  return { status, headers: [JSON_TYPE], body: goJSON({ message }) };
}

export function internalServerError(): Reply {
  return messageReply(500, 'Internal Server Error');
}

/** JSON from json.Marshal (no newline) or, with `encoder`, json.NewEncoder(w).Encode. */
export function jsonReply(status: number, value: unknown, encoder = false): Reply {
  return { status, headers: [JSON_TYPE], body: goJSON(value) + (encoder ? '\n' : '') };
}

/** v2error's WriteTo, or writeKeyError's errorCode 300 for anything that is not a V2Error. */
export function keyError(err: unknown, clusterId: string): Reply {
  let e: V2Error;
  if (err instanceof V2Error) e = err;
  else if (err instanceof RaftUnavailable) e = new V2Error(300, err.message || 'etcdserver: request timed out', 0);
  else e = new V2Error(300, err instanceof Error ? err.message : String(err), 0);
  const headers: HeaderList = [JSON_TYPE, ['X-Etcd-Index', String(e.index)]];
  if (clusterId !== '') headers.push(['X-Etcd-Cluster-Id', clusterId]);
  return { status: e.httpStatus, headers, body: `${goJSON(e)}\n` };
}

/** ServeMux's redirect to the cleaned path (http.Redirect with 301). */
export function redirect(method: string, cleanPath: string, rawQuery: string): Reply {
  const location = escapedPath(cleanPath) + (rawQuery === '' ? '' : `?${hexEscapeNonASCII(rawQuery)}`);
  const headers: HeaderList = [['Location', location]];
  if (method === 'GET' || method === 'HEAD') headers.push(['Content-Type', 'text/html; charset=utf-8']);
  if (method === 'GET')
    return { status: 301, headers, body: `<a href="${htmlEscape(location)}">Moved Permanently</a>.\n\n` };
  return { status: 301, headers, noLength: method === 'HEAD' };
}

export function send(req: IncomingMessage, res: ServerResponse, r: Reply): void {
  if (res.headersSent || res.destroyed) return;
  if (r.abort) return void res.destroy();
  const body = r.body ?? '';
  const tail: HeaderList = [];
  if (!r.noLength) tail.push(['Content-Length', String(Buffer.byteLength(body))]);
  if (r.sniffedType) tail.push(['Content-Type', r.sniffedType]);
  if (r.close) tail.push(['Connection', 'close']);
  writeHead(req, res, r.status, r.headers ?? [], ...tail);
  res.end(body);
}

/** Go's header order: CORS and the handler's headers sorted by name, then Date, then the rest. */
export function writeHead(
  _req: IncomingMessage,
  res: ServerResponse,
  status: number,
  headers: HeaderList,
  ...tail: HeaderList
): void {
  const sorted = [...CORS, ...headers].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const flat: string[] = [];
  for (const [k, v] of sorted) flat.push(k, v);
  flat.push('Date', httpDate());
  for (const [k, v] of tail) flat.push(k, v);
  res.sendDate = false;
  res.writeHead(status, flat);
}

let lastDate = { second: NaN, text: '' };

/** The Date header (to the second, as Go writes it): made once a second, not once a request. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== lastDate.second) lastDate = { second, text: new Date(now).toUTCString() };
  return lastDate.text;
}
