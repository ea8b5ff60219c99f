// The words and commands the window shows are true: the sentences say what the events mean,
// and the curl / etcdctl lines the KV console prints really do the same against a real node
// (run through sh, with Debian's etcdctl and curl).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Supervisor } from '../../src-main/cluster/supervisor.js';
import { narrate } from '../../src-shared/narrate.js';
import { agreedLeader, type ClusterState, type NodeState } from '../../src-shared/cluster-state.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { curlFor, etcdctlFor } from '../../src-renderer/lib/kv-commands.js';
import { followsText, panelSubject } from '../../src-renderer/lib/node-panel.js';
import { atBottom, peerNamer } from '../../src-renderer/lib/log-lines.js';
import { heldWriteWords } from '../../src-renderer/lib/held-write.js';
import {
  addChapter,
  CHAPTER_MAX,
  chapterTold,
  type Chapter,
  type StoryItem,
} from '../../src-renderer/lib/guide-story.js';
import { raft as raftLog } from '../../src-main/node/log.js';
import { until } from '../helpers/cluster.js';
import { nodeState as baseNodeState } from '../helpers/node-state.js';

const names: Record<string, string> = { a1: 'n1', b2: 'n2', c3: 'n3' };
const nameOf = (id: string) => names[id] ?? id;

describe('narrate', () => {
  it('says which term an election is for, and why a vote was refused', () => {
    expect(narrate('n2', { kind: 'election-timeout', term: 4, pre: false }, nameOf)).toEqual({
      text: 'n2 timed out and started an election for term 5',
      weight: 'major',
    });
    expect(narrate('n2', { kind: 'election-timeout', term: 4, pre: true }, nameOf)?.text).toContain(
      'could win term 5 (pre-vote)',
    );
    expect(
      narrate(
        'n1',
        { kind: 'vote', candidate: 'c3', term: 5, pre: false, granted: false, reason: 'log-behind' },
        nameOf,
      )?.text,
    ).toBe("n1 refused its vote to n3 for term 5: the candidate's log is behind its own");
    expect(narrate('n3', { kind: 'role', role: 'leader', term: 5, lead: 'c3' }, nameOf)?.text).toBe(
      'n3 won the election and leads term 5',
    );
    expect(
      narrate('n1', { kind: 'conf', index: 9, change: { type: 'remove', id: 'b2' }, voters: ['a1', 'c3'] }, nameOf)
        ?.text,
    ).toBe('n1 takes in the change at 9 that removes n2: voters are now n1, n3');
    expect(narrate('n1', { kind: 'apply', index: 3 }, nameOf)).toBeUndefined();
  });
});

/** A term-3 follower unless told otherwise (ids as `<name>id`). */
const nodeState = (name: string, over: Partial<NodeState> = {}): NodeState =>
  baseNodeState(name, { id: `${name}id`, term: 3, ...over });
const clusterOf = (...nodes: NodeState[]): ClusterState => ({ dir: '', generation: 1, nodes, cuts: [] });

