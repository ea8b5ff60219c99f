// An operation history for a key-value register, as clients saw it, plus the faults that
// fired meanwhile. The linearizability checker (src-main/check/linearizability.ts) reads it,
// the chaos runner (src-main/chaos/) writes it, a viewer can draw it: plain JSON throughout.
//
// Times are milliseconds since the history's start (one clock for the whole history: the
// observer's, never a node's possibly skewed one).

/**
 * What the client learned about an operation:
 * - ok: it took effect exactly once, somewhere between `invoke` and `complete` (for a read,
 *   `value` is what it returned; for a cas, `succeeded` says whether the compare held);
 * - fail: it definitely did not take effect (refused before anything was proposed);
 * - unknown: it may have taken effect at any time after `invoke`, even long after `complete`,
 *   or never (a timeout, or a connection reset after the request was sent).
 */
export type OpOutcome = 'ok' | 'fail' | 'unknown';

export interface OpBase {
  /** Unique within the history. */
  id: number;
  /** Who issued it; one client runs one operation at a time. */
  client: string;
  /** The node the request went to. */
  node: string;
  key: string;
  /** When the request was sent (ms since the history's start). */
  invoke: number;
  /**
   * When the answer came (ok, fail) or the client gave up (unknown: for display only, the
   * operation may still take effect later). Required unless the outcome is unknown.
   */
  complete?: number;
  outcome: OpOutcome;
  /** Why, for a human: "HTTP 412 errorCode 101", "timeout after 2000 ms"... */
  note?: string;
}

export interface ReadOp extends OpBase {
  type: 'read';
  /** Returned value when ok; null: the key was absent. */
  value?: string | null;
}

export interface WriteOp extends OpBase {
  type: 'write';
  value: string;
}

/** Compare-and-swap: set `value` if the key currently holds `expected`. */
export interface CasOp extends OpBase {
  type: 'cas';
  expected: string;
  value: string;
  /** When ok: true if it wrote, false if the compare failed (an ok operation that wrote nothing). */
  succeeded?: boolean;
}

export type Op = ReadOp | WriteOp | CasOp;
export type OpType = Op['type'];

/** A fault on the timeline, from `at` until `until` (absent: instantaneous, or never healed). */
export interface FaultRecord {
  /** ms since the history's start. */
  at: number;
  until?: number;
  /** 'kill', 'partition', 'isolate-leader', 'clock-offset', 'clock-rate', 'transfer-leader', 'remove-member', ... */
  kind: string;
  /** "killed n2", "cut n1 from n2, n3 (the leader)"... */
  description: string;
}

export interface History {
  ops: Op[];
  faults: FaultRecord[];
}

/** "1.20 s": a history time as the explanations print it. */
export function formatTime(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function showValue(v: string | null | undefined): string {
  return v === null || v === undefined ? 'nothing' : v;
}

/** "read of /k by c2", "write /k=3 by c1", "cas /k 2→5 by c3" (no time). */
export function describeOp(op: Op): string {
  switch (op.type) {
    case 'read':
      return `read of ${op.key} by ${op.client}`;
    case 'write':
      return `write ${op.key}=${op.value} by ${op.client}`;
    case 'cas':
      return `cas ${op.key} ${op.expected}→${op.value} by ${op.client}`;
  }
}

/** One line per operation, for listings: "c2 n1 read /k → 3   ok   [1.20 s, 1.25 s]". */
export function formatOp(op: Op): string {
  let what: string;
  switch (op.type) {
    case 'read':
      what = `read ${op.key}${op.outcome === 'ok' ? ` → ${showValue(op.value)}` : ''}`;
      break;
    case 'write':
      what = `write ${op.key}=${op.value}`;
      break;
    case 'cas':
      what = `cas ${op.key} ${op.expected}→${op.value}${op.outcome === 'ok' ? (op.succeeded ? ' (swapped)' : ' (compare failed)') : ''}`;
      break;
  }
  const end = op.complete === undefined ? '…' : formatTime(op.complete);
  const note = op.note ? `  (${op.note})` : '';
  return `#${op.id} ${op.client}@${op.node} ${what}  ${op.outcome}  [${formatTime(op.invoke)}, ${end}]${note}`;
}

export { showValue as formatValue };

/**
 * Which API a chaos run's clients speak: etcd's v2 keys API; v3 (Put, linearizable Range, Txn
 * compare-and-swap through the /v3 gateway); or mixed (v2 and v3 clients, each on its own keys).
 */
export const CHAOS_WORKLOADS = ['v2', 'v3', 'mixed'] as const;
export type ChaosWorkload = (typeof CHAOS_WORKLOADS)[number];

/**
 * A chaos run as the window shows it (`chaos` command): the history with its faults, and the
 * checker's verdict; on a violation, the smallest set of operations that cannot be ordered.
 */
export interface ChaosReport {
  seed: number;
  nodes: number;
  seconds: number;
  workload: ChaosWorkload;
  /** No violation, nothing lost, converged, members agree. */
  ok: boolean;
  verdict: 'ok' | 'violation' | 'unknown';
  violations: { key: string; ops: Op[]; explanation: string }[];
  history: History;
  converged: boolean;
  lostWrites: Op[];
  divergentKeys: string[];
  problems: string[];
  /** Client operations by outcome (final reads excluded), and faults fired by kind. */
  outcomes: Record<OpOutcome, number>;
  faults: Record<string, number>;
  checkMs: number;
}
