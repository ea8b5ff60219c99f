// The window's model (src-renderer/lib/session.svelte.ts) fed as a replay feeds it: every event
// batch drawn at once, in order, with no timing involved. For unit tests of what the window shows.

import type { RaftlabBridge } from '../../src-shared/bridge.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { Session } from '../../src-renderer/lib/session.svelte.js';

export function replaySession(): { session: Session; feed: (batch: ServerEvent[]) => void } {
  let listener: (batch: ServerEvent[]) => void = () => {};
  const bridge: RaftlabBridge = {
    kind: 'browser',
    send: () => {},
    onEvents: (l) => ((listener = l), () => {}),
    readTrace: async () => ({ text: '', next: 0, size: 0 }),
  };
  return { session: new Session(bridge, { replay: true, clock: () => 0 }), feed: (b) => listener(b) };
}
