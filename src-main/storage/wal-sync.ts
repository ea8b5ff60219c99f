// Making a commit durable ourselves: fdatasync(2) of SQLite's WAL file.
//
// SQLite's own sync on commit (synchronous=FULL) is fsync(2), because better-sqlite3 builds it
// without HAVE_FDATASYNC. fsync also writes the WAL's inode back for its new mtime: on this
// project's ext4 (no journal) that is a second synchronous disk write on every commit, which
// etcd's fdatasync of its WAL does not pay (perf: __sync_dirty_buffer under ext4_sync_file).
// So the connection runs with synchronous=NORMAL, where SQLite writes a commit's frames to the
// WAL without syncing (and still syncs the WAL before a checkpoint and the database after it),
// and the storage calls sync() after every commit that must be durable, before it returns.
// fdatasync flushes the frames, and the file size when the WAL grew: all recovery needs.

import fs from 'node:fs';

export class WalSync {
  private fd?: number;
  /** fdatasyncs running on libuv's thread pool: the descriptor stays open until they end. */
  private inFlight = 0;
  private closing = false;

  constructor(private readonly walFile: string) {}

  /** After a commit, before anyone may rely on it. Throws when the WAL cannot be synced. */
  sync(): void {
    fs.fdatasyncSync(this.open());
  }

  /**
   * The same on libuv's thread pool, so the event loop goes on meanwhile (a node receives and
   * steps messages during its fsync, as etcd's goroutines do). `done` is told of the outcome.
   */
  syncInBackground(done: (err: Error | null) => void): void {
    let fd: number;
    try {
      fd = this.open();
    } catch (err) {
      queueMicrotask(() => done(err instanceof Error ? err : new Error(String(err))));
      return;
    }
    this.inFlight++;
    fs.fdatasync(fd, (err) => {
      this.inFlight--;
      if (this.closing && this.inFlight === 0) this.close();
      done(err);
    });
  }

  /** Idempotent. A descriptor an fdatasync still uses is closed once it ends. */
  close(): void {
    this.closing = true;
    if (this.inFlight > 0) return;
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  /**
   * The WAL exists once a transaction was committed on this connection, and SQLite deletes it
   * only when the last connection closes: one descriptor serves until close(). It must be the
   * file SQLite writes (same inode), or syncing it would make nothing durable.
   */
  private open(): number {
    if (this.fd !== undefined) return this.fd;
    if (this.closing) throw new Error(`${this.walFile} is closed`);
    const fd = fs.openSync(this.walFile, 'r');
    try {
      if (fs.fstatSync(fd).ino !== fs.statSync(this.walFile).ino)
        throw new Error(`${this.walFile} changed while being opened`);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    this.fd = fd;
    return fd;
  }
}
