// The simulated nodes' state machine: a key-value register with client sessions.
//
// A command is a log entry `kv:{...}` carrying its client and that client's sequence number.
// The network may duplicate a forwarded proposal (and a client may give up and move on while
// its old proposal still floats around), so the same command can be appended twice; the
// session table applies each client's command at most once, in sequence order, and keeps the
// last verdict so a node that learns of it from a snapshot can still answer (Raft
// dissertation §6.3). Every node applies the same log, so every node computes the same
// verdicts.

import type { Entry } from '../../src-shared/raft-types.js';

export interface RegisterCommand {
  client: string;
  seq: number;
  key: string;
  value: string;
  /** Present on a compare-and-swap: write only if the key holds this. */
  expected?: string;
}

export interface Applied {
  cmd: RegisterCommand;
  /** False: a repeat of a command this client's session has already seen; nothing changed. */
  fresh: boolean;
  /** Whether it wrote (always true for a fresh write; for a cas, whether the compare held). */
  wrote: boolean;
}

interface Session {
  seq: number;
  wrote: boolean;
}

const PREFIX = 'kv:';

export function encodeCommand(cmd: RegisterCommand): string {
  return PREFIX + JSON.stringify(cmd);
}

export function decodeCommand(e: Entry): RegisterCommand | null {
  if (e.type !== 'normal' || !e.data.startsWith(PREFIX)) return null;
  return JSON.parse(e.data.slice(PREFIX.length)) as RegisterCommand;
}

export class RegisterMachine {
  /** The last log index applied (or restored from a snapshot). */
  index = 0;
  private values = new Map<string, string>();
  private sessions = new Map<string, Session>();
  /** Every command that took effect here ("client:seq"): what a lost-write check looks for. */
  private took = new Set<string>();

  /** Applies one committed entry (entries that are not commands only advance the index). */
  apply(e: Entry): Applied | null {
    this.index = e.index;
    const cmd = decodeCommand(e);
    if (!cmd) return null;
    const s = this.sessions.get(cmd.client);
    if (s && s.seq >= cmd.seq) return { cmd, fresh: false, wrote: false };
    const wrote = cmd.expected === undefined || this.values.get(cmd.key) === cmd.expected;
    if (wrote) this.values.set(cmd.key, cmd.value);
    this.sessions.set(cmd.client, { seq: cmd.seq, wrote });
    this.took.add(`${cmd.client}:${cmd.seq}`);
    return { cmd, fresh: true, wrote };
  }

  get(key: string): string | null {
    return this.values.get(key) ?? null;
  }

  /** The verdict of `client`'s command `seq` if it is the last one applied, else undefined. */
  verdict(client: string, seq: number): boolean | undefined {
    const s = this.sessions.get(client);
    return s && s.seq === seq ? s.wrote : undefined;
  }

  /** Whether `client`'s command `seq` took effect here. */
  has(client: string, seq: number): boolean {
    return this.took.has(`${client}:${seq}`);
  }

  toJSON(): string {
    return JSON.stringify({ v: [...this.values], s: [...this.sessions], t: [...this.took] });
  }

  static fromJSON(data: string | undefined, index: number): RegisterMachine {
    const m = new RegisterMachine();
    m.index = index;
    if (data) {
      const o = JSON.parse(data) as { v: [string, string][]; s: [string, Session][]; t: string[] };
      m.values = new Map(o.v);
      m.sessions = new Map(o.s);
      m.took = new Set(o.t);
    }
    return m;
  }
}