describe('the node panel', () => {
  it('calls a node "the leader" only when every running node follows it', () => {
    const agreed = clusterOf(
      nodeState('n1', { role: 'leader', lead: 'n1' }),
      nodeState('n2', { lead: 'n1' }),
      nodeState('n3', { lead: 'n1' }),
    );
    expect(panelSubject(agreed, null)).toMatchObject({
      node: { name: 'n1' },
      caption: '(the leader; click a node to pick another)',
    });
    expect(panelSubject(agreed, 'n2')).toMatchObject({ node: { name: 'n2' }, caption: '' });
    // The leader was killed: n1 (removed) and n2 (a follower with no leader) are not "the leader".
    const none = clusterOf(
      nodeState('n1', { status: 'removed', role: 'leader', lead: 'n1' }),
      nodeState('n2', { status: 'killed', role: 'leader' }),
      nodeState('n3'),
    );
    const s = panelSubject(none, null)!;
    expect(s.node.name).toBe('n3');
    expect(s.caption).toBe('(no leader right now; click a node to pick another)');
    expect(s.caption).not.toMatch(/the leader/);
    // Every node is down: some node is shown, still not as the leader.
    expect(
      panelSubject(clusterOf(nodeState('n1', { status: 'removed' }), nodeState('n2', { status: 'killed' })), null),
    ).toMatchObject({ node: { name: 'n2' }, caption: '(no leader right now; click a node to pick another)' });
    // A stale leader cut off from the others leads only in its own view.
    const split = clusterOf(
      nodeState('n1', { role: 'leader', lead: 'n1', term: 2 }),
      nodeState('n2', { role: 'leader', lead: 'n2', term: 3 }),
      nodeState('n3', { lead: 'n2' }),
    );
    expect(panelSubject(split, null)!.caption).toMatch(
      /^\(it leads term 2 in its own view, but not every running node follows it/,
    );
    expect(panelSubject(null, null)).toBeUndefined();
  });

  it('says whom a node follows truthfully', () => {
    expect(followsText(nodeState('n1', { role: 'leader', lead: 'n1' }))).toBe('no one: it leads');
    expect(followsText(nodeState('n2', { lead: 'n1' }))).toBe('n1');
    expect(followsText(nodeState('n2'))).toBe('no one (no leader known)');
    expect(followsText(nodeState('n2', { status: 'killed', lead: 'n1' }))).toBe('n1 (when last seen)');
    expect(followsText(nodeState('n2', { status: 'removed' }))).toBe('—');
  });
});

describe('a write in step mode', () => {
  const three = () => [
    nodeState('n1', { role: 'leader', lead: 'n1' }),
    nodeState('n2', { lead: 'n1' }),
    nodeState('n3', { lead: 'n1' }),
  ];
  const app = (id: number, to: string) => ({
    id,
    from: 'n1',
    to,
    msgType: 'MsgApp' as const,
    term: 3,
    index: 4,
    entries: 1,
    commit: 4,
  });

  it('says why nothing was sent yet, and what to do', () => {
    const c = { ...clusterOf(...three()), step: { on: true, held: [app(1, 'n2'), app(2, 'n3')] } };
    expect(heldWriteWords(c, 'n1')).toBe(
      'Nothing was sent yet: step mode is on. n1 appended the write to its own log, but its appends to n2 and n3 are held with the other messages (2 messages held). Deliver them (or "Deliver all"), then the acknowledgements; the write is answered once a majority has it.',
    );
    const viaFollower = {
      ...c,
      step: { on: true, held: [{ id: 3, from: 'n2', to: 'n1', msgType: 'MsgProp' as const, term: 3, entries: 1 }] },
    };
    expect(heldWriteWords(viaFollower, 'n2')).toMatch(
      /^Nothing was sent yet: step mode is on\. n2 is not the leader, so it forwards the write to n1 as a proposal \(MsgProp\), held with the other messages\. Deliver it/,
    );
    const leaderless = {
      ...clusterOf(nodeState('n1', { status: 'killed', role: 'leader' }), nodeState('n2'), nodeState('n3')),
      step: { on: true, held: [] },
    };
    expect(heldWriteWords(leaderless, 'n2')).toMatch(/no node leads, so n2 has no leader to hand the write to\. Tick/);
    // Real time: nothing to explain.
    expect(heldWriteWords({ ...c, step: { on: false, held: [] } }, 'n1')).toBe('');
    expect(heldWriteWords(clusterOf(...three()), 'n1')).toBe('');
  });
});

describe("a guide's story", () => {
  it('keeps every chapter with what happened in it, as the timeline goes on and forgets', () => {
    let timeline: StoryItem[] = [];
    let seq = 0;
    const say = (node: string, kind: string, text: string) => timeline.push({ seq: ++seq, node, kind, text });
    let story: Chapter[] = [];
    story = addChapter('election', story, { title: 'Freeze time', explain: 'clocks stop' }, seq, timeline);
    say('', 'action', 'You turned step mode on');
    story = addChapter('election', story, { title: 'Stop the leader, n1', explain: 'kill it' }, seq, timeline);
    say('', 'action', 'You killed n1 (like kill -9)');
    say('n2', 'election', 'n2 timed out and started an election for term 3');
    say('n2', 'key', '/x = 1'); // not part of an election's story
    expect(story.map((c) => c.n)).toEqual([1, 2]);
    expect(story[0]!.told).toEqual([]); // the user's own command is the chapter's title already
    // The open chapter reads on, live.
    expect(chapterTold('election', story[1]!, timeline)).toEqual(['n2 timed out and started an election for term 3']);
    story = addChapter('election', story, { title: "Deliver n2's vote requests", explain: '…' }, seq, timeline);
    say('n3', 'vote', 'n3 granted its vote to n2 for term 3');
    say('n2', 'role', 'n2 won the election and leads term 3');
    // The timeline forgets its oldest items: closed chapters keep what they told.
    timeline = timeline.slice(-2);
    expect(story.map((c) => chapterTold('election', c, timeline))).toEqual([
      [],
      ['n2 timed out and started an election for term 3'],
      ['n3 granted its vote to n2 for term 3', 'n2 won the election and leads term 3'],
    ]);
    expect(story.map((c) => c.title)).toEqual(['Freeze time', 'Stop the leader, n1', "Deliver n2's vote requests"]);
  });

  it('sums up a long chapter in one line', () => {
    const timeline = Array.from({ length: 30 }, (_, i) => ({
      seq: i + 1,
      node: 'n1',
      kind: 'log',
      text: `n1 appended entry ${i}`,
    }));
    const told = chapterTold('replication', { n: 1, title: 't', explain: 'e', since: 0 }, timeline);
    expect(told).toHaveLength(CHAPTER_MAX);
    expect(told.at(-1)).toBe(`… and ${30 - CHAPTER_MAX + 1} more (see the timeline)`);
  });
});

describe('the node log lines', () => {
  const members = [
    { id: '8e9e05c52164694d', name: 'n1' },
    { id: '0a1b2c3d4e5f6071', name: 'n2' },
  ];
  const name = peerNamer(members);
  const shown = (line: string) =>
    name(line)
      .map((s) => ('id' in s ? `<${s.name}|${s.id}>` : s.text))
      .join('');

  it('name members n1, n2… wherever etcd prints their ids, hex or decimal, and keep the id', () => {
    // The lines as our nodes print them (etcd's wording: ids as unpadded hex, voters in decimal).
    expect(shown(raftLog.electedLeader('0a1b2c3d4e5f6071', '8e9e05c52164694d', 2).text)).toBe(
      'raft.node: <n2|0a1b2c3d4e5f6071> elected leader <n1|8e9e05c52164694d> at term 2',
    );
    expect(
      shown(raftLog.switchedToConfiguration('8e9e05c52164694d', ['8e9e05c52164694d', '0a1b2c3d4e5f6071']).text),
    ).toBe(`<n1|8e9e05c52164694d> switched to configuration voters=(<n2|0a1b2c3d4e5f6071> <n1|8e9e05c52164694d>)`);
    // The segment keeps the id as printed (decimal here) and the member id, for the hover.
    expect(name(`voters=(${BigInt('0x8e9e05c52164694d')})`)[1]).toEqual({
      text: '10276657743932975437',
      id: '8e9e05c52164694d',
      name: 'n1',
    });
    // Not inside a longer word, and not the cluster id or other numbers.
    expect(shown('x8e9e05c52164694d 8e9e05c52164694d0 cluster cdf818194e3a8c32 term 2')).toBe(
      'x8e9e05c52164694d 8e9e05c52164694d0 cluster cdf818194e3a8c32 term 2',
    );
    expect(peerNamer([])('anything')).toEqual([{ text: 'anything' }]);
  });

  it('follow the newest line only while the view is at the bottom', () => {
    expect(atBottom({ scrollTop: 600, clientHeight: 400, scrollHeight: 1000 })).toBe(true);
    expect(atBottom({ scrollTop: 595, clientHeight: 400, scrollHeight: 1000 })).toBe(true);
    expect(atBottom({ scrollTop: 300, clientHeight: 400, scrollHeight: 1000 })).toBe(false);
  });
});

const ETCDCTL = '/usr/bin/etcdctl';
const tools = fs.existsSync(ETCDCTL) && fs.existsSync('/usr/bin/curl');
if (!tools) {
  if (process.env.CI) throw new Error(`${ETCDCTL} or curl is missing: .ci/run must install etcd-client and curl`);
  console.warn("SKIPPED: the KV console's commands need Debian's etcd-client and curl");
}

function sh(line: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', line], { timeout: 15_000 }, (err, stdout) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout });
    });
  });
}

