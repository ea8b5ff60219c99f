import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Entry, HardState, Snapshot } from '../../src-shared/raft-types.js';
import { APPLICATION_ID, RaftStorage, StorageError } from '../../src-main/storage/raft-storage.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MODULE = path.join(ROOT, 'src-main/storage/raft-storage.ts');

let dir: string;
let file: string;
const open: RaftStorage[] = [];

function openStorage(f = file): RaftStorage {
  const s = RaftStorage.open(f);
  open.push(s);
  return s;
}

function entries(from: number, to: number, term: number, tag = ''): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++)
    out.push({ index: i, term, type: i % 5 === 0 ? 'conf' : 'normal', data: `${tag}cmd-${i}` });
  return out;
}

function snap(index: number, term: number, data = `state@${index}`, voters = ['n1', 'n2', 'n3']): Snapshot {
  return { meta: { index, term, conf: { voters } }, data };
}

/** Expect `fn` to throw a StorageError about `f` whose message matches `what`. */
function expectStorageError(fn: () => unknown, what: RegExp, f = file): StorageError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(StorageError);
  const err = caught as StorageError;
  expect(err.file).toBe(f);
  expect(err.message).toContain(f);
  expect(err.message).toMatch(what);
  return err;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-storage-'));
  file = path.join(dir, 'node.db');
});

