// Keyboard shortcuts: one table, read by the key handler and shown in the legend.

import {
  addMember,
  demoWrite,
  healAll,
  isolateLeader,
  killOrRestart,
  leaderOf,
  nudgeSpeed,
  restartAll,
  splitCluster,
  transferTo,
} from './actions.js';
import type { Session } from './session.svelte.js';

export interface Shortcut {
  keys: string;
  what: string;
  run: (s: Session, key: string) => void;
}

const target = (s: Session) => s.node(s.selected) ?? leaderOf(s);

export const SHORTCUTS: Shortcut[] = [
  {
    keys: '1–7',
    what: 'select node n1…n7 (again: unselect)',
    run: (s, k) => {
      const name = `n${k}`;
      s.selected = s.selected === name || !s.node(name) ? null : name;
    },
  },
  {
    keys: 'k',
    what: 'kill the selected node (or the leader); start it if it is down',
    run: (s) => {
      const n = target(s);
      if (n) killOrRestart(s, n);
    },
  },
  { keys: 'r', what: 'restart every killed node', run: (s) => restartAll(s) },
  { keys: 'w', what: 'write a key through the leader', run: (s) => demoWrite(s) },
  { keys: 'i', what: 'isolate the leader (cut all its links)', run: (s) => isolateLeader(s) },
  { keys: 's', what: 'split the cluster: the leader in the minority', run: (s) => splitCluster(s) },
  { keys: 'h', what: 'heal every link', run: (s) => healAll(s) },
  { keys: 'a', what: 'add a member (it joins and catches up)', run: (s) => addMember(s) },
  {
    keys: 't',
    what: 'transfer leadership to the selected node',
    run: (s) => {
      if (s.selected) transferTo(s, s.selected);
    },
  },
  {
    keys: 'p',
    what: 'step mode on / off (time stops; messages wait to be delivered)',
    run: (s) => {
      void s
        .send({ type: 'stepMode', on: !s.cluster?.step?.on })
        .catch((e: unknown) => s.note('warning', '', String(e instanceof Error ? e.message : e), 'major'));
    },
  },
  {
    keys: 'n',
    what: 'step mode: deliver the oldest held message',
    run: (s) => {
      const m = s.cluster?.step?.held[0];
      if (m) void s.send({ type: 'stepDeliver', id: m.id }).catch(() => {});
    },
  },
  {
    keys: '.',
    what: 'step mode: one tick of every node',
    run: (s) => {
      if (s.cluster?.step?.on) void s.send({ type: 'stepTick' }).catch(() => {});
    },
  },
  {
    keys: '+ / −',
    what: 'the whole cluster faster / slower (real time ×1 down to slow motion ×1/50)',
    run: (s, k) => {
      nudgeSpeed(s, k === '+' || k === '=' ? 1 : -1);
    },
  },
];

/** The shortcut a key press means, if any. */
export function shortcutFor(key: string): Shortcut | undefined {
  if (/^[1-7]$/.test(key)) return SHORTCUTS[0];
  if (key === '+' || key === '=' || key === '-') return SHORTCUTS.find((s) => s.keys.startsWith('+'));
  return SHORTCUTS.find((s) => s.keys === key.toLowerCase());
}
