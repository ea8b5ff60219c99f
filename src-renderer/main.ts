import { mount } from 'svelte';
import App from './App.svelte';
import { connectBridge } from './lib/bridge.js';
import { Session } from './lib/session.svelte.js';

let session: Session | undefined; // set once the bridge is up; the callback may come first
const bridge = connectBridge((open) => {
  if (session) session.connected = open;
  else queueMicrotask(() => session && (session.connected = open));
});
session = new Session(bridge);
// For tests and the renderer bench: the live model, read-only by convention.
(window as unknown as { raftlabSession: Session }).raftlabSession = session;
// For tests: every change the window drew (marks landed or lost, roles, votes, terms), with its frame.
Object.defineProperty(window, '__raftlabDrawn', { get: () => session!.drawn });
mount(App, { target: document.getElementById('app')!, props: { session, bridge } });