afterEach(() => {
  for (const s of open.splice(0)) s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('RaftStorage basics', () => {
  it('opens a fresh file with an empty state', () => {
    const s = openStorage();
    expect(s.file).toBe(file);
    expect(s.load()).toEqual({ hardState: { term: 0, vote: '', commit: 0 }, snapshot: null, entries: [] });
    expect(s.stats()).toMatchObject({ entries: 0, firstIndex: 1, lastIndex: 0, snapshotIndex: 0 });
    expect(s.stats().fileBytes).toBeGreaterThan(0);
    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    db.close();
  });

  it('syncs every commit that must be durable itself: one fdatasync of the WAL, none for a commit index alone', () => {
    const s = openStorage();
    // Reach into the connection: SQLite does not sync commits (wal-sync.ts says why)...
    const db = (s as unknown as { db: Database.Database }).db;
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    // ...the storage does, before persist returns: this is the durability the node relies on.
    const synced: string[] = [];
    const real = fs.fdatasyncSync.bind(fs);
    const spy = vi.spyOn(fs, 'fdatasyncSync').mockImplementation((fd: number) => {
      synced.push(fs.readlinkSync(`/proc/self/fd/${fd}`));
      real(fd);
    });
    try {
      s.persist({ entries: entries(1, 2, 1), hardState: { term: 1, vote: 'n1', commit: 0 } });
      expect(synced).toEqual([`${fs.realpathSync(file)}-wal`]);
      s.persist({ hardState: { term: 1, vote: 'n1', commit: 2 } }); // MustSync false
      expect(synced).toHaveLength(1);
      s.persist({ entries: entries(3, 3, 1) });
      s.persist({ hardState: { term: 2, vote: '', commit: 2 } });
      s.setMeta('k', 'v');
      expect(synced).toHaveLength(4);
    } finally {
      spy.mockRestore();
    }
    s.close();
    expect(openStorage().load()).toMatchObject({
      hardState: { term: 2, vote: '', commit: 2 },
      entries: entries(1, 3, 1),
    });
  });

  it('syncs in the background on request: write() then syncInBackground, one fdatasync of the WAL on the thread pool', async () => {
    const s = openStorage();
    const synced: string[] = [];
    const real = fs.fdatasync.bind(fs);
    const spy = vi.spyOn(fs, 'fdatasync').mockImplementation(((
      fd: number,
      cb: (err: NodeJS.ErrnoException | null) => void,
    ) => {
      synced.push(fs.readlinkSync(`/proc/self/fd/${fd}`));
      real(fd, cb);
    }) as typeof fs.fdatasync);
    try {
      expect(s.write({ entries: entries(1, 2, 1), hardState: { term: 1, vote: 'n1', commit: 0 } })).toBe(true);
      const err = await new Promise<Error | null>((resolve) => s.syncInBackground(resolve));
      expect(err).toBeNull();
      expect(s.write({ hardState: { term: 1, vote: 'n1', commit: 2 } })).toBe(false); // MustSync false
      expect(synced).toEqual([`${fs.realpathSync(file)}-wal`]);
      // Closed while a sync runs: the sync ends on its descriptor, and says the storage closed.
      s.write({ entries: entries(3, 3, 1) });
      const late = new Promise<Error | null>((resolve) => s.syncInBackground(resolve));
      s.close();
      expect((await late)?.message).toMatch(/closed during the sync/);
    } finally {
      spy.mockRestore();
    }
    expect(openStorage().load()).toMatchObject({
      hardState: { term: 1, vote: 'n1', commit: 2 },
      entries: entries(1, 3, 1),
    });
  });

  it('treats a 0-byte file as new', () => {
    fs.writeFileSync(file, '');
    const s = openStorage();
    expect(s.load().entries).toEqual([]);
    s.persist({ entries: entries(1, 2, 1) });
    s.close();
    expect(openStorage().load().entries).toHaveLength(2);
  });

  it('restores entries and hard state exactly after close and reopen', () => {
    const s = openStorage();
    const log = entries(1, 10, 1).concat(entries(11, 20, 2));
    const hs: HardState = { term: 2, vote: 'n2', commit: 15 };
    s.persist({ entries: log.slice(0, 10) });
    s.persist({ entries: log.slice(10), hardState: hs });
    s.setMeta('cluster-id', 'c0ffee');
    s.setMeta('name', 'node-1');
    s.setMeta('name', 'node-one');
    s.close();
    s.close(); // idempotent

    const t = openStorage();
    expect(t.load()).toEqual({ hardState: hs, snapshot: null, entries: log });
    expect(t.getMeta('cluster-id')).toBe('c0ffee');
    expect(t.getMeta('name')).toBe('node-one');
    expect(t.getMeta('missing')).toBeUndefined();
    expect(t.stats()).toMatchObject({ entries: 20, firstIndex: 1, lastIndex: 20, snapshotIndex: 0 });
  });

  it('truncates a conflicting suffix', () => {
    const s = openStorage();
    s.persist({ entries: entries(1, 10, 1) });
    s.persist({ entries: entries(5, 7, 3, 'new-') });
    const expected = entries(1, 4, 1).concat(entries(5, 7, 3, 'new-'));
    expect(s.load().entries).toEqual(expected);
    s.close();
    expect(openStorage().load().entries).toEqual(expected);
  });

  it('keeps appended entries but the old commit after a crash between append and commit', () => {
    const s = openStorage();
    s.persist({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 'n1', commit: 3 } });
    s.persist({ entries: entries(4, 6, 1) }); // the commit update would come in a later Ready
    // No close(): a second connection sees exactly what a restarted process would.
    const t = openStorage();
    expect(t.load()).toEqual({
      hardState: { term: 1, vote: 'n1', commit: 3 },
      snapshot: null,
      entries: entries(1, 6, 1),
    });
  });

  it('round-trips unicode and 1 MB values', () => {
    const s = openStorage();
    const unicode = 'héllo → 世界 🚀🧪 \u0301e\u200d \u0000 nul and tab\t and "quotes" \\ \n newline';
    const big = 'αβγ🚀'.repeat(1 << 18) + 'x'.repeat(1 << 20); // ~1.3 M UTF-16 code units, ~3 MB of UTF-8
    const log: Entry[] = [
      { index: 1, term: 1, type: 'normal', data: unicode },
      { index: 2, term: 1, type: 'normal', data: big },
      { index: 3, term: 1, type: 'normal', data: '' },
    ];
    s.persist({ entries: log, hardState: { term: 1, vote: 'nœud-🚀', commit: 3 } });
    s.saveSnapshot(snap(3, 1, big + unicode, ['n1', 'ñ2']), 3);
    s.setMeta('κλειδί', unicode);
    s.persist({ entries: [{ index: 4, term: 1, type: 'conf', data: unicode }] });
    s.close();

    const t = openStorage();
    const st = t.load();
    expect(st.hardState.vote).toBe('nœud-🚀');
    expect(st.snapshot!.data.length).toBe(big.length + unicode.length);
    expect(st.snapshot!.data === big + unicode).toBe(true);
    expect(st.snapshot!.meta.conf.voters).toEqual(['n1', 'ñ2']);
    expect(st.entries).toEqual([{ index: 4, term: 1, type: 'conf', data: unicode }]);
    expect(t.getMeta('κλειδί')).toBe(unicode);
  });

  it("keeps a snapshot's learners with its voters (and a snapshot without learners as it always was)", () => {
    const s = openStorage();
    s.persist({
      entries: [
        { index: 1, term: 1, type: 'normal', data: '' },
        { index: 2, term: 1, type: 'normal', data: '' },
      ],
    });
    s.saveSnapshot({ meta: { index: 2, term: 1, conf: { voters: ['n1', 'n2'], learners: ['n3'] } }, data: 'state' }, 2);
    s.close();
    const t = openStorage();
    expect(t.load().snapshot!.meta.conf).toEqual({ voters: ['n1', 'n2'], learners: ['n3'] });
    t.saveSnapshot({ meta: { index: 2, term: 1, conf: { voters: ['n1', 'n2', 'n3'] } }, data: 'state' }, 2);
    t.close();
    const u = openStorage();
    expect(u.load().snapshot!.meta.conf).toEqual({ voters: ['n1', 'n2', 'n3'] });
    u.close();
  });

  it('refuses lone surrogates, which UTF-8 storage would silently replace', () => {
    const s = openStorage();
    expect(() => s.persist({ entries: [{ index: 1, term: 1, type: 'normal', data: 'a\ud800b' }] })).toThrow(
      /lone UTF-16 surrogate/,
    );
    expect(() => s.setMeta('k', '\udc00')).toThrow(/lone UTF-16 surrogate/);
    expect(() => s.saveSnapshot(snap(0, 0, 'x\ud83d'), 0)).toThrow(/lone UTF-16 surrogate/);
    expect(s.load().entries).toEqual([]);
  });
});

describe('snapshots', () => {
  it('saveSnapshot stores the snapshot and compacts entries <= compactTo', () => {
    const s = openStorage();
    s.persist({ entries: entries(1, 20, 2), hardState: { term: 2, vote: '', commit: 18 } });
    s.saveSnapshot(snap(15, 2), 12);
    // Entries 13..15 stay on disk as a catch-up margin, but load() starts after the snapshot.
    expect(s.stats()).toMatchObject({ entries: 8, firstIndex: 13, lastIndex: 20, snapshotIndex: 15 });
    expect(s.load().entries).toEqual(entries(16, 20, 2));
    s.persist({ entries: entries(21, 22, 3) });
    s.close();

    const t = openStorage();
    expect(t.load()).toEqual({
      hardState: { term: 2, vote: '', commit: 18 },
      snapshot: snap(15, 2),
      entries: entries(16, 20, 2).concat(entries(21, 22, 3)),
    });
    // A later snapshot replaces the earlier one.
    t.saveSnapshot(snap(20, 2, 'later'), 20);
    expect(t.load().snapshot).toEqual(snap(20, 2, 'later'));
    expect(t.stats()).toMatchObject({ entries: 2, firstIndex: 21, lastIndex: 22, snapshotIndex: 20 });
  });

  it('a large compaction goes a thousand entries at a time, with the writes that follow', () => {
    const s = openStorage();
    s.persist({ entries: entries(1, 2500, 2), hardState: { term: 2, vote: '', commit: 2500 } });
    s.saveSnapshot(snap(2500, 2), 2400);
    expect(s.stats()).toMatchObject({ entries: 1500, firstIndex: 1001, lastIndex: 2500, snapshotIndex: 2500 });
    // Left over from a compaction: never read back (load starts after the snapshot).
    expect(s.load().entries).toEqual([]);
    s.persist({ entries: entries(2501, 2501, 2) });
    expect(s.stats()).toMatchObject({ entries: 501, firstIndex: 2001 });
    s.persist({ hardState: { term: 2, vote: '', commit: 2501 } });
    expect(s.stats()).toMatchObject({ entries: 101, firstIndex: 2401, lastIndex: 2501 });
    // Done: nothing more is dropped.
    s.persist({ entries: entries(2502, 2502, 2) });
    expect(s.stats()).toMatchObject({ entries: 102, firstIndex: 2401, lastIndex: 2502 });
    s.close();
    const t = openStorage();
    expect(t.load()).toEqual({
      hardState: { term: 2, vote: '', commit: 2501 },
      snapshot: snap(2500, 2),
      entries: entries(2501, 2502, 2),
    });
  });

  it('entries a restart left uncompacted are never read, and the next snapshot drops them', () => {
    const s = openStorage();
    s.persist({ entries: entries(1, 1500, 2), hardState: { term: 2, vote: '', commit: 1500 } });
    s.saveSnapshot(snap(1500, 2), 1500);
    expect(s.stats()).toMatchObject({ entries: 500, firstIndex: 1001 });
    s.close();
    const t = openStorage();
    expect(t.load()).toEqual({ hardState: { term: 2, vote: '', commit: 1500 }, snapshot: snap(1500, 2), entries: [] });
    t.persist({ entries: entries(1501, 1510, 2), hardState: { term: 2, vote: '', commit: 1510 } });
    t.saveSnapshot(snap(1510, 2), 1505);
    expect(t.stats()).toMatchObject({ entries: 5, firstIndex: 1506, lastIndex: 1510 });
  });

  it('saveSnapshot refuses bad arguments', () => {
    const s = openStorage();
    s.persist({ entries: entries(1, 10, 1) });
    expect(() => s.saveSnapshot(snap(5, 1), 6)).toThrow(/cannot compact to 6/);
    expect(() => s.saveSnapshot(snap(11, 1), 5)).toThrow(/log ends at 10/);
    s.saveSnapshot(snap(8, 1), 8);
    expect(() => s.saveSnapshot(snap(6, 1), 6)).toThrow(/older than the stored snapshot at 8/);
    expect(s.load().snapshot).toEqual(snap(8, 1));
  });

  it('persist with an installed snapshot drops the whole log', () => {
    const s = openStorage();
    s.persist({ entries: entries(1, 10, 1), hardState: { term: 1, vote: 'n1', commit: 4 } });
    s.saveSnapshot(snap(3, 1), 2);
    const installed = snap(50, 4, 'leader state', ['n1', 'n2']);
    s.persist({ snapshot: installed, hardState: { term: 4, vote: '', commit: 50 } });
    expect(s.stats()).toMatchObject({ entries: 0, firstIndex: 51, lastIndex: 50, snapshotIndex: 50 });
    s.close();

    const t = openStorage();
    expect(t.load()).toEqual({ hardState: { term: 4, vote: '', commit: 50 }, snapshot: installed, entries: [] });
    // The log restarts right after the snapshot, in the same batch or a later one.
    t.persist({ snapshot: snap(60, 5), entries: entries(61, 62, 5), hardState: { term: 5, vote: '', commit: 60 } });
    expect(t.load().entries).toEqual(entries(61, 62, 5));
    expect(() => t.persist({ snapshot: snap(55, 5) })).toThrow(/older than the stored snapshot/);
  });
});

describe('input validation', () => {
  it('refuses gaps and non-contiguous batches without changing anything', () => {
    const s = openStorage();
    s.persist({ entries: entries(1, 3, 1), hardState: { term: 1, vote: '', commit: 1 } });
    const before = s.load();

    expect(() => s.persist({ entries: entries(5, 6, 1) })).toThrow(/log ends at 3.*gap/);
    expect(() => s.persist({ entries: [...entries(4, 4, 1), ...entries(6, 6, 1)] })).toThrow(
      /not contiguous: 6 follows 4/,
    );
    expect(() => s.persist({ entries: [...entries(5, 5, 1), ...entries(4, 4, 1)] })).toThrow(/not contiguous/);
    expect(() => s.persist({ entries: [...entries(4, 4, 2), ...entries(5, 5, 1)] })).toThrow(/terms decrease/);
    expect(() => s.persist({ entries: entries(4, 4, 0) })).toThrow(/term 0 after entry 3 with term 1/);
    expect(() => s.persist({ entries: [{ index: 0, term: 1, type: 'normal', data: '' }] })).toThrow(/malformed entry/);
    expect(() => s.persist({ entries: [{ index: 4, term: 1, type: 'bogus' as 'normal', data: '' }] })).toThrow(
      /malformed entry/,
    );
    expect(() => s.persist({ hardState: { term: -1, vote: '', commit: 0 } })).toThrow(/malformed hard state/);
    // The gap is found inside the transaction: the hard state of the same batch is rolled back.
    expect(() => s.persist({ entries: entries(9, 9, 1), hardState: { term: 7, vote: 'x', commit: 3 } })).toThrow(/gap/);
    // So is an installed snapshot whose follow-up entries leave a gap.
    expect(() => s.persist({ snapshot: snap(20, 2), entries: entries(22, 23, 2) })).toThrow(/log ends at 20/);
    expect(s.load()).toEqual(before);

    s.persist({ entries: entries(4, 5, 1) });
    expect(s.load().entries).toEqual(entries(1, 5, 1));
  });

  it('refuses to append at or below the snapshot index and gaps after it', () => {
    const s = openStorage();
    s.persist({ snapshot: snap(10, 2) });
    expect(() => s.persist({ entries: entries(12, 12, 2) })).toThrow(/log ends at 10/);
    expect(() => s.persist({ entries: entries(10, 11, 2) })).toThrow(/at or below the snapshot index 10/);
    expect(() => s.persist({ entries: entries(11, 11, 1) })).toThrow(/term 1 after entry 10 with term 2/);
    s.persist({ entries: entries(11, 12, 2) });
    expect(s.load().entries).toEqual(entries(11, 12, 2));
  });
});

describe('refusing files that are not ours', () => {
  it('a missing directory', () => {
    const f = path.join(dir, 'no-such-dir', 'node.db');
    expectStorageError(() => RaftStorage.open(f), /directory .*no-such-dir does not exist/, f);
    expect(fs.existsSync(path.dirname(f))).toBe(false);
  });

  it('garbage bytes', () => {
    const garbage = Buffer.alloc(16384);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) & 0xff;
    fs.writeFileSync(file, garbage);
    expectStorageError(() => RaftStorage.open(file), /not a SQLite database/);
    expect(fs.readFileSync(file).equals(garbage)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['node.db']);
  });

  it('a SQLite database of another application', () => {
    const db = new Database(file);
    db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, 'ada')");
    db.close();
    const bytes = fs.readFileSync(file);
    expectStorageError(() => RaftStorage.open(file), /another application .*application_id 0.*users/);
    expect(fs.readFileSync(file).equals(bytes)).toBe(true);
    const check = new Database(file);
    expect(check.prepare('SELECT name FROM users').pluck().all()).toEqual(['ada']);
    check.close();
  });

  it('an empty SQLite database carrying another application_id', () => {
    const db = new Database(file);
    db.pragma('application_id = 42');
    db.close();
    expectStorageError(() => RaftStorage.open(file), /another application .*application_id 42/);
  });

  it('our application_id with unexpected tables', () => {
    openStorage().close();
    const db = new Database(file);
    db.exec('CREATE TABLE extra (x)');
    db.close();
    expectStorageError(() => RaftStorage.open(file), /unexpected tables/);
  });

  it('a schema version from the future', () => {
    const s = openStorage();
    s.persist({ entries: entries(1, 3, 1) });
    s.close();
    const db = new Database(file);
    db.pragma('user_version = 99');
    db.close();
    expectStorageError(() => RaftStorage.open(file), /schema version 99, newer/);
    // Still intact for a newer raftlab.
    const check = new Database(file, { readonly: true });
    expect(check.prepare('SELECT count(*) FROM entries').pluck().get()).toBe(3);
    check.close();
  });

  it('a damaged page', () => {
    const s = openStorage();
    for (let i = 0; i < 20; i++) s.persist({ entries: entries(i * 100 + 1, i * 100 + 100, 1, 'x'.repeat(200)) });
    s.close();
    const pageSize = 4096;
    const pages = fs.statSync(file).size / pageSize;
    expect(pages).toBeGreaterThan(10);
    // Overwrite a page in the middle of the entries b-tree, keeping the file header valid.
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, Math.floor(pages / 2) * pageSize);
    fs.closeSync(fd);
    expectStorageError(() => RaftStorage.open(file), /integrity check|damaged/);
  });
});

