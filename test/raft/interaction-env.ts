// The interaction environment the data-driven Raft scripts drive (after etcd-io/raft's
// rafttest.InteractionEnv): real `Raft` instances with in-memory storage and a message queue
// the script delivers explicitly, so every message, Ready and event is visible and ordered.
//
// Deterministic by construction: each node's election-timeout jitter comes from a source that
// returns 0 (timeout = electionTick) unless the script asks for a seed (`add-nodes ... seed=N`),
// and then the seed is printed.
//
// Commands (ids are node numbers):
//   add-nodes <n> [voters=(1,2,3)] [prevote=] [checkquorum=] [election=3] [heartbeat=1]
//             [max-msg-entries=] [max-inflight=] [seed=]   nodes without voters start empty (joining)
//   campaign <id>                  tick <id>... [n=1]      tick-election <id>...   tick-heartbeat <id>...
//   set-randomized-election-timeout <id> timeout=<t>
//   process-ready <id>...          deliver-msgs <id>... [drop=(ids)] [type=MsgX]
//   stabilize [<id>...]            Ready handling and delivery until nothing is left
//   propose <id> <data>            propose-conf-change <id> add=<id> | add-learner=<id> | remove=<id>
//   transfer-leadership from=<id> to=<id>                   read-index <id> <context>
//   compact <id> <index>           restart <id>             (crash: keep only what was persisted)
//   isolate <id>...  partition (ids) (ids)  heal           cut links; delivery drops what crosses them
//   raft-state   raft-log <id>   status <id>   applied <id>   log-level none|info
import type { Message, NodeId, RaftEvent, Role } from '../../src-shared/raft-types.js';
import {
  bootstrapState,
  ProposalDropped,
  Raft,
  type RaftBootState,
  type RaftConfig,
  type Ready,
} from '../../src-main/raft/raft.js';
import { MemoryStorage } from '../../src-main/sim/memory-storage.js';
import { seededRandom } from '../../src-main/util/rng.js';
import { Args, type Directive } from './datadriven.js';
import { fmtEntry, fmtEvent, fmtMessage, fmtReady } from './format.js';

interface EnvNode {
  id: NodeId;
  raft: Raft;
  cfg: RaftConfig;
  storage: MemoryStorage;
  /** The state machine: applied normal entries (what a snapshot carries). */
  applied: { index: number; data: string }[];
  /** Role and leader last printed, to print them again only when they change (etcd's SoftState). */
  soft: { role: Role; lead: NodeId };
}

/** The parts of the core the environment reads that it does not export (test-only access). */
interface RaftInternals {
  events: RaftEvent[];
  randomizedElectionTimeout: number;
}

function internals(r: Raft): RaftInternals {
  const x = r as unknown as RaftInternals;
  // Fail loudly if the core renames these, rather than silently printing nothing.
  if (!Array.isArray(x.events) || typeof x.randomizedElectionTimeout !== 'number') {
    throw new Error('Raft internals changed: update internals() in test/raft/interaction-env.ts');
  }
  return x;
}

export class InteractionEnv {
  private nodes = new Map<NodeId, EnvNode>();
  private queue: Message[] = [];
  private cuts = new Set<string>();
  private out: string[] = [];
  private indent = 0;
  private quiet = false;

  /** Runs one directive and returns what it printed ('ok' if nothing). */
  handle(d: Directive): string {
    this.out = [];
    this.indent = 0;
    const a = new Args(d);
    this.dispatch(d, a);
    a.done();
    const text = this.out.join('\n');
    if (this.quiet && d.cmd !== 'log-level') return 'ok';
    return text === '' ? 'ok' : text;
  }

