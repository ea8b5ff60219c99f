// The durable state of a simulated node, with the same semantics as the SQLite storage:
// what survives a crash is exactly what was persisted.

import type { Entry, HardState, Snapshot } from '../../src-shared/raft-types.js';
import type { RaftBootState, Ready } from '../raft/raft.js';

export class MemoryStorage {
  hardState: HardState = { term: 0, vote: '', commit: 0 };
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];

  constructor(boot?: RaftBootState) {
    if (boot) {
      this.hardState = { ...boot.hardState };
      this.snapshot = boot.snapshot;
      this.entries = [...boot.entries];
    }
  }

  persist(rd: Pick<Ready, 'hardState' | 'entries' | 'snapshot'>): void {
    if (rd.snapshot) {
      this.snapshot = rd.snapshot;
      this.entries = [];
    }
    const [firstNew] = rd.entries;
    if (firstNew) {
      const first = firstNew.index;
      this.entries = this.entries.filter((e) => e.index < first).concat(rd.entries);
    }
    if (rd.hardState) this.hardState = { ...rd.hardState };
  }

  saveSnapshot(snap: Snapshot, compactTo: number): void {
    this.snapshot = snap;
    this.entries = this.entries.filter((e) => e.index > compactTo);
  }

  boot(): RaftBootState {
    return { hardState: { ...this.hardState }, snapshot: this.snapshot, entries: [...this.entries] };
  }
}
