// The window's Content-Security-Policy, one definition for both shells: Electron sets it on
// every response (src-main/electron/main.ts), browser mode on the page it serves
// (web-server.ts). The window loads only its own files; the two differ only in how it reaches
// the supervisor: Electron through IPC (no network at all), browser mode through the
// WebSocket of its own server.

export type WindowConnect =
  | { kind: 'ipc' }
  /** The server's own origins (http://127.0.0.1:PORT ...): their ws:// twins may be dialled. */
  | { kind: 'websocket'; origins: string[] };

export function windowCsp(connect: WindowConnect): string {
  const connectSrc =
    connect.kind === 'ipc'
      ? "connect-src 'none'"
      : ["connect-src 'self'", ...connect.origins.map((o) => o.replace(/^http/, 'ws'))].join(' ');
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    connectSrc,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The headers every browser-mode answer carries besides its CSP: no sniffing, no referrer, no cache. */
export const SAFE_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};