  private dispatch(d: Directive, a: Args): void {
    const ids = () => {
      const bare = a.bare();
      for (const id of bare) this.node(id);
      return bare;
    };
    switch (d.cmd) {
      case 'log-level': {
        const [level] = a.bare();
        if (level !== 'none' && level !== 'info') throw new Error(`log-level is none or info, not ${level}`);
        this.quiet = level === 'none';
        return;
      }
      case 'add-nodes':
        return this.addNodes(a);
      case 'campaign':
        for (const id of ids()) this.input(id, (r) => r.campaign());
        return;
      case 'tick': {
        const n = a.int('n', 1);
        // All the given clocks advance together, one tick at a time.
        const which = ids();
        for (let i = 0; i < n; i++) for (const id of which) this.input(id, (r) => r.tick());
        return;
      }
      case 'tick-election':
      case 'tick-heartbeat':
        for (const id of ids()) {
          const cfg = this.node(id).cfg;
          const n = d.cmd === 'tick-election' ? cfg.electionTick : cfg.heartbeatTick;
          for (let i = 0; i < n; i++) this.input(id, (r) => r.tick());
        }
        return;
      case 'set-randomized-election-timeout': {
        const [id] = ids();
        const t = a.int('timeout');
        if (t === undefined) throw new Error('timeout= is required');
        // Test-only hook, as etcd's SetRandomizedElectionTimeout: this term's timeout only.
        internals(this.node(id).raft).randomizedElectionTimeout = t;
        return;
      }
      case 'process-ready':
        for (const id of ids()) this.processReady(id);
        return;
      case 'deliver-msgs': {
        const type = a.str('type');
        let n = 0;
        for (const id of ids()) n += this.deliver(id, type, false);
        for (const id of a.list('drop') ?? []) n += this.deliver(id, type, true);
        if (n === 0) this.print('no messages');
        return;
      }
      case 'stabilize':
        return this.stabilize(ids());
      case 'propose': {
        const [id, data] = a.bare();
        if (data === undefined) throw new Error('usage: propose <id> <data>');
        this.node(id);
        this.input(id, (r) => r.propose(data));
        return;
      }
      case 'propose-conf-change': {
        const [id] = ids();
        const given = (['add', 'add-learner', 'remove'] as const).flatMap((type) => {
          const target = a.str(type);
          return target === undefined ? [] : [{ type, id: target }];
        });
        const [cc] = given;
        if (given.length !== 1 || !cc) throw new Error('give one of add=, add-learner= or remove=');
        this.input(id, (r) => r.proposeConfChange(cc));
        return;
      }
      case 'transfer-leadership': {
        const from = a.str('from');
        const to = a.str('to');
        if (!from || !to) throw new Error('usage: transfer-leadership from=<id> to=<id>');
        this.input(from, (r) => r.transferLeader(to));
        return;
      }
      case 'read-index': {
        const [id, ctx] = a.bare();
        if (ctx === undefined) throw new Error('usage: read-index <id> <context>');
        this.input(id, (r) => r.readIndex(ctx));
        return;
      }
      case 'compact': {
        const [id, at] = a.bare();
        const index = Number(at);
        if (!Number.isInteger(index) || index < 1) throw new Error('usage: compact <id> <index>');
        const node = this.node(id);
        const data = JSON.stringify(node.applied.filter((e) => e.index <= index).map((e) => e.data));
        this.input(id, (r) => {
          const snap = r.createSnapshot(index, data, index);
          node.storage.saveSnapshot(snap, index);
        });
        return;
      }
      case 'restart':
        for (const id of ids()) this.restart(id);
        return;
      case 'isolate':
        for (const id of ids()) for (const other of this.nodes.keys()) if (other !== id) this.cuts.add(link(id, other));
        return;
      case 'partition': {
        const parsed = a.bare().map((g) =>
          g
            .replace(/^\(|\)$/g, '')
            .split(/[\s,]+/)
            .filter(Boolean),
        );
        const [left, right] = parsed;
        if (parsed.length !== 2 || !left || !right) throw new Error('usage: partition (ids) (ids)');
        for (const x of left) for (const y of right) this.cuts.add(link(this.node(x).id, this.node(y).id));
        return;
      }
      case 'heal':
        this.cuts.clear();
        return;
      case 'raft-state':
        for (const n of this.sorted()) {
          const r = n.raft;
          this.print(
            `${n.id}: ${r.role} ${r.isVoter() ? '(Voter)' : r.isLearner() ? '(Learner)' : '(Non-Voter)'} Term:${r.term} Vote:${r.vote || 0} Lead:${r.lead || 0}` +
              ` Commit:${r.log.committed} Applied:${r.log.applied} Last:${r.log.lastTerm()}/${r.log.lastIndex()}`,
          );
        }
        return;
      case 'raft-log':
        for (const id of ids()) {
          const log = this.node(id).raft.log;
          if (log.firstIndex() > 1)
            this.print(`(compacted through ${log.term(log.firstIndex() - 1)}/${log.firstIndex() - 1})`);
          for (const e of log.all()) this.print(fmtEntry(e));
          if (log.all().length === 0) this.print('(no entries)');
        }
        return;
      case 'status':
        for (const id of ids()) {
          const r = this.node(id).raft;
          if (r.role !== 'leader') {
            this.print(`${id} is not the leader`);
            continue;
          }
          for (const v of [...this.nodes.keys()].sort(byNumber)) {
            const pr = r.progressOf(v);
            // The leader's own entry is not maintained (it counts its log's stable index).
            if (!pr || v === id) continue;
            let s = `${v}: ${pr.state} match=${pr.match} next=${pr.next}`;
            if (pr.isPaused()) s += ' paused';
            if (pr.state === 'snapshot') s += ` pendingSnap=${pr.pendingSnapshot}`;
            this.print(s);
          }
        }
        return;
      case 'applied':
        for (const id of ids()) this.print(`${id}: ${JSON.stringify(this.node(id).applied.map((e) => e.data))}`);
        return;
      default:
        throw new Error(`unknown command ${d.cmd}`);
    }
  }