describe.skipIf(!tools)("the KV console's curl and etcdctl lines", () => {
  let sup: Supervisor;
  let url = '';
  beforeAll(async () => {
    sup = new Supervisor({ heartbeatMs: 50, electionMs: 500 });
    let state: ClusterState | undefined;
    sup.on('events', (b: ServerEvent[]) => {
      for (const e of b) if (e.type === 'cluster') state = e.cluster;
    });
    await sup.start(1);
    url = (await until('a leader', () => state && agreedLeader(state)?.clientURL))!;
    // etcdctl syncs its endpoints from /v2/members first: wait until the node has published
    // its client URL there (etcd behaves the same right after a start).
    await until('the member published', async () => {
      const r = (await (await fetch(`${url}/v2/members`)).json()) as { members: { clientURLs: string[] }[] };
      return (r.members[0]?.clientURLs.length ?? 0) > 0;
    });
  });
  afterAll(() => sup.stop());

  it('do what the console does, even with quotes and spaces in the value', async () => {
    const value = 'it\'s a "value" & more';
    expect(await sh(etcdctlFor('put', url, '/console/a b', value))).toEqual({ code: 0, out: `${value}\n` });
    expect(await sh(etcdctlFor('get', url, '/console/a b', ''))).toEqual({ code: 0, out: `${value}\n` });
    const viaCurl = await sh(curlFor('get', url, '/console/a%20b', ''));
    expect(JSON.parse(viaCurl.out).node.value).toBe(value);
    const put = await sh(curlFor('put', url, '/console/c', 'x=1&y'));
    expect(JSON.parse(put.out).node.value).toBe('x=1&y');
    expect((await sh(etcdctlFor('delete', url, '/console/c', ''))).code).toBe(0);
    expect((await sh(etcdctlFor('get', url, '/console/c', ''))).code).toBe(4); // etcdctl: key not found
  });
});

