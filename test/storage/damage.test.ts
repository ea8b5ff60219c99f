// Storage that knows when it is damaged: real SQLite files in a temp dir, damaged the way a
// disk, a crash or an operator damages them, then opened again. Each case is refused with a
// StorageDamagedError saying what is wrong; the legitimate remains of a crash are not.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Entry } from '../../src-shared/raft-types.js';
import { RaftStorage, StorageDamagedError, StorageError } from '../../src-main/storage/raft-storage.js';
import { auditWal } from '../../src-main/storage/wal-audit.js';
import { markerFileFor } from '../../src-main/storage/member-marker.js';
import { entryCrc, hardStateCrc, metaCrc, snapshotCrc } from '../../src-main/storage/checksum.js';
import { seededRandom } from '../../src-main/util/rng.js';
import { one } from '../helpers/checked.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MODULE = path.join(ROOT, 'src-main/storage/raft-storage.ts');

let dir: string;
let file: string;
const open: RaftStorage[] = [];
const WHO = { memberId: '8e9e05c52164694d', clusterId: 'cdf818194e3a8c32', name: 'n1' };

function openStorage(f = file): RaftStorage {
  const s = RaftStorage.open(f);
  open.push(s);
  return s;
}

function entries(from: number, to: number, term = 1): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++)
    out.push({ index: i, term, type: 'normal', data: `{"put":"/k${i}","value":"${'v'.repeat(i % 50)}"}` });
  return out;
}

/** A member with an identity and `n` entries written one fsync'd persist each, as a node writes them. */
function member(n: number, f = file): RaftStorage {
  const s = openStorage(f);
  s.persist({ entries: entries(1, 1), hardState: { term: 1, vote: '', commit: 1 } });
  s.setIdentity(WHO);
  for (let i = 2; i <= n; i++) s.persist({ entries: entries(i, i), hardState: { term: 1, vote: '', commit: i - 1 } });
  return s;
}

/**
 * The files as kill -9 leaves them: the storage stays open (no close, no checkpoint), and its
 * database, WAL and marker are copied as they are on disk into a fresh dir.
 */
function crashCopy(name = 'crashed'): string {
  const to = path.join(dir, name);
  fs.mkdirSync(to);
  for (const f of [file, `${file}-wal`, markerFileFor(file)]) {
    if (fs.existsSync(f)) fs.copyFileSync(f, path.join(to, path.basename(f)));
  }
  return path.join(to, path.basename(file));
}

function expectDamaged(f: string, what: RegExp): StorageDamagedError {
  let caught: unknown;
  try {
    openStorage(f).load();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(StorageDamagedError);
  const err = caught as StorageDamagedError;
  expect(err.message).toContain(f);
  expect(err.message).toMatch(what);
  // What to do, with the member's own id and name.
  expect(err.message).toContain(`etcdctl member remove ${WHO.memberId}`);
  expect(err.message).toContain(`etcdctl member add ${WHO.name}`);
  expect(err.message).not.toContain('\n');
  return err;
}

/** What plain SQLite makes of the files, without raftlab's checks (on a copy: SQLite checkpoints on close). */
let plainCopies = 0;
function sqliteEntryCount(f: string): number {
  const to = path.join(dir, `plain-${++plainCopies}`);
  fs.mkdirSync(to);
  const copy = path.join(to, 'plain.db');
  fs.copyFileSync(f, copy);
  if (fs.existsSync(`${f}-wal`)) fs.copyFileSync(`${f}-wal`, `${copy}-wal`);
  const db = new Database(copy);
  try {
    return db.prepare('SELECT count(*) FROM entries').pluck().get() as number;
  } finally {
    db.close();
  }
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-damage-'));
  file = path.join(dir, 'raftlab.db');
});