  // ---------------------------------------------------------------- nodes

  private addNodes(a: Args): void {
    const [count] = a.bare();
    const n = Number(count);
    if (!Number.isInteger(n) || n < 1) throw new Error('usage: add-nodes <n> [voters=(...)] [options]');
    const voters = a.list('voters');
    const seed = a.int('seed');
    const random = seed === undefined ? () => 0 : seededRandom(seed);
    if (seed !== undefined) this.print(`seed ${seed}`);
    const base: Omit<RaftConfig, 'id'> = {
      electionTick: a.int('election', 3),
      heartbeatTick: a.int('heartbeat', 1),
      random,
      preVote: a.bool('prevote') ?? true,
      checkQuorum: a.bool('checkquorum') ?? true,
      maxEntriesPerMsg: a.int('max-msg-entries', 256),
      maxInflight: a.int('max-inflight', 256),
    };
    const first = this.nodes.size + 1;
    for (let i = 0; i < n; i++) {
      const id = String(first + i);
      const boot: RaftBootState = voters
        ? bootstrapState(voters)
        : { hardState: { term: 0, vote: '', commit: 0 }, snapshot: null, entries: [] };
      const storage = new MemoryStorage(boot);
      const cfg = { ...base, id };
      const raft = new Raft(cfg, storage.boot());
      const node: EnvNode = { id, raft, cfg, storage, applied: [], soft: { role: raft.role, lead: raft.lead } };
      this.nodes.set(id, node);
      // The bootstrap entries are committed from the start: applying them is setup, not news.
      if (raft.hasReady()) this.handleReady(node, raft.ready());
      this.print(
        `${id}: voters=(${raft.voters().join(' ')}) Term:${raft.term} Commit:${raft.log.committed} Applied:${raft.log.applied} Last:${raft.log.lastTerm()}/${raft.log.lastIndex()}` +
          (seed === undefined ? '' : ` ElectionTimeout:${raft.electionTimeoutTicks()}`),
      );
    }
  }

  private restart(id: NodeId): void {
    const node = this.node(id);
    node.raft = new Raft(node.cfg, node.storage.boot());
    const snap = node.storage.snapshot;
    node.applied = snap ? this.restoreStateMachine(snap.meta.index, snap.data) : [];
    node.soft = { role: node.raft.role, lead: node.raft.lead };
    const r = node.raft;
    this.print(
      `${id} restarted: Term:${r.term} Vote:${r.vote || 0} Commit:${r.log.committed} Last:${r.log.lastTerm()}/${r.log.lastIndex()}`,
    );
  }

