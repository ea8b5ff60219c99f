// Picks the window's door onto the supervisor: Electron's preload (window.raftlab) or, in
// browser mode, the token-guarded WebSocket of the page's own server.

import type { RaftlabBridge } from '../../src-shared/bridge.js';
import type { ServerEvent } from '../../src-shared/protocol.js';

declare global {
  interface Window {
    raftlab?: RaftlabBridge;
  }
}

export function connectBridge(onOpenChange: (open: boolean) => void): RaftlabBridge {
  if (window.raftlab) {
    onOpenChange(true);
    return window.raftlab;
  }
  return webSocketBridge(onOpenChange);
}

function webSocketBridge(onOpenChange: (open: boolean) => void): RaftlabBridge {
  const token = new URLSearchParams(location.search).get('token') ?? '';
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${scheme}//${location.host}/bridge?token=${encodeURIComponent(token)}`);
  const listeners = new Set<(batch: ServerEvent[]) => void>();
  const queued: string[] = [];
  ws.onopen = () => {
    onOpenChange(true);
    for (const q of queued.splice(0)) ws.send(q);
  };
  ws.onclose = () => onOpenChange(false);
  ws.onmessage = (ev) => {
    const batch = JSON.parse(String(ev.data)) as ServerEvent[];
    for (const l of listeners) l(batch);
  };
  return {
    kind: 'browser',
    send(request) {
      const text = JSON.stringify(request);
      if (ws.readyState === WebSocket.OPEN) ws.send(text);
      else queued.push(text);
    },
    onEvents(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async readTrace(from, max) {
      const res = await fetch(`/trace?from=${from}&max=${max}&token=${encodeURIComponent(token)}`, {
        cache: 'no-store',
      });
      if (!res.ok) throw new Error(`reading the session trace failed: ${res.status} ${(await res.text()).trim()}`);
      return {
        text: await res.text(),
        next: Number(res.headers.get('X-Trace-Next')),
        size: Number(res.headers.get('X-Trace-Size')),
      };
    },
  };
}