afterEach(() => {
  for (const s of open.splice(0)) s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the SQLite WAL after kill -9', () => {
  it('our reading of the WAL agrees with SQLite on an intact one', () => {
    member(120);
    const crashed = crashCopy();
    const audit = auditWal(`${crashed}-wal`)!;
    expect(audit.damage).toBeUndefined();
    expect(audit.usedFrames).toBe(audit.frames);
    const db = new Database(crashed);
    // SQLite's own count of valid frames ([busy, log, checkpointed]).
    const row = one(db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[], 'one wal_checkpoint row');
    db.close();
    expect(row.log).toBe(audit.usedFrames);
  });

  it('random bytes in the middle: SQLite alone silently drops every later commit; raftlab refuses', () => {
    member(200);
    const crashed = crashCopy();
    const wal = `${crashed}-wal`;
    const size = fs.statSync(wal).size;
    const rnd = seededRandom(12);
    const garbage = Buffer.from(Array.from({ length: 4096 }, () => rnd.int(0, 255)));
    const fd = fs.openSync(wal, 'r+');
    fs.writeSync(fd, garbage, 0, garbage.length, Math.floor(size / 2));
    fs.closeSync(fd);
    // Why keys went missing (issue 12: 97 of 200): SQLite's WAL checksums chain, recovery
    // stops at the first bad frame and keeps only what was committed before it.
    const survivors = sqliteEntryCount(crashed);
    expect(survivors).toBeGreaterThan(0);
    expect(survivors).toBeLessThan(200);
    expectDamaged(
      crashed,
      /WAL (fails its checksum at frame \d+ of \d+, followed by a later transaction|has foreign bytes at frame)/,
    );
  });

  it('random bytes over the WAL header: refused (SQLite would ignore the whole WAL)', () => {
    member(50);
    const crashed = crashCopy();
    const fd = fs.openSync(`${crashed}-wal`, 'r+');
    fs.writeSync(fd, Buffer.from('this is not a WAL header at all!'), 0, 32, 0);
    fs.closeSync(fd);
    expect(sqliteEntryCount(crashed)).toBe(0);
    expectDamaged(crashed, /WAL header is damaged/);
  });

  it('a torn last transaction is what a crash leaves: it opens, without that transaction', () => {
    const s = member(30);
    const crashed = crashCopy('before');
    const walBefore = fs.statSync(`${crashed}-wal`).size;
    s.persist({ entries: entries(31, 31), hardState: { term: 1, vote: '', commit: 30 } });
    const after = crashCopy('after');
    const walAfter = fs.readFileSync(`${after}-wal`);
    expect(walAfter.length).toBeGreaterThan(walBefore);
    // Only part of the last transaction's frames reached the disk; the rest reads as zeros.
    const torn = Buffer.concat([
      walAfter.subarray(0, walBefore + 100),
      Buffer.alloc(walAfter.length - walBefore - 100),
    ]);
    fs.writeFileSync(`${after}-wal`, torn);
    const t = openStorage(after);
    expect(
      t
        .load()
        .entries.map((e) => e.index)
        .at(-1),
    ).toBe(30);
    // Cut off in the middle of a frame (kill -9 during the write): also fine.
    t.close();
    fs.writeFileSync(`${crashed}-wal`, walAfter.subarray(0, walBefore + 4000));
    expect(openStorage(crashed).load().entries).toHaveLength(30);
  });

  it('the WAL deleted: refused, the database alone is older than what was acknowledged', () => {
    member(100);
    const crashed = crashCopy();
    fs.rmSync(`${crashed}-wal`);
    expectDamaged(
      crashed,
      /holds no member identity, but the data dir was initialised as member 8e9e05c52164694d \(n1\).*WAL was probably lost/,
    );
  });

  it('the WAL deleted after a checkpoint: the epoch shows the loss', () => {
    const s = member(2);
    // SQLite checkpoints every 1000 pages (4 MB) and then restarts the WAL from its start.
    const walSalts = () => fs.readFileSync(`${file}-wal`).subarray(16, 24).toString('hex');
    const first = walSalts();
    let i = 3;
    const big = 'x'.repeat(60_000);
    while (walSalts() === first) {
      s.persist({
        entries: [{ index: i, term: 1, type: 'normal', data: big }],
        hardState: { term: 1, vote: '', commit: i - 1 },
      });
      i++;
    }
    s.persist({ entries: entries(i, i + 5), hardState: { term: 1, vote: '', commit: i } });
    const crashed = crashCopy();
    // Intact, it opens with everything.
    expect(openStorage(crashCopy('intact')).load().entries.at(-1)!.index).toBe(i + 5);
    // Without the WAL, the database holds what the checkpoint put there: an identity, but
    // not the newest generation's writes.
    fs.rmSync(`${crashed}-wal`);
    expect(sqliteEntryCount(crashed)).toBeLessThan(i + 5);
    expectDamaged(
      crashed,
      /older than what this member had made durable \(WAL epoch \d+, expected at least \d+\).*raftlab\.db-wal was lost/,
    );
  });

  it('a clean close leaves no WAL, and that is fine', () => {
    member(40).close();
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
    const t = openStorage();
    expect(t.load().entries).toHaveLength(40);
    expect(t.identity()).toEqual(WHO);
  });
});

