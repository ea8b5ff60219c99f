// Fork from the past, on real nodes: checkpoints are consistent cuts of every node's SQLite
// data; "resume from here" restores them, restarts the cluster and goes on as a new branch.
// Everything is checked the way a user would: each node's own v2 API, and the recorded trace.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WindowCore } from '../../src-main/app/window-core.js';
import { Checkpoints, type CutHost } from '../../src-main/cluster/checkpoints.js';
import { Supervisor } from '../../src-main/cluster/supervisor.js';
import { readTraceChunk } from '../../src-main/trace/trace-chunk.js';
import { readTraceFile } from '../../src-main/trace/trace-reader.js';
import { startWebServer } from '../../src-main/web/web-server.js';
import type { ClusterState, NodeState } from '../../src-shared/cluster-state.js';
import type { BranchesResult, ForkInfo } from '../../src-shared/command-results.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { TraceIndex } from '../../src-shared/replay.js';
import { readTraceText } from '../../src-shared/trace.js';
import { defined, nth } from '../helpers/checked.js';
import { lastState, nodeIn, recordEvents, untilAgreedLeader } from '../helpers/app-events.js';
import { TestCluster, until } from '../helpers/cluster.js';
import { dumpCluster } from '../helpers/cluster-dump.js';

let dir: string;
let sup: Supervisor;
let core: WindowCore;
let events: ServerEvent[];
let states: ClusterState[];
const state = () => lastState(states);
const node = (name: string): NodeState => nodeIn(states, name);
const leaderName = async (timeoutMs?: number) => (await untilAgreedLeader(states, timeoutMs)).name;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-fork-'));
  sup = new Supervisor({ dir: path.join(dir, 'session'), heartbeatMs: 50, electionMs: 500 });
  core = new WindowCore(sup, { exportDir: dir });
  ({ events, states } = recordEvents(core));
  await core.record(path.join(dir, 'session.trace.jsonl'));
});

