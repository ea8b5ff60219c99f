// The window's words for a cluster bootstrapped by discovery or DNS (bootstrap-view.ts), and the
// guide "three ways to start a cluster" (guide.ts) read off the cluster as it goes, on the
// Session model fed as a replay feeds it (no timing involved).

import { describe, expect, it } from 'vitest';
import type { BootstrapView, ClusterState, NodeState } from '../../src-shared/cluster-state.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { bootstrapSummary, directorySlots, lookCommand, memberPhase } from '../../src-renderer/lib/bootstrap-view.js';
import { freshMemory, nextBootstrapStep, type GuideMemory } from '../../src-renderer/lib/guide.js';
import { isBootstrapLine } from '../../src-renderer/lib/session.svelte.js';
import { replaySession } from '../helpers/replay-session.js';
import { nodeState } from '../helpers/node-state.js';

const URL_ = 'http://127.0.0.1:40000/v2/keys/discovery/raftlab-2-abcd';
const ID: Record<string, string> = { n1: 'aaaaaaaaaaaaaaa1', n2: 'aaaaaaaaaaaaaaa2', n3: 'aaaaaaaaaaaaaaa3' };
const PORT: Record<string, number> = { n1: 41001, n2: 41002, n3: 41003 };

function node(name: string, status: NodeState['status'], role: NodeState['role'] = 'follower'): NodeState {
  return nodeState(name, {
    id: ID[name]!,
    status,
    role,
    term: status === 'alive' ? 2 : 0,
    lead: status === 'alive' ? 'n1' : '',
    peerURL: `http://127.0.0.1:${PORT[name]}`,
  });
}

function discovery(registered: string[]): BootstrapView {
  return {
    method: 'discovery',
    flags: `--discovery ${URL_}`,
    url: URL_,
    service: 'a raftlab node the app started for it, at http://127.0.0.1:40000',
    size: 3,
    registrations: registered.map((n, i) => ({
      id: ID[n]!,
      value: `${n}=http://127.0.0.1:${PORT[n]}`,
      createdIndex: 10 + i,
    })),
    extras: [],
  };
}

const dns: BootstrapView = {
  method: 'dns',
  flags: '--discovery-srv raftlab.test',
  domain: 'raftlab.test',
  dnsServer: '127.0.0.1:5353',
  records: ['n1', 'n2', 'n3'].map((n) => ({
    service: '_etcd-server._tcp.raftlab.test',
    target: '127.0.0.1',
    port: PORT[n]!,
  })),
  extras: [],
};

describe('the discovery directory in words', () => {
  it('fills its slots in registration order; the waiting members say for how many', () => {
    const nodes = [node('n1', 'starting'), node('n2', 'starting'), node('n3', 'unstarted')];
    const b = discovery(['n1', 'n2']);
    expect(directorySlots(b)).toEqual({
      slots: [
        { n: 1, registration: b.registrations![0], member: 'n1' },
        { n: 2, registration: b.registrations![1], member: 'n2' },
        { n: 3 },
      ],
      beyond: [],
    });
    expect(nodes.map((n) => memberPhase(b, n))).toEqual(['waiting for 1 more', 'waiting for 1 more', 'not started']);
    expect(bootstrapSummary(b, nodes)).toBe('2 of 3 registered: n1 and n2 wait for 1 more');
    expect(bootstrapSummary(discovery([]), [])).toBe('The directory is empty: it waits for 3 members to register');
    expect(memberPhase(discovery(['n1']), node('n2', 'starting'))).toBe('asking the directory');
    const formed = [node('n1', 'alive', 'leader'), node('n2', 'alive'), node('n3', 'alive')];
    expect(bootstrapSummary(discovery(['n1', 'n2', 'n3']), formed)).toBe(
      '3 of 3 registered: the cluster formed from them, in registration order',
    );
    expect(lookCommand(b)).toBe(`curl -s '${URL_}?recursive=true'`);
  });

  it('DNS: one record per member; each finds itself', () => {
    expect(bootstrapSummary(dns, [node('n1', 'alive'), node('n2', 'starting'), node('n3', 'starting')])).toBe(
      '3 SRV records: 1 of 3 members found themselves so far',
    );
    expect(memberPhase(dns, node('n2', 'starting'))).toBe('looking up the records');
    expect(bootstrapSummary(dns, [node('n1', 'alive'), node('n2', 'alive'), node('n3', 'alive')])).toBe(
      '3 SRV records: every member found itself among them and the cluster formed',
    );
    expect(lookCommand(dns)).toBe('dig @127.0.0.1 -p 5353 +short SRV _etcd-server._tcp.raftlab.test');
  });

  it("etcd's bootstrap lines are told in the timeline; the status line says how far the directory got", () => {
    expect(isBootstrapLine('discovery', 'found 1 peer(s), waiting for 2 more')).toBe(true);
    expect(isBootstrapLine('embed', 'got bootstrap from DNS for etcd-server at n1=http://127.0.0.1:1')).toBe(true);
    expect(isBootstrapLine('etcdmain', 'discovery cluster full, falling back to proxy')).toBe(true);
    expect(isBootstrapLine('raft', 'became leader at term 2')).toBe(false);
    const { session, feed } = replaySession();
    feed([cluster([node('n1', 'starting'), node('n2', 'starting'), node('n3', 'unstarted')], discovery(['n1', 'n2']))]);
    expect(session.status).toBe('2 of 3 registered: n1 and n2 wait for 1 more');
    feed([
      {
        type: 'log',
        node: 'n2',
        at: 0,
        level: 'N',
        pkg: 'discovery',
        msg: 'found 2 peer(s), waiting for 1 more',
        line: '',
      },
    ]);
    expect(session.timeline.at(-1)).toMatchObject({
      kind: 'membership',
      node: 'n2',
      text: 'n2: found 2 peer(s), waiting for 1 more',
    });
  });
});

