// Requests waiting on the log (src-main/node/waiters.ts), against a stub of the Raft core.
import { describe, expect, it } from 'vitest';
import type { Raft } from '../../src-main/raft/raft.js';
import { Waiters } from '../../src-main/node/waiters.js';
import type { NodeCommand } from '../../src-main/node/state-machine.js';
import { nth } from '../helpers/checked.js';

function incarnation(proposed: string[]): Waiters {
  const raft = { log: { applied: 0 }, propose: (data: string) => proposed.push(data) } as unknown as Raft;
  return new Waiters({
    id: 'aaaa',
    raft,
    stopped: () => false,
    schedule: () => {},
    timeoutMs: () => 2000,
    readRetryMs: () => 100,
  });
}

const put =
  (value: string) =>
  (r: string): { cmd: NodeCommand } => ({ cmd: { t: 'v2', r, c: { op: 'set', path: '/k', value, now: 0 } } });

describe('request ids', () => {
  it('differ between two starts of one member: an entry the last start proposed never answers this one', async () => {
    // The first start proposed a write that was persisted but not yet applied when it died…
    const before: string[] = [];
    void incarnation(before)
      .proposeAndWait(put('old'))
      .catch(() => {});
    const old = (JSON.parse(nth(before, 0, 'a proposal logged')) as { r: string }).r;
    // …the next start proposes its own, and then applies the old entry (catching up).
    const after: string[] = [];
    const w = incarnation(after);
    let answered: unknown;
    const mine = w.proposeAndWait(put('new')).then((o) => (answered = o));
    const r = (JSON.parse(nth(after, 0, 'a proposal logged')) as { r: string }).r;
    expect(r).not.toBe(old);
    w.settle({ r: old, error: new Error('the old entry') });
    await new Promise((resolve) => setImmediate(resolve));
    expect(answered).toBeUndefined();
    w.settle({ r });
    expect(await mine).toEqual({ r });
  });
});