describe('crash durability', () => {
  it('data acknowledged by persist survives SIGKILL of the process', async () => {
    // The child appends one entry per persist and prints the index only after persist returned.
    const script = `
      import fs from 'node:fs';
      const { RaftStorage } = await import(${JSON.stringify(MODULE)});
      const s = RaftStorage.open(${JSON.stringify(file)});
      s.persist({ hardState: { term: 1, vote: 'n1', commit: 0 } });
      for (let i = 1; ; i++) {
        s.persist({ entries: [{ index: i, term: 1, type: 'normal', data: 'payload-' + i }], hardState: { term: 1, vote: 'n1', commit: i - 1 } });
        fs.writeSync(1, i + '\\n');
      }
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let acked: number;
    try {
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      acked = await new Promise<number>((resolve, reject) => {
        let buf = '';
        let last = 0;
        child.stdout.on('data', (d: Buffer) => {
          buf += d.toString();
          const lines = buf.split('\n');
          buf = lines.pop()!;
          for (const l of lines) last = Number(l);
          if (last >= 50) {
            // Kill mid-stream: the child is busy in its next persist right now.
            child.kill('SIGKILL');
            resolve(last);
          }
        });
        child.on('exit', (code, signal) => {
          if (signal !== 'SIGKILL') reject(new Error(`child exited early (${code}): ${stderr}`));
        });
      });
      await new Promise<void>((resolve) =>
        child.exitCode !== null || child.signalCode !== null ? resolve() : child.on('exit', () => resolve()),
      );
      expect(child.signalCode).toBe('SIGKILL');
    } finally {
      // Never leave the endless writer running if the test fails or times out.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }

    const st = openStorage().load();
    expect(st.entries.length).toBeGreaterThanOrEqual(acked);
    st.entries.forEach((e, i) =>
      expect(e).toEqual({ index: i + 1, term: 1, type: 'normal', data: `payload-${i + 1}` }),
    );
    expect(st.hardState).toEqual({ term: 1, vote: 'n1', commit: st.entries.length - 1 });
  });
});
