// Why a write sent in step mode has no answer yet, in words: with every clock stopped and every
// message held, a proposal goes nowhere until the user delivers the messages it made (or ticks,
// when there is no leader to take it). Pure, so tested without a browser.

import type { ClusterState } from '../../src-shared/cluster-state.js';

/** '' when step mode is off: then a write is simply on its way. */
export function heldWriteWords(c: ClusterState | null | undefined, via: string): string {
  const step = c?.step;
  if (!c || !step?.on) return '';
  const held = step.held;
  const leader = c.nodes.find((n) => n.status === 'alive' && n.role === 'leader');
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  if (!leader) {
    return `Nothing was sent yet: step mode is on and no node leads, so ${via} has no leader to hand the write to. Tick (or run until a new leader), then deliver the messages; the write is answered once it is committed.`;
  }
  if (via !== leader.name) {
    const forwarded = held.filter((m) => m.msgType === 'MsgProp' && m.from === via);
    return `Nothing was sent yet: step mode is on. ${via} is not the leader, so it forwards the write to ${leader.name} as a proposal (MsgProp), ${forwarded.length ? 'held with the other messages' : 'which will be held with the other messages'}. Deliver it, then ${leader.name}'s appends and the acknowledgements (or "Deliver all"); the write is answered once a majority has it.`;
  }
  const appends = held.filter((m) => m.from === leader.name && m.msgType === 'MsgApp' && (m.entries ?? 0) > 0);
  const to = [...new Set(appends.map((m) => m.to))];
  const what =
    to.length === 0
      ? 'what it sends to the followers is'
      : `its ${to.length === 1 ? 'append' : 'appends'} to ${to.join(' and ')} ${to.length === 1 ? 'is' : 'are'}`;
  return `Nothing was sent yet: step mode is on. ${leader.name} appended the write to its own log, but ${what} held with the other messages (${count(held.length, 'message')} held). Deliver them (or "Deliver all"), then the acknowledgements; the write is answered once a majority has it.`;
}
