// What the supervisor answers a command with (the `result` of its ack), by command.

import type { ExtraMember } from './cluster-state.js';
import type { ChaosReport } from './history.js';
import type { RaftEvent } from './raft-types.js';

export interface KvResult {
  status: number;
  /** Parsed JSON when the answer was JSON, else the text. */
  body: unknown;
}

/**
 * One line of a v3 watch the window opened (the `kv3` command's `watch` request), as the
 * gateway streams it: `result` is a WatchResponse in the gateway's JSON (what `curl` prints under
 * "result"); `ended` says why the stream ended (the node went down, the cluster was replaced…).
 */
export interface WatchLine {
  watch: string;
  node: string;
  result?: unknown;
  ended?: string;
}

export interface ExportTraceResult {
  /** Where the file was written (Electron: the Downloads folder). */
  path: string;
  bytes: number;
}

export interface AddMemberResult {
  name: string;
  id: string;
}

export interface StepRunResult {
  reached: boolean;
  /** Steps taken (deliveries and all-node ticks), the last one included. */
  steps: number;
  /** When reached: the node that reported it, and the event (ids inside are member ids). */
  node?: string;
  event?: RaftEvent;
  /** Stopped by stepCancel, step mode going off or a new cluster, before `until` or maxSteps. */
  cancelled?: boolean;
}

/** A fork: the session went on from an earlier moment, on real nodes (a `fork` event and trace record). */
export interface ForkInfo {
  /** The new branch (branches are numbered 1, 2, 3… in a session; 1 is the first). */
  branch: number;
  /** The branch it forked from. */
  parent: number;
  /** The moment resumed from (wall ms): the checkpoint restored, on the parent branch. */
  from: number;
  /** The moment the user asked for (the checkpoint is the last one at or before it). */
  asked: number;
  /** Where the branch that was running when the fork came ends (wall ms, its last checkpoint). */
  leftAt: number;
  /** The branch that was running when the fork came (it ends at `leftAt`). */
  left: number;
}

/** One branch of the session: from its fork point on its parent to its end. */
export interface BranchInfo {
  id: number;
  /** 0 for the first branch. */
  parent: number;
  /** The moment on the parent it starts from (wall ms; the session's start for branch 1). */
  from: number;
  /** When it began running (wall ms). */
  startAt: number;
  /** When it stopped running (wall ms): its last moment; absent for the branch running now. */
  endAt?: number;
}

/** A moment the cluster can be resumed from. */
export interface CheckpointMark {
  at: number;
  branch: number;
}

export interface BranchesResult {
  branches: BranchInfo[];
  checkpoints: CheckpointMark[];
  /** The branch running now. */
  current: number;
}

/** What resumeFrom answers: the fork made. */
export type ResumeResult = ForkInfo;

/** What `checkpoint` answers: its moment, or why none was taken. */
export interface CheckpointResult {
  at?: number;
  skipped?: string;
}

export type CommandResult =
  | KvResult
  | AddMemberResult
  | ExtraMember
  | StepRunResult
  | ExportTraceResult
  | ChaosReport
  | BranchesResult
  | ResumeResult
  | CheckpointResult
  | undefined;