describe('what the supervisor reports when a node ends', () => {
  it('a kill, a restart or a new cluster is not "exited unexpectedly"; a worker that dies on its own is', async () => {
    const sup = new Supervisor({ heartbeatMs: 50, electionMs: 500 });
    const errors: string[] = [];
    let state: ClusterState | undefined;
    let batches = 0;
    sup.on('events', (b: ServerEvent[]) => {
      batches++;
      for (const e of b) {
        if (e.type === 'error') errors.push(e.message);
        if (e.type === 'cluster') state = e.cluster;
      }
    });
    try {
      await sup.start(3);
      await until('a leader', () => state && agreedLeader(state));
      // A new cluster ends every worker of the old one (gracefully, as SIGTERM would).
      await sup.execute({ type: 'startCluster', size: 3 });
      const gen = state!.generation;
      await until('a leader of the new cluster', () => state && state.generation === gen && agreedLeader(state));
      await sup.execute({ type: 'killNode', name: 'n1' });
      await sup.execute({ type: 'restartNode', name: 'n1' });
      await until('n1 back', () => state?.nodes.find((n) => n.name === 'n1')?.status === 'alive');
      // Everything above was asked for: nothing to report.
      const seen = batches;
      await until('what followed flushed', () => batches > seen + 2);
      expect(errors.filter((m) => m.includes('unexpectedly'))).toEqual([]);

      // A worker that goes away without being asked (test-only reach into the supervisor: the
      // worker is told to drop its sockets, as a kill does, then ends behind the supervisor's back).
      const rec = (
        sup as unknown as { cluster: { nodes: Map<string, { worker?: import('node:worker_threads').Worker }> } }
      ).cluster.nodes.get('n2')!;
      const w = rec.worker!;
      const down = new Promise<void>((r) => w.on('message', (m: { t: string }) => m.t === 'killed' && r()));
      w.postMessage({ t: 'kill' });
      await down;
      await w.terminate();
      await until('the crash reported', () => errors.includes('n2 exited unexpectedly'));
      expect(state?.nodes.find((n) => n.name === 'n2')?.status).toBe('killed');
    } finally {
      await sup.stop();
    }
  }, 60_000);
});