afterEach(async (ctx) => {
  // A rare failure in CI must explain itself: the cluster and its last log lines (before it stops).
  if (ctx.task.result?.errors?.length)
    console.log(await core.readTrace(0, 1).then(() => dumpCluster(sup, path.join(dir, 'session.trace.jsonl'))));
  await core.stop();
  await sup.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A key as one node itself holds it (a local read, not through the leader). */
async function localGet(name: string, key: string): Promise<string | null> {
  const res = await fetch(new URL(`/v2/keys${key}`, node(name).clientURL), { signal: AbortSignal.timeout(3000) });
  if (res.status === 404) return null;
  const body = (await res.json()) as { node: { value: string } };
  return body.node.value;
}

async function put(via: string, key: string, value: string): Promise<void> {
  const r = await sup.execute({ type: 'kv', name: via, method: 'PUT', key, value });
  expect(r).toMatchObject({ status: expect.any(Number) });
  expect((r as { status: number }).status).toBeLessThan(300);
}

/** Every node of `names` holds `key` as `value` (null: absent), read from its own API. */
async function everyNodeHas(names: string[], key: string, value: string | null): Promise<void> {
  await until(
    `${key}=${value} on ${names.join(', ')}`,
    async () => {
      for (const n of names) if ((await localGet(n, key).catch(() => 'unreachable')) !== value) return false;
      return true;
    },
    15_000,
  );
}

describe('fork from a checkpoint', () => {
  it('restores every node from before a kill: later writes gone everywhere, the killed node alive, a new write commits, two branches, the trace replays both', async () => {
    await sup.start(3);
    const leader = await leaderName();
    const all = ['n1', 'n2', 'n3'];
    for (const k of ['/a', '/b', '/c']) await put(leader, k, `v${k.slice(1)}`);
    await everyNodeHas(all, '/c', 'vc');

    // A checkpoint whose moment we know, then more writes and a kill.
    const cp = await sup.checkpoint('test');
    expect(cp).toBeDefined();
    expect(cp!.nodes.map((n) => [n.spec.name, n.spec.status, n.db !== undefined])).toEqual([
      ['n1', 'alive', true],
      ['n2', 'alive', true],
      ['n3', 'alive', true],
    ]);
    // The freeze is short: the cluster does not stall for it.
    expect(cp!.freezeMs).toBeLessThan(500);
    const victim = all.find((n) => n !== leader)!;
    await put(leader, '/later', 'gone');
    await everyNodeHas(all, '/later', 'gone');
    await sup.execute({ type: 'killNode', name: victim });
    await until('the kill is seen', () => node(victim).status === 'killed');
    await put(leader, '/after-kill', 'gone too');

    // Resume from the checkpoint's moment (one ms later: the last checkpoint at or before it).
    const fork = (await sup.execute({ type: 'resumeFrom', at: cp!.at + 1 })) as ForkInfo;
    expect(fork).toMatchObject({ branch: 2, parent: 1, left: 1, from: cp!.at, asked: cp!.at + 1 });
    await until('every node alive again', () => all.every((n) => node(n).status === 'alive'), 15_000);
    expect(node(victim).status).toBe('alive');
    await leaderName(15_000);

    // The writes after the checkpoint are gone on every node; those before are there.
    await everyNodeHas(all, '/c', 'vc');
    for (const n of all) {
      expect(await localGet(n, '/later')).toBeNull();
      expect(await localGet(n, '/after-kill')).toBeNull();
      expect(await localGet(n, '/a')).toBe('va');
    }
    // Same members, same ids, same ports: the cluster simply goes on.
    const after = state();
    expect(after.nodes.map((n) => [n.name, n.id])).toEqual(cp!.nodes.map((n) => [n.spec.name, n.spec.id]));

    // A new write commits on the new branch, on every node.
    const l2 = await leaderName();
    await put(l2, '/branch2', 'yes');
    await everyNodeHas(all, '/branch2', 'yes');

    // The branch list: branch 1 ended when we left it, branch 2 runs from the checkpoint.
    const br = (await sup.execute({ type: 'branches' })) as BranchesResult;
    expect(br.current).toBe(2);
    expect(br.branches).toHaveLength(2);
    expect(br.branches[0]).toMatchObject({ id: 1, parent: 0, endAt: fork.leftAt });
    expect(br.branches[1]).toMatchObject({ id: 2, parent: 1, from: cp!.at });
    expect(br.branches[1]!.endAt).toBeUndefined(); // two, just checked
    expect(br.checkpoints.some((c) => c.branch === 1 && c.at === fork.leftAt)).toBe(true);
    expect(br.checkpoints.some((c) => c.branch === 2)).toBe(true);

    // The window was told, and the trace shows the fork: it replays both branches.
    expect(events.some((e) => e.type === 'fork' && e.fork.branch === 2)).toBe(true);
    await until('the branch-2 write is in the trace', () =>
      events.some(
        (e) => e.type === 'cluster' && e.cluster.nodes.every((n) => n.log.some((x) => x.data === 'set /branch2=yes')),
      ),
    );
    // The window's own question for the branch list is answered, and kept out of the trace.
    await core.handle({ id: 'q1', cmd: { type: 'branches' } });
    await until('the answer', () => events.some((e) => e.type === 'ack' && e.id === 'q1'));
    const { path: exported } = await core.exportTrace('jsonl');
    const trace = await readTraceFile(exported);
    expect(trace.records.some((r) => (r.kind === 'action' || r.kind === 'result') && r.id === 'q1')).toBe(false);
    expect(trace.records.some((r) => r.kind === 'action' && r.cmd.type === 'resumeFrom')).toBe(false); // given to the supervisor directly here
    const forks = trace.records.filter((r) => r.kind === 'fork');
    expect(forks).toHaveLength(1);
    const index = new TraceIndex(trace.records);
    const branches = index.branches();
    expect(branches.map((b) => [b.id, b.parent])).toEqual([
      [1, 0],
      [2, 1],
    ]);
    // On branch 1, just before the fork: the victim killed, /later in the log.
    const end1 = index.stateAt({ at: fork.leftAt }).cluster!;
    expect(end1.nodes.find((n) => n.name === victim)!.status).toBe('killed');
    expect(end1.nodes.find((n) => n.name === leader)!.log.some((e) => e.data === 'set /later=gone')).toBe(true);
    // On branch 2, at its end: everyone alive, /branch2 written, /later nowhere.
    const end2 = index.stateAt({ seq: index.lastSeq }).cluster!;
    expect(end2.nodes.every((n) => n.status === 'alive')).toBe(true);
    expect(end2.nodes.every((n) => n.log.some((e) => e.data === 'set /branch2=yes'))).toBe(true);
    expect(end2.nodes.some((n) => n.log.some((e) => e.data === 'set /later=gone'))).toBe(false);
    // Seeking across the fork tells the story: the fork record is among what came before.
    const story = index.story(index.lastSeq);
    expect(story.some((r) => r.kind === 'fork')).toBe(true);

    // In Perfetto the fork is an instant on the user's thread.
    const chrome = JSON.parse(fs.readFileSync((await core.exportTrace('chrome')).path, 'utf8')) as {
      traceEvents: { name: string; cat?: string }[];
    };
    expect(chrome.traceEvents.filter((e) => e.cat === 'fork').map((e) => e.name)).toEqual([
      'branch 2: resumed from branch 1',
    ]);

    // The window's incremental read of the live trace gives the same records, piece by piece.
    const parts: string[] = [];
    for (let from = 0; ;) {
      const c = await core.readTrace(from, 64 * 1024);
      parts.push(c.text);
      if (c.next === from) break;
      from = c.next;
    }
    const again = readTraceText(parts.join(''));
    expect(again.records.length).toBeGreaterThanOrEqual(trace.records.length);
    expect(again.records.slice(0, trace.records.length)).toEqual(trace.records);
  }, 90_000);

  it('a cut is consistent: every node restored from it agrees with the others, and a fork of a fork works', async () => {
    await sup.start(3);
    const leader = await leaderName();
    // Writes going on while checkpoints are cut: whatever moment is caught, the restored
    // cluster must come up (a node holding a commit its quorum never saw would refuse to).
    let writing = true;
    let n = 0;
    const writer = (async () => {
      while (writing) await put(leader, `/k${++n}`, String(n)).catch(() => {});
    })();
    const cps = [];
    for (let i = 0; i < 5; i++) {
      await until('some writes', () => n >= 5 * (i + 1));
      cps.push((await sup.checkpoint(`during writes ${i}`))!);
    }
    writing = false;
    await writer;
    const pick = nth(cps, 2, 'a third checkpoint');
    await sup.execute({ type: 'resumeFrom', at: pick.at });
    await until('every node alive again', () => ['n1', 'n2', 'n3'].every((x) => node(x).status === 'alive'), 15_000);
    const l2 = await leaderName(15_000);
    await put(l2, '/after', 'x');
    await everyNodeHas(['n1', 'n2', 'n3'], '/after', 'x');
    // Every node applied the same keys: the cut held a prefix of the history on every node.
    const keys = async (x: string) => {
      const res = await fetch(new URL('/v2/keys/?recursive=true&sorted=true', node(x).clientURL));
      return JSON.stringify(
        ((await res.json()) as { node: { nodes?: { key: string; value: string }[] } }).node.nodes?.map((k) => [
          k.key,
          k.value,
        ]),
      );
    };
    const seen = await Promise.all(['n1', 'n2', 'n3'].map(keys));
    expect(new Set(seen).size).toBe(1);

    // Back to the end of branch 1 (its last checkpoint): a third branch, from branch 1 again.
    const br = (await sup.execute({ type: 'branches' })) as BranchesResult;
    const end1 = defined(nth(br.branches, 0, 'branch 1').endAt, 'the end of branch 1');
    const f3 = (await sup.execute({ type: 'resumeFrom', at: end1 })) as ForkInfo;
    expect(f3).toMatchObject({ branch: 3, parent: 1, left: 2, from: end1 });
    await until('every node alive again', () => ['n1', 'n2', 'n3'].every((x) => node(x).status === 'alive'), 15_000);
    await everyNodeHas(['n1', 'n2', 'n3'], `/k${n}`, String(n));
    for (const x of ['n1', 'n2', 'n3']) expect(await localGet(x, '/after')).toBeNull();
    const tree = ((await sup.execute({ type: 'branches' })) as BranchesResult).branches;
    expect(tree.map((b) => [b.id, b.parent, b.endAt !== undefined])).toEqual([
      [1, 0, true],
      [2, 1, true],
      [3, 1, false],
    ]);
  }, 90_000);

  it('restores the members as they were: a member added later is gone, its data dir too; one removed then is removed again', async () => {
    await sup.start(3);
    await leaderName();
    const cp = (await sup.checkpoint('three members'))!;
    // etcd's strict reconfiguration check refuses a change until every member has seen its peers.
    const peersActive = () =>
      until(
        'every peer active',
        () =>
          state()
            .nodes.filter((n) => n.status === 'alive')
            .every((n) => n.peers.length > 0 && n.peers.every((p) => p.active)),
        15_000,
      );
    await peersActive();
    await sup.execute({ type: 'addMember' });
    await until(
      'n4 alive',
      () => states.length > 0 && state().nodes.some((n) => n.name === 'n4' && n.status === 'alive'),
      20_000,
    );
    const n4dir = node('n4').dataDir;
    expect(fs.existsSync(n4dir)).toBe(true);
    await sup.execute({ type: 'resumeFrom', at: cp.at });
    await until(
      'three alive',
      () => state().nodes.length === 3 && state().nodes.every((n) => n.status === 'alive'),
      20_000,
    );
    expect(fs.existsSync(n4dir)).toBe(false);
    const leader = await leaderName(15_000);
    const members = (await (await fetch(new URL('/v2/members', node(leader).clientURL))).json()) as {
      members: { name: string }[];
    };
    expect(members.members.map((m) => m.name).sort()).toEqual(['n1', 'n2', 'n3']);

    // Removed before a checkpoint: still removed (not restarted) when resumed from it.
    await peersActive();
    await sup.execute({ type: 'removeMember', name: 'n3' });
    await until('n3 removed', () => node('n3').status === 'removed');
    // (No cut is taken while its worker is still going down: asked until one is.)
    const cp2 = await until(
      'a checkpoint with n3 removed',
      async () => {
        const c = await sup.checkpoint('n3 removed');
        return c && c.nodes.find((n) => n.spec.name === 'n3')!.spec.status === 'removed' ? c : undefined;
      },
      15_000,
    );
    // (The leader may have been n3 itself: the write goes to whoever leads the two now.)
    const l2 = await until(
      'a leader of n1, n2',
      () => ['n1', 'n2'].find((x) => node(x).role === 'leader' && node(x).status === 'alive'),
      15_000,
    );
    await put(l2, '/after-remove', 'x');
    await sup.execute({ type: 'resumeFrom', at: cp2.at });
    await until(
      'n1, n2 alive, n3 removed',
      () => node('n1').status === 'alive' && node('n2').status === 'alive' && node('n3').status === 'removed',
      20_000,
    );
    const l3 = await until(
      'a leader of two',
      () => {
        const l = state().nodes.find((n) => n.status === 'alive' && n.role === 'leader');
        return l &&
          state()
            .nodes.filter((n) => n.status === 'alive')
            .every((n) => n.lead === l.name)
          ? l.name
          : undefined;
      },
      15_000,
    );
    await put(l3, '/two', 'ok');
    await everyNodeHas(['n1', 'n2'], '/two', 'ok');
    for (const x of ['n1', 'n2']) expect(await localGet(x, '/after-remove')).toBeNull();
  }, 90_000);

  it('keeps checkpoints bounded, thinned to a spread, the branch ends kept', async () => {
    await sup.stop();
    sup = new Supervisor({
      dir: path.join(dir, 'session2'),
      heartbeatMs: 50,
      electionMs: 500,
      checkpoints: { maxCount: 6 },
    });
    await sup.start(3);
    const leader = await until(
      'a leader',
      () => sup.snapshot().nodes.find((x) => x.role === 'leader' && x.status === 'alive')?.name,
    );
    for (let i = 0; i < 20; i++)
      await sup.execute({ type: 'kv', name: leader, method: 'PUT', key: `/t${i}`, value: 'x' });
    const cps = sup.checkpoints!.all;
    expect(cps.filter((c) => !c.pinned).length).toBeLessThanOrEqual(6);
    // The newest is always kept; the files of those thinned are gone from disk.
    await Promise.all(cps.map((c) => c.written));
    await until('thinned files removed', () => {
      const onDisk = fs
        .readdirSync(path.join(sup.dir, 'checkpoints'))
        .flatMap((d) => fs.readdirSync(path.join(sup.dir, 'checkpoints', d)));
      return (
        onDisk.length ===
        cps.reduce((a, c) => a + c.nodes.flatMap((x) => [x.db, x.wal, x.marker].filter(Boolean)).length, 0)
      );
    });
  }, 60_000);

  it('resumes from a checkpoint that the cut ending the branch would thin away (its files are kept)', async () => {
    await sup.stop();
    // One unpinned checkpoint besides the first: the end-of-branch cut thins the one being restored.
    sup = new Supervisor({
      dir: path.join(dir, 'session3'),
      heartbeatMs: 50,
      electionMs: 500,
      checkpoints: { maxCount: 1 },
    });
    await sup.start(1);
    const only = await until(
      'a leader',
      () => sup.snapshot().nodes.find((x) => x.role === 'leader' && x.status === 'alive')?.name,
    );
    await sup.execute({ type: 'kv', name: only, method: 'PUT', key: '/kept', value: 'yes' });
    const cp = await sup.checkpoint('restore me');
    expect(cp).toBeDefined();
    expect(sup.checkpoints!.nearest(cp!.at + 1)).toBe(cp);
    await sup.execute({ type: 'resumeFrom', at: cp!.at + 1 });
    const n1 = () => sup.snapshot().nodes.find((x) => x.name === only)!;
    await until('the node serves again', () => n1().status === 'alive');
    const get = (key: string) =>
      fetch(new URL(`/v2/keys${key}`, n1().clientURL), { signal: AbortSignal.timeout(3000) }).then((r) => r.status);
    await until('/kept restored', async () => (await get('/kept').catch(() => 0)) === 200, 15_000);
    // Its files are still there for the next resume: the new branch begins from them.
    await sup.execute({ type: 'resumeFrom', at: cp!.at + 1 });
    await until('/kept restored again', async () => (await get('/kept').catch(() => 0)) === 200, 15_000);
  }, 60_000);
});

describe('the trace chunk reader', () => {
  it('serves the live trace to the page in pieces, behind the token (browser mode)', async () => {
    await sup.start(1);
    await untilAgreedLeader(states);
    // No page is served here: only the trace endpoint is asked.
    const staticDir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-static-'));
    const web = await startWebServer({ core, staticDir });
    try {
      const base = new URL(web.url);
      const get = (q: string) => fetch(new URL(`/trace?${q}`, base));
      expect((await get('from=0&max=1024&token=wrong')).status).toBe(403);
      const first = await get(`from=0&max=1024&token=${web.token}`);
      expect(first.status).toBe(200);
      const text = await first.text();
      const next = Number(first.headers.get('X-Trace-Next'));
      expect(text.startsWith('{"format":"raftlab-trace","version":3')).toBe(true);
      expect(text.endsWith('\n')).toBe(true);
      expect(next).toBe(Buffer.byteLength(text));
      expect(Number(first.headers.get('X-Trace-Size'))).toBeGreaterThanOrEqual(next);
      // From there on: the next whole lines, none repeated.
      const more = await get(`from=${next}&max=1024&token=${web.token}`);
      const rest = await more.text();
      expect(rest.startsWith('{"seq":')).toBe(true);
      expect((await get(`from=-5&token=${web.token}`)).status).toBe(400);
    } finally {
      await web.close();
      fs.rmSync(staticDir, { recursive: true, force: true });
    }
  });

  it('answers whole lines only, and what came since', async () => {
    const file = path.join(dir, 't.jsonl');
    fs.writeFileSync(file, '{"a":1}\n{"b":"é"}\n{"c":');
    const c1 = await readTraceChunk(file, 0, 1024);
    expect(c1.text).toBe('{"a":1}\n{"b":"é"}\n');
    expect(c1.next).toBe(Buffer.byteLength(c1.text));
    fs.appendFileSync(file, '3}\n');
    const c2 = await readTraceChunk(file, c1.next, 1024);
    expect(c2).toEqual({ text: '{"c":3}\n', next: c1.next + 8, size: c1.next + 8 });
    expect((await readTraceChunk(file, c2.next, 1024)).text).toBe('');
    await expect(readTraceChunk(file, -1, 10)).rejects.toThrow('from must be a byte offset');
  });
});

describe('a frozen node', () => {
  it('persists nothing and sends nothing until thawed; its copy is its database as it was', async () => {
    const c = await TestCluster.create(3);
    try {
      const leader = await c.leader();
      const node = c.running.get(leader)!.node;
      const before = node.status().lastIndex;
      const copy = node.freezeAndCheckpoint();
      // An SQLite file, as the node had it.
      expect(copy.subarray(0, 16).toString('latin1')).toBe('SQLite format 3\u0000');
      // A write to the frozen leader: proposed in memory, but not persisted, sent or committed.
      const put = fetch(new URL('/v2/keys/frozen', c.url(leader)), {
        method: 'PUT',
        body: new URLSearchParams({ value: 'x' }),
      });
      await new Promise((r) => setTimeout(r, 300)); // the absence of progress is what is asserted: give it time to happen
      expect(node.status().commit).toBeLessThanOrEqual(before);
      for (const [name, r] of c.running)
        if (name !== leader) expect(r.node.status().lastIndex).toBeLessThanOrEqual(before);
      node.thaw();
      expect((await put).status).toBe(201);
      await until('replicated', () => [...c.running.values()].every((r) => r.node.status().commit > before));
    } finally {
      await c.destroy();
    }
  }, 30_000);
});

describe('thinning', () => {
  it('keeps a geometric spread: dense near now, sparse long ago, the first and the newest kept', async () => {
    // One still node with no data yet: cuts without workers, one a second of (fake) time.
    const spec = {
      name: 'n1',
      id: 'a',
      status: 'unstarted' as const,
      peerURL: '',
      clientURL: '',
      dataDir: path.join(dir, 'none'),
      settings: {} as never,
      clock: { offsetMs: 0, rate: 1 },
    };
    const host: CutHost = {
      nodes: () => [{ spec, running: false, moving: false }],
      cuts: () => [],
      generation: () => 1,
      freeze: () => Promise.reject(new Error('no running node')),
      thaw: () => Promise.resolve(),
    };
    const cps = new Checkpoints(path.join(dir, 'cps'), { maxCount: 10 });
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      for (let i = 0; i < 200; i++) {
        vi.setSystemTime(1_000_000 + i * 1000);
        await cps.take(host, `t${i}`);
      }
    } finally {
      vi.useRealTimers();
    }
    const ages = cps.all.map((c) => 1_000_000 + 199_000 - c.at);
    expect(ages).toHaveLength(10);
    expect(ages[0]).toBe(199_000);
    expect(ages.at(-1)).toBe(0);
    // Going back in time, the gaps between kept checkpoints never shrink, and they grow.
    const gaps = ages
      .slice(1)
      .map((a, i) => ages[i]! - a)
      .reverse(); // ages[i] precedes a
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThanOrEqual(gaps[i - 1]!);
    expect(nth(gaps, -1) / nth(gaps, 0)).toBeGreaterThanOrEqual(32);
    // A pinned one (a branch's end) is never thinned.
    cps.pinLast();
    const pinned = cps.all.at(-1)!.at;
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      for (let i = 200; i < 260; i++) {
        vi.setSystemTime(1_000_000 + i * 1000);
        await cps.take(host, `t${i}`);
      }
    } finally {
      vi.useRealTimers();
    }
    expect(cps.all.some((c) => c.at === pinned && c.pinned)).toBe(true);
    expect(cps.all.filter((c) => !c.pinned)).toHaveLength(10);
  });
});
