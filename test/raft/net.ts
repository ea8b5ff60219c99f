// A hand-driven network for unit tests of the Raft core (like etcd-io/raft's `network`):
// messages are delivered breadth-first until none are left, except those a filter drops.
import type { Entry, Message, NodeId, RaftEvent, ReadState } from '../../src-shared/raft-types.js';
import { bootstrapState, Raft, type RaftBootState, type RaftConfig } from '../../src-main/raft/raft.js';
import { MemoryStorage } from '../../src-main/sim/memory-storage.js';
import { seededRandom } from '../../src-main/util/rng.js';

export interface TestNode {
  raft: Raft;
  storage: MemoryStorage;
  applied: Entry[];
  events: RaftEvent[];
  reads: ReadState[];
}

export type Filter = (m: Message) => boolean; // true = drop

export class Net {
  nodes = new Map<NodeId, TestNode>();
  sent: Message[] = [];
  private queue: Message[] = [];
  private filters: Filter[] = [];
  private rng = seededRandom(42);

  constructor(
    ids: NodeId[],
    private readonly cfg: Partial<RaftConfig> = {},
  ) {
    for (const id of ids) this.add(id, bootstrapState(ids));
  }

  add(
    id: NodeId,
    boot: RaftBootState = { hardState: { term: 0, vote: '', commit: 0 }, snapshot: null, entries: [] },
  ): TestNode {
    const storage = new MemoryStorage(boot);
    const node: TestNode = { raft: this.make(id, storage), storage, applied: [], events: [], reads: [] };
    this.nodes.set(id, node);
    this.drain(node);
    return node;
  }

  /** Crash and restart from durable state only. */
  restart(id: NodeId): TestNode {
    const node = this.n(id);
    node.raft = this.make(id, node.storage);
    node.applied = [];
    this.drain(node);
    return node;
  }

  private make(id: NodeId, storage: MemoryStorage): Raft {
    return new Raft({ id, electionTick: 10, heartbeatTick: 1, random: this.rng, ...this.cfg }, storage.boot());
  }

  n(id: NodeId): TestNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  r(id: NodeId): Raft {
    return this.n(id).raft;
  }

  drop(f: Filter): void {
    this.filters.push(f);
  }

  /** Cut every link between the two groups. */
  partition(a: NodeId[], b: NodeId[]): void {
    this.drop((m) => (a.includes(m.from) && b.includes(m.to)) || (b.includes(m.from) && a.includes(m.to)));
  }

  isolate(id: NodeId): void {
    this.drop((m) => m.from === id || m.to === id);
  }

  heal(): void {
    this.filters = [];
  }

  drain(node: TestNode): void {
    while (node.raft.hasReady()) {
      const rd = node.raft.ready();
      node.storage.persist(rd);
      node.events.push(...rd.events);
      node.reads.push(...rd.readStates);
      this.queue.push(...rd.messages);
      node.applied.push(...rd.committedEntries);
      node.raft.advance(rd);
    }
  }

  /** Deliver everything in flight (and what it causes) until the network is quiet. */
  flush(): void {
    for (const node of this.nodes.values()) this.drain(node);
    for (let guard = 0; this.queue.length; guard++) {
      if (guard > 100_000) throw new Error('network did not quiesce');
      const m = this.queue.shift()!;
      this.sent.push(m);
      if (this.filters.some((f) => f(m))) continue;
      const to = this.nodes.get(m.to);
      if (!to) continue;
      to.raft.step(m);
      this.drain(to);
    }
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.r(id).tick();
      this.drain(this.n(id));
      this.flush();
    }
  }

  /** Tick only these nodes (the others' clocks stand still). */
  tickOnly(ids: NodeId[], times = 1): void {
    for (let i = 0; i < times; i++) for (const id of ids) this.tick(id);
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) for (const id of this.nodes.keys()) this.tick(id);
  }

  campaign(id: NodeId): void {
    this.r(id).campaign();
    this.drain(this.n(id));
    this.flush();
  }

  propose(id: NodeId, data: string): void {
    this.r(id).propose(data);
    this.drain(this.n(id));
    this.flush();
  }

  leaders(): NodeId[] {
    return [...this.nodes].filter(([, n]) => n.raft.role === 'leader').map(([id]) => id);
  }

  data(id: NodeId): string[] {
    return this.n(id)
      .applied.filter((e) => e.type === 'normal' && e.data !== '')
      .map((e) => e.data);
  }
}