describe('the guide: three ways to start a cluster', () => {
  it('static, then discovery one member at a time, one too many, then DNS; a DNS server missing is said plainly', () => {
    const { session, feed } = replaySession();
    let memory: GuideMemory = freshMemory();
    const step = () => nextBootstrapStep(session, memory);
    feed([cluster([node('n1', 'alive', 'leader'), node('n2', 'alive'), node('n3', 'alive')])]);
    expect(step()).toMatchObject({
      title: 'Static: every member is told the whole cluster',
      commands: [{ type: 'startCluster', size: 3 }],
    });
    memory = { ...memory, way: 'static' };
    expect(step()).toMatchObject({
      title: 'etcd discovery: the members find each other through a directory',
      commands: [{ type: 'startCluster', size: 3, bootstrap: 'discovery', oneByOne: true }],
    });
    memory = { ...memory, way: 'discovery' };
    feed([cluster([node('n1', 'unstarted'), node('n2', 'unstarted'), node('n3', 'unstarted')], discovery([]))]);
    expect(step()).toMatchObject({
      title: 'Start n1',
      commands: [{ type: 'restartNode', name: 'n1' }],
      background: true,
    });
    feed([cluster([node('n1', 'starting'), node('n2', 'starting'), node('n3', 'unstarted')], discovery(['n1', 'n2']))]);
    const last = step();
    expect(last).toMatchObject({ title: 'Start n3', commands: [{ type: 'restartNode', name: 'n3' }] });
    expect(last.explain).toContain('2 of 3 registered: n1 and n2 wait for 1 more. n3 completes the size');
    feed([
      cluster([node('n1', 'alive', 'leader'), node('n2', 'alive'), node('n3', 'alive')], discovery(['n1', 'n2', 'n3'])),
    ]);
    expect(step()).toMatchObject({
      title: 'One more member, too late',
      commands: [{ type: 'bootstrapExtra', fallback: 'proxy' }],
    });
    memory = { ...memory, extra: true };
    expect(step()).toMatchObject({
      title: 'DNS SRV: the records name the members',
      commands: [{ type: 'startCluster', size: 3, bootstrap: 'dns' }],
    });
    memory = { ...memory, way: 'dns' };
    expect(step().title).toBe('Setting up the records…');
    feed([cluster([node('n1', 'alive', 'leader'), node('n2', 'alive'), node('n3', 'alive')], dns)]);
    expect(step()).toMatchObject({ title: 'Three ways, one cluster each' });
    expect(step().commands).toBeUndefined();
    memory = { ...memory, failed: 'DNS SRV discovery needs a DNS server … dnsmasq … is not installed' };
    expect(step()).toMatchObject({ title: 'DNS SRV is not available here' });
    expect(step().explain).toContain('is not installed. The other two ways work without it.');
  });
});

function cluster(nodes: NodeState[], bootstrap?: BootstrapView): ServerEvent {
  const c: ClusterState = { dir: '/tmp/x', generation: 1, nodes, cuts: [], ...(bootstrap ? { bootstrap } : {}) };
  return { type: 'cluster', cluster: c };
}