describe('the database file', () => {
  it('truncated to 0 bytes with the marker present: refused, not a fresh start', () => {
    member(20);
    const crashed = crashCopy();
    fs.truncateSync(crashed, 0);
    expectDamaged(
      crashed,
      /the database is empty \(0 bytes\), but the data dir was initialised as member 8e9e05c52164694d \(n1\) of cluster cdf818194e3a8c32/,
    );
    expect(fs.statSync(crashed).size).toBe(0); // nothing written to it
  });

  it('deleted with its WAL present: refused', () => {
    member(20);
    const crashed = crashCopy();
    fs.rmSync(crashed);
    expectDamaged(
      crashed,
      /the database is missing \(its WAL raftlab\.db-wal is still there\), but the data dir was initialised/,
    );
    expect(fs.existsSync(crashed)).toBe(false);
    // Also without a marker (a data dir from before markers): SQLite would replay the WAL into a new file.
    fs.rmSync(markerFileFor(crashed));
    expect(() => openStorage(crashed)).toThrow(/the database is missing, but its WAL raftlab\.db-wal is still there/);
    expect(fs.existsSync(crashed)).toBe(false);
  });

  it('replaced by an empty SQLite database: refused', () => {
    member(5).close();
    fs.rmSync(file);
    const empty = new Database(file);
    empty.exec('CREATE TABLE t (x); DROP TABLE t'); // a valid SQLite file, with no tables
    empty.close();
    expect(fs.statSync(file).size).toBeGreaterThan(0);
    expectDamaged(file, /holds no raftlab data/);
  });

  it('replaced by another member’s database: refused', () => {
    const other = path.join(dir, 'other', 'raftlab.db');
    fs.mkdirSync(path.dirname(other));
    const o = openStorage(other);
    o.setIdentity({ ...WHO, memberId: 'aaaaaaaaaaaaaaaa' });
    o.close();
    member(5).close();
    fs.copyFileSync(other, file);
    expectDamaged(file, /belongs to member aaaaaaaaaaaaaaaa .* it was replaced/);
  });
});

