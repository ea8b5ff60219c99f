// The two ways opening or reading raftlab storage fails, apart from a caller's bug: a file that
// is not ours (StorageError) and data of ours that cannot be trusted (StorageDamagedError, which
// tells the operator how to bring the member back). Their own module so that every part of the
// storage (opening, the rows, the member marker's guard) reports damage the same way without
// importing RaftStorage itself.

import type { Checked } from '../../src-shared/schema.js';
import type { MemberIdentity } from './stored-shapes.js';

export class StorageError extends Error {
  readonly file: string;
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`Raft storage ${file}: ${problem}`, options);
    this.name = 'StorageError';
    this.file = file;
  }
}

/**
 * The data is there but cannot be trusted (a failed checksum, a lost WAL, an emptied
 * database...): the message says what is wrong and what the operator should do.
 */
export class StorageDamagedError extends StorageError {
  constructor(file: string, problem: string, member?: MemberIdentity | null) {
    const id = member?.memberId ?? '<member id>';
    const name = member?.name ?? '<name>';
    super(
      file,
      `${problem}; the data dir is damaged and this member cannot restart from it: remove the data dir, ` +
        `run \`etcdctl member remove ${id}\` and \`etcdctl member add ${name} --peer-urls=<its peer URLs>\` on the cluster, ` +
        `then start the member with --initial-cluster-state existing (a one-member cluster can only be restored from a backup)`,
    );
    this.name = 'StorageDamagedError';
  }
}

/** Makes the StorageDamagedError for one problem, naming the file and (once known) the member. */
export type Damaged = (problem: string) => StorageDamagedError;

/** What storage read back, if it is sound; else the data dir is damaged: `what` and the problem. */
export function sound<T>(checked: Checked<T>, what: string, damaged: Damaged): T {
  if (!checked.ok) throw damaged(`${what} is damaged: ${checked.problem}`);
  return checked.value;
}