  private restoreStateMachine(index: number, data: string): { index: number; data: string }[] {
    // A snapshot carries the applied values only; their indexes are below the snapshot's.
    return (JSON.parse(data) as string[]).map((d) => ({ index, data: d }));
  }

  private node(id: NodeId | undefined): EnvNode {
    const n = id === undefined ? undefined : this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  private sorted(): EnvNode[] {
    return [...this.nodes.values()].sort((x, y) => byNumber(x.id, y.id));
  }

  /** Feeds one input to a node and prints the events it caused, or the error it raised. */
  private input(id: NodeId | undefined, f: (r: Raft) => void): void {
    const node = this.node(id);
    try {
      f(node.raft);
    } catch (err) {
      if (!(err instanceof ProposalDropped)) throw err;
      this.print(`${id} refused: ${err.message}`);
    }
    this.printEvents(node);
  }

  private printEvents(node: EnvNode): void {
    // Events are printed where they happen rather than with the next Ready, as etcd's log
    // lines are; the environment is the core's only consumer, so it may take them early.
    for (const e of internals(node.raft).events.splice(0)) {
      const line = fmtEvent(node.id, e);
      if (line !== undefined) this.print(line);
    }
  }

  // ---------------------------------------------------------------- Ready and delivery

  private processReady(id: NodeId): boolean {
    const node = this.node(id);
    const r = node.raft;
    if (!r.hasReady()) return false;
    const rd = r.ready();
    this.print(`> ${id} handling Ready`);
    this.indent++;
    if (r.role !== node.soft.role || r.lead !== node.soft.lead) {
      node.soft = { role: r.role, lead: r.lead };
      this.print(`Lead:${r.lead || 0} State:${r.role}`);
    }
    for (const line of fmtReady(rd)) this.print(line);
    this.handleReady(node, rd);
    this.indent--;
    return true;
  }

  /** What a node does with a Ready: persist, send, apply, then advance. */
  private handleReady(node: EnvNode, rd: Ready): void {
    node.storage.persist(rd);
    if (rd.snapshot) node.applied = this.restoreStateMachine(rd.snapshot.meta.index, rd.snapshot.data);
    this.queue.push(...rd.messages);
    for (const e of rd.committedEntries) {
      if (e.type === 'normal' && e.data !== '') node.applied.push({ index: e.index, data: e.data });
    }
    node.raft.advance(rd);
    this.printEvents(node);
  }

  private deliver(to: NodeId, type: string | undefined, drop: boolean): number {
    const mine = (m: Message) => m.to === to && (type === undefined || m.type === type);
    const msgs = this.queue.filter(mine);
    this.queue = this.queue.filter((m) => !mine(m));
    for (const m of msgs) {
      if (drop || this.cuts.has(link(m.from, m.to))) {
        this.print(`dropped: ${fmtMessage(m)}`);
        continue;
      }
      this.print(fmtMessage(m));
      if (!this.nodes.has(to)) {
        this.print(`(no node ${to})`);
        continue;
      }
      this.indent++;
      this.input(to, (r) => r.step(m));
      this.indent--;
    }
    return msgs.length;
  }

  /** Ready handling and delivery, round by round, until no node has anything left (etcd's Stabilize). */
  private stabilize(only: NodeId[]): void {
    const nodes = only.length ? only : this.sorted().map((n) => n.id);
    for (let round = 0; ; round++) {
      if (round > 1000) throw new Error('stabilize: no fixed point after 1000 rounds');
      let done = true;
      for (const id of nodes) if (this.processReady(id)) done = false;
      for (const id of nodes) {
        if (!this.queue.some((m) => m.to === id)) continue;
        done = false;
        this.print(`> ${id} receiving messages`);
        this.indent++;
        this.deliver(id, undefined, false);
        this.indent--;
      }
      if (done) return;
    }
  }

  private print(line: string): void {
    this.out.push('  '.repeat(this.indent) + line);
  }
}

function link(a: NodeId, b: NodeId): string {
  return byNumber(a, b) < 0 ? `${a}|${b}` : `${b}|${a}`;
}

function byNumber(a: string, b: string): number {
  return Number(a) - Number(b) || a.localeCompare(b);
}