describe('row checksums', () => {
  function edit(sql: string): void {
    const db = new Database(file);
    db.exec(sql);
    db.close();
  }

  it('a corrupted hard state row', () => {
    member(10).close();
    edit('UPDATE hard_state SET term = term + 1');
    expectDamaged(file, /the hard state \(term 2, vote none, commit 9\) fails its checksum/);
  });

  it('an entry whose data was flipped', () => {
    member(10).close();
    edit("UPDATE entries SET data = replace(data, '/k7', '/k8') WHERE idx = 7");
    expectDamaged(file, /log entry 7 \(term 1\) fails its checksum/);
  });

  it('an entry missing from the middle, and committed entries missing from the end', () => {
    member(10).close();
    edit('DELETE FROM entries WHERE idx = 4');
    expectDamaged(file, /not contiguous after index 0: expected 4, found 5/);
    edit('DELETE FROM entries WHERE idx >= 4');
    expectDamaged(file, /entries up to 9 are committed, but the log ends at 3/);
  });

  it('a damaged snapshot and a damaged identity', () => {
    const s = member(10);
    s.saveSnapshot({ meta: { index: 8, term: 1, conf: { voters: [WHO.memberId] } }, data: '{"store":1}' }, 5);
    s.close();
    edit(`UPDATE snapshot SET data = '{"store":2}'`);
    expectDamaged(file, /the snapshot at index 8 fails its checksum/);
    edit(`UPDATE snapshot SET data = '{"store":1}'; UPDATE meta SET value = 'n2' WHERE key = 'name'`);
    expect(() => openStorage()).toThrow(/the meta value name fails its checksum/);
  });

  // Rows whose checksums were made to match (a bug, or a hand edit) but whose values make no
  // sense: refused by the stored shapes' schemas (stored-shapes.ts), not taken as state.
  it('sound checksums over values that make no sense', () => {
    member(10).close();
    edit(`UPDATE hard_state SET term = -1, crc = ${hardStateCrc(-1, '', 9)}`);
    expectDamaged(file, /the hard_state row is damaged: term is not a whole number ≥ 0/);
    edit(
      `UPDATE hard_state SET term = 1, crc = ${hardStateCrc(1, '', 9)}; UPDATE entries SET term = -3, crc = ${entryCrc(4, -3, 'normal', 'x')}, data = 'x' WHERE idx = 4`,
    );
    expectDamaged(file, /the log entry row after index 3 is damaged: term is not a whole number ≥ 0/);
    edit(
      `UPDATE entries SET term = 1, crc = ${entryCrc(4, 1, 'normal', 'x')} WHERE idx = 4; UPDATE meta SET value = 'many', crc = ${metaCrc('wal_epoch', 'many')} WHERE key = 'wal_epoch'`,
    );
    expect(() => openStorage()).toThrow(StorageDamagedError);
    expect(() => openStorage()).toThrow(/the meta value wal_epoch is damaged: not a count/);
    edit(`UPDATE meta SET value = '1', crc = ${metaCrc('wal_epoch', '1')} WHERE key = 'wal_epoch'`);
    openStorage().close();
    const voters = '[1,2]';
    edit(`INSERT INTO snapshot VALUES (1, 2, 1, '${voters}', '{}', ${snapshotCrc(2, 1, voters, '{}')})`);
    expectDamaged(file, /the snapshot's voters are not a JSON array of ids: \[1,2\]/);
  });

  it('a damaged marker', () => {
    member(3).close();
    const marker = markerFileFor(file);
    fs.writeFileSync(marker, fs.readFileSync(marker, 'utf8').replace('"n1"', '"n9"'));
    expect(() => openStorage()).toThrow(StorageDamagedError);
    expect(() => openStorage()).toThrow(/the member marker .*raftlab\.marker is damaged \(it fails its checksum\)/);
  });
});

describe('schema 1 data dirs', () => {
  it('are migrated in place: CRCs from what they hold, a marker from their identity', () => {
    // A schema 1 file, as raftlab wrote them before checksums.
    const db = new Database(file);
    db.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) STRICT, WITHOUT ROWID;
      CREATE TABLE hard_state (id INTEGER PRIMARY KEY CHECK (id = 1), term INTEGER NOT NULL, vote TEXT NOT NULL, commit_index INTEGER NOT NULL) STRICT;
      INSERT INTO hard_state VALUES (1, 3, 'n2', 4);
      CREATE TABLE entries (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type TEXT NOT NULL CHECK (type IN ('normal', 'conf')), data TEXT NOT NULL) STRICT;
      CREATE TABLE snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), idx INTEGER NOT NULL, term INTEGER NOT NULL, voters TEXT NOT NULL, data TEXT NOT NULL) STRICT;
      INSERT INTO snapshot VALUES (1, 2, 1, '["a"]', 'state');
      INSERT INTO entries VALUES (3, 2, 'normal', 'x'), (4, 3, 'conf', 'y'), (5, 3, 'normal', 'z');
      INSERT INTO meta VALUES ('member_id', '${WHO.memberId}'), ('cluster_id', '${WHO.clusterId}'), ('name', 'n1');
      PRAGMA application_id = ${0x724c6162};
      PRAGMA user_version = 1;
    `);
    db.pragma('journal_mode = WAL');
    db.close();
    const s = openStorage();
    expect(s.load()).toEqual({
      hardState: { term: 3, vote: 'n2', commit: 4 },
      snapshot: { meta: { index: 2, term: 1, conf: { voters: ['a'] } }, data: 'state' },
      entries: [
        { index: 3, term: 2, type: 'normal', data: 'x' },
        { index: 4, term: 3, type: 'conf', data: 'y' },
        { index: 5, term: 3, type: 'normal', data: 'z' },
      ],
    });
    expect(s.identity()).toEqual(WHO);
    expect(fs.existsSync(markerFileFor(file))).toBe(true);
    s.close();
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(2);
    check.close();
    // From now on it is guarded like any other.
    fs.truncateSync(file, 0);
    expectDamaged(file, /the database is empty/);
  });

  it('a future or unknown schema is still refused', () => {
    openStorage().close();
    const db = new Database(file);
    db.pragma('user_version = 0');
    db.close();
    expect(() => openStorage()).toThrow(StorageError);
  });
});

describe('no false alarm after real kill -9s', () => {
  it('a member killed 8 times mid-write, across WAL checkpoints, always reopens with everything it acknowledged', async () => {
    // Each round a child process opens the storage (it must open), checks what it loads, and
    // appends entries of ~8 KB, printing each index once persist returned; it is killed after
    // a varying number of them, sometimes in the middle of SQLite's checkpoint or of a raise
    // of the WAL epoch.
    const script = `
      import fs from 'node:fs';
      const { RaftStorage } = await import(${JSON.stringify(MODULE)});
      const s = RaftStorage.open(${JSON.stringify(file)});
      if (!s.identity()) s.setIdentity({ memberId: 'a1', clusterId: 'c1', name: 'n1' });
      const st = s.load();
      let i = st.entries.at(-1)?.index ?? 0;
      st.entries.forEach((e, k) => { if (e.index !== k + 1 || e.data !== 'x'.repeat(8000) + e.index) throw new Error('bad entry ' + e.index); });
      fs.writeSync(1, 'loaded ' + i + '\\n');
      for (;;) {
        i++;
        s.persist({ entries: [{ index: i, term: 1, type: 'normal', data: 'x'.repeat(8000) + i }], hardState: { term: 1, vote: 'a1', commit: i - 1 } });
        fs.writeSync(1, i + '\\n');
      }
    `;
    const rnd = seededRandom(5);
    let acked = 0;
    for (let round = 0; round < 8; round++) {
      const killAfter = acked + rnd.int(20, 700);
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      try {
        const { loaded, last } = await new Promise<{ loaded: number; last: number }>((resolve, reject) => {
          let buf = '';
          let loaded = -1;
          child.stdout.on('data', (d: Buffer) => {
            buf += d.toString();
            const lines = buf.split('\n');
            buf = lines.pop()!;
            for (const l of lines) {
              if (l.startsWith('loaded ')) loaded = Number(l.slice(7));
              else if (Number(l) >= killAfter) {
                child.kill('SIGKILL');
                resolve({ loaded, last: Number(l) });
              }
            }
          });
          child.on('exit', (code, signal) => {
            if (signal !== 'SIGKILL') reject(new Error(`round ${round}: the child exited (${code}): ${stderr}`));
          });
        });
        expect(loaded, `round ${round}`).toBeGreaterThanOrEqual(acked);
        acked = last;
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await new Promise<void>((r) =>
          child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r()),
        );
      }
    }
    const s = openStorage();
    expect(s.load().entries.length).toBeGreaterThanOrEqual(acked);
    expect(acked).toBeGreaterThan(8 * 20);
    // One raise at setIdentity, one per start, and one per WAL restart after a checkpoint.
    const epoch = (JSON.parse(fs.readFileSync(markerFileFor(file), 'utf8')) as { epoch: number }).epoch;
    expect(epoch).toBeGreaterThan(1 + 8 + 2);
  }, 120_000);
});
