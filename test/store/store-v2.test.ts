import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { V2Store } from '../../src-main/node/store-v2.js';
import { cleanPath } from '../../src-main/node/store-v2/tree.js';
import { isCreated, type V2Command, type V2Event } from '../../src-main/node/store-v2/types.js';
import { V2Error } from '../../src-main/node/store-v2/errors.js';
import { parseKeysRequest } from '../../src-main/node/api-v2/keys-request.js';

// Captured etcd 3.4 exchanges (see /work/shared/reference/README.md).
// Real etcd 3.4 exchanges captured on loopback (see test/fixtures/etcd-3.4-v2-samples/NOTES.md).
const SAMPLES = fileURLToPath(new URL('../fixtures/etcd-3.4-v2-samples', import.meta.url));
const T0 = Date.parse('2026-11-24T15:03:50.000Z');

interface Sample {
  method: string;
  keyPath: string;
  params: URLSearchParams;
  status: number;
  /** The JSON body line, or '' for a body-less exchange. */
  body: string;
}

/** Reads a sample: the request from its `# curl` line, the status line and the JSON body. */
function sample(name: string): Sample {
  const text = readFileSync(join(SAMPLES, `${name}.txt`), 'utf8');
  const curl = /^# curl -si(?: -X(\w+))?(?: --max-time \d+)? (\S+)(.*)$/m.exec(text);
  const [, method = 'GET', href, flags] = curl ?? [];
  if (href === undefined || flags === undefined) throw new Error(`no curl line in ${name}`);
  const url = new URL(href);
  // Go's r.Form puts body values before query values; FormValue takes the first.
  const params = new URLSearchParams();
  for (const d of flags.split(' -d ').slice(1)) {
    const eq = d.indexOf('=');
    params.append(d.slice(0, eq), d.slice(eq + 1));
  }
  for (const [k, v] of url.searchParams) params.append(k, v);
  const status = Number(/^HTTP\/1\.1 (\d+)/m.exec(text)![1]);
  const body =
    text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .pop() ?? '';
  return { method, keyPath: url.pathname.slice('/v2/keys'.length), params, status, body };
}

/** etcd prints nanoseconds; we have milliseconds. */
function msPrecision(body: string): string {
  return body.replace(/(\.\d{3})\d*Z/g, '$1Z');
}

/** What the API layer would answer for a non-watch request: status and body. */
function serve(store: V2Store, req: Omit<Sample, 'status' | 'body'>, now: number): { status: number; body: string } {
  try {
    const parsed = parseKeysRequest(req.method, req.keyPath, req.params, now);
    if ('watch' in parsed) throw new Error('use watch()');
    if ('read' in parsed) {
      const ev = store.get(parsed.read.path, parsed.read, now);
      return { status: 200, body: JSON.stringify(ev) };
    }
    const ev = store.apply(parsed);
    return { status: isCreated(ev) ? 201 : 200, body: JSON.stringify(ev) };
  } catch (err) {
    if (!(err instanceof V2Error)) throw err;
    return { status: err.httpStatus, body: JSON.stringify(err) };
  }
}

function expectSample(store: V2Store, name: string, now = T0): void {
  const s = sample(name);
  expect(serve(store, s, now)).toEqual({ status: s.status, body: msPrecision(s.body) });
}

function v2err(fn: () => unknown): V2Error {
  try {
    fn();
  } catch (err) {
    if (err instanceof V2Error) return err;
    throw err;
  }
  throw new Error('expected a V2Error');
}

const cmd = (op: V2Command['op'], path: string, extra: Partial<V2Command> = {}): V2Command => ({
  op,
  path,
  now: T0,
  ...extra,
});

function nextEvent(
  store: V2Store,
  path: string,
  opts: { recursive?: boolean; waitIndex?: number } = {},
): Promise<V2Event> {
  return new Promise((resolve) => store.watch(path, opts, resolve));
}

// ---------------------------------------------------------------------------------------------

describe('replaying the captured etcd 3.4 session', () => {
  // A 3-member etcd spends indexes 1-7 on membership and earlier samples; start where it did.
  const store = new V2Store({ initialIndex: 7 });

  it('set creates (201) then overwrites with prevNode (200); get reads it', () => {
    expectSample(store, '01-set-create');
    expectSample(store, '02-set-overwrite');
    expectSample(store, '03-get');
    expect(store.index).toBe(9);
  });

  it('missing keys are 100 with the current index', () => {
    expectSample(store, '04-get-missing');
    expectSample(store, '05-delete');
    expectSample(store, '05b-delete-missing');
  });

  it('prevExist=false creates or fails with 105; prevExist=true updates or fails with 100', () => {
    store.apply(cmd('set', '/samples/foo', { value: 'one' })); // index 11, as in the capture
    expectSample(store, '06-create-prevExist-false-conflict');
    expectSample(store, '06b-create-prevExist-false-ok');
    expectSample(store, '06c-update-prevExist-true-missing');
    expectSample(store, '06d-update-prevExist-true-ok');
  });

  it('compareAndSwap and compareAndDelete, failing then succeeding', () => {
    expectSample(store, '07-cas-fail');
    expectSample(store, '07b-cas-fail-index');
    expectSample(store, '07c-cas-ok');
    expectSample(store, '07d-cad-fail');
    expectSample(store, '07e-cad-ok');
  });

  it('directories: mkdir, listings, errors, recursive delete, root listing', () => {
    store.apply(cmd('set', '/samples-dir/a', { value: '1' }));
    store.apply(cmd('set', '/samples-dir/sub/b', { value: '2' }));
    expectSample(store, '08-mkdir');
    expectSample(store, '08b-dir-listing-recursive');
    expectSample(store, '08c-dir-listing'); // insertion order happens to be etcd's order here
    expectSample(store, '08d-put-on-dir');
    expectSample(store, '08e-delete-dir-nonrecursive');
    expectSample(store, '08f-delete-dir-recursive');
    expectSample(store, '08g-root');
  });

  it('TTL: set, get, bad ttl, refresh', () => {
    const setAt = Date.parse('2026-11-24T15:03:50.967Z');
    expectSample(store, '09-ttl-set', setAt);
    expectSample(store, '09b-ttl-get', setAt);
    const before = store.index;
    expectSample(store, '09c-ttl-bad');
    expect(store.index).toBe(before);
    expectSample(store, '09d-ttl-refresh', Date.parse('2026-11-24T15:03:51.036Z'));
  });

  it('POST creates an in-order key named by the zero-padded index', () => {
    expectSample(store, '10-post-inorder');
  });

  it('watches: wait, waitIndex, recursive dir without events, waitIndex=1', async () => {
    const s = sample('11-watch-wait');
    const req = parseKeysRequest(s.method, s.keyPath, s.params, T0);
    if (!('watch' in req)) throw new Error('expected a watch');
    let got: V2Event | undefined;
    const handle = store.watch(req.watch.path, req.watch, (e) => (got = e));
    expect(handle.startIndex).toBe(22); // the X-Etcd-Index etcd sent with the headers
    store.apply(cmd('set', '/samples/watched', { value: 'fired' }));
    expect(JSON.stringify(got)).toBe(s.body);

    for (const name of ['11b-watch-waitIndex', '11d-watch-waitIndex-1']) {
      const w = sample(name);
      const r = parseKeysRequest(w.method, w.keyPath, w.params, T0);
      if (!('watch' in r)) throw new Error('expected a watch');
      expect(JSON.stringify(await nextEvent(store, r.watch.path, r.watch))).toBe(w.body);
    }

    const quiet = store.watch('/samples', { recursive: true }, () => {
      throw new Error('nothing was written');
    });
    expect(store.stats().watchers).toBe(1);
    quiet.cancel();
    expect(store.stats().watchers).toBe(0);
  });

  it('waitIndex older than the 1000-event history is 401 (HTTP 400)', () => {
    for (let i = 0; i < 1100; i++) store.apply(cmd('set', '/samples/filler', { value: String(i) }));
    expect(store.index).toBe(1123);
    const s = sample('11e-watch-cleared');
    const err = v2err(() => store.watch('/samples/watched', { waitIndex: 1 }, () => {}));
    expect({ status: err.httpStatus, body: JSON.stringify(err) }).toEqual({ status: s.status, body: s.body });
  });

  it('writing under a file is 104 naming the file', () => {
    const s = sample('20c-key-under-file');
    const got = serve(store, s, T0);
    expect(got.status).toBe(s.status);
    expect(JSON.parse(got.body)).toEqual({ ...JSON.parse(s.body), index: store.index });
  });

  it('store stats have etcd’s fields in etcd’s order', () => {
    const expected = Object.keys(JSON.parse(sample('18-stats-store').body));
    expect(Object.keys(store.stats())).toEqual(expected);
    expect(store.stats()).toMatchObject({
      setsSuccess: 1108,
      getsFail: 1,
      compareAndSwapFail: 2,
      compareAndDeleteSuccess: 1,
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('errors', () => {
  it('serializes like etcd, omitting an empty cause, with etcd’s HTTP statuses', () => {
    expect(JSON.stringify(new V2Error(100, '/foo', 7))).toBe(
      '{"errorCode":100,"message":"Key not found","cause":"/foo","index":7}',
    );
    expect(JSON.stringify(new V2Error(300, '', 3))).toBe('{"errorCode":300,"message":"Raft Internal Error","index":3}');
    const statuses = [100, 101, 102, 104, 105, 107, 108, 202, 401].map((c) => [c, new V2Error(c).httpStatus]);
    expect(statuses).toEqual([
      [100, 404],
      [101, 412],
      [102, 403],
      [104, 400],
      [105, 412],
      [107, 400],
      [108, 403],
      [202, 400],
      [401, 400],
    ]);
  });

  it('a missing key names the first missing component', () => {
    const s = new V2Store();
    s.apply(cmd('set', '/a/x', { value: '1' }));
    expect(v2err(() => s.get('/a/b/c', {}, T0)).toJSON()).toEqual({
      errorCode: 100,
      message: 'Key not found',
      cause: '/a/b',
      index: 1,
    });
    expect(v2err(() => s.get('/z/b', {}, T0)).cause).toBe('/z');
  });

  it('walking through a file is 104 naming the file, for reads and writes', () => {
    const s = new V2Store();
    s.apply(cmd('set', '/f', { value: '1' }));
    expect(v2err(() => s.get('/f/x/y', {}, T0)).toJSON()).toMatchObject({ errorCode: 104, cause: '/f' });
    expect(v2err(() => s.apply(cmd('create', '/f/x/y', { value: '1' }))).toJSON()).toMatchObject({
      errorCode: 104,
      cause: '/f',
    });
    expect(v2err(() => s.apply(cmd('createInOrder', '/f', { value: '1' }))).toJSON()).toMatchObject({
      errorCode: 104,
      cause: '/f',
    });
  });

  it('the root is read only (107), except that compareAndDelete fails as 102 like etcd', () => {
    const s = new V2Store();
    for (const op of ['set', 'create', 'update', 'compareAndSwap', 'delete'] as const) {
      const e = v2err(() => s.apply(cmd(op, '/', { value: 'x', prevValue: 'y', recursive: true })));
      expect(e.toJSON(), op).toEqual({ errorCode: 107, message: 'Root is read only', cause: '/', index: 0 });
    }
    expect(v2err(() => s.apply(cmd('compareAndDelete', '/', { prevValue: 'x' }))).toJSON()).toEqual({
      errorCode: 102,
      message: 'Not a file',
      index: 0,
    });
  });

  it('failures do not advance the index and are counted', () => {
    const s = new V2Store();
    s.apply(cmd('set', '/k', { value: 'v' }));
    v2err(() => s.apply(cmd('create', '/k', { value: 'v' })));
    v2err(() => s.apply(cmd('update', '/nope', { value: 'v' })));
    v2err(() => s.apply(cmd('delete', '/nope')));
    expect(s.index).toBe(1);
    expect(s.stats()).toMatchObject({ setsSuccess: 1, createFail: 1, updateFail: 1, deleteFail: 1 });
  });
});

describe('compare-and-swap / compare-and-delete', () => {
  const setup = () => {
    const s = new V2Store({ initialIndex: 7 });
    s.apply(cmd('set', '/k', { value: 'one' })); // modifiedIndex 8
    return s;
  };

  it('reports each mismatch with etcd’s cause text', () => {
    const s = setup();
    expect(v2err(() => s.apply(cmd('compareAndSwap', '/k', { prevValue: 'two', value: 'x' }))).cause).toBe(
      '[two != one]',
    );
    expect(v2err(() => s.apply(cmd('compareAndSwap', '/k', { prevIndex: 5, value: 'x' }))).cause).toBe('[5 != 8]');
    const both = v2err(() => s.apply(cmd('compareAndSwap', '/k', { prevValue: 'two', prevIndex: 5, value: 'x' })));
    expect(both.toJSON()).toEqual({
      errorCode: 101,
      message: 'Compare failed',
      cause: '[two != one] [5 != 8]',
      index: 8,
    });
    expect(both.httpStatus).toBe(412);
    expect(v2err(() => s.apply(cmd('compareAndDelete', '/k', { prevIndex: 5 }))).cause).toBe('[5 != 8]');
  });

  it('succeeds when every given condition holds', () => {
    const s = setup();
    const ev = s.apply(cmd('compareAndSwap', '/k', { prevValue: 'one', prevIndex: 8, value: 'two' }));
    expect(ev).toEqual({
      action: 'compareAndSwap',
      node: { key: '/k', value: 'two', modifiedIndex: 9, createdIndex: 8 },
      prevNode: { key: '/k', value: 'one', modifiedIndex: 8, createdIndex: 8 },
    });
    expect(s.apply(cmd('compareAndDelete', '/k', { prevIndex: 9 }))).toEqual({
      action: 'compareAndDelete',
      node: { key: '/k', modifiedIndex: 10, createdIndex: 8 },
      prevNode: { key: '/k', value: 'two', modifiedIndex: 9, createdIndex: 8 },
    });
  });

  it('refuses directories (102) and missing keys (100)', () => {
    const s = setup();
    s.apply(cmd('set', '/d', { dir: true }));
    expect(v2err(() => s.apply(cmd('compareAndSwap', '/d', { prevValue: 'x', value: 'y' }))).toJSON()).toMatchObject({
      errorCode: 102,
      cause: '/d',
    });
    expect(v2err(() => s.apply(cmd('compareAndDelete', '/d', { prevValue: 'x' }))).toJSON()).toMatchObject({
      errorCode: 102,
      cause: '/d',
    });
    expect(v2err(() => s.apply(cmd('compareAndSwap', '/nope', { prevValue: 'x', value: 'y' }))).errorCode).toBe(100);
  });
});

describe('directories', () => {
  it('delete: a dir needs dir/recursive (102); a non-empty one needs recursive (108)', () => {
    const s = new V2Store();
    s.apply(cmd('set', '/d/e', { dir: true }));
    s.apply(cmd('set', '/d/f', { value: '1' }));
    expect(v2err(() => s.apply(cmd('delete', '/d'))).toJSON()).toMatchObject({ errorCode: 102, cause: '/d' });
    const notEmpty = v2err(() => s.apply(cmd('delete', '/d', { dir: true })));
    expect([notEmpty.errorCode, notEmpty.cause, notEmpty.httpStatus]).toEqual([108, '/d', 403]);
    expect(s.apply(cmd('delete', '/d/e', { dir: true })).node).toEqual({
      key: '/d/e',
      dir: true,
      modifiedIndex: 3,
      createdIndex: 1,
    });
    const ev = s.apply(cmd('delete', '/d', { recursive: true }));
    expect(ev.prevNode).toEqual({ key: '/d', dir: true, modifiedIndex: 1, createdIndex: 1 });
    expect(v2err(() => s.get('/d/f', {}, T0)).cause).toBe('/d');
    expect(s.get('/', {}, T0)).toEqual({ action: 'get', node: { dir: true } });
  });

  it('set dir=true replaces a file, but not a directory (102)', () => {
    const s = new V2Store();
    s.apply(cmd('set', '/x', { value: 'file' }));
    const ev = s.apply(cmd('set', '/x', { dir: true, value: 'ignored' }));
    expect(ev).toEqual({
      action: 'set',
      node: { key: '/x', dir: true, modifiedIndex: 2, createdIndex: 2 },
      prevNode: { key: '/x', value: 'file', modifiedIndex: 1, createdIndex: 1 },
    });
    expect(v2err(() => s.apply(cmd('set', '/x', { dir: true }))).toJSON()).toMatchObject({
      errorCode: 102,
      cause: '/x',
    });
  });

  it('update on a dir changes only its TTL; a value is 102', () => {
    const s = new V2Store();
    s.apply(cmd('set', '/d', { dir: true }));
    expect(v2err(() => s.apply(cmd('update', '/d', { value: 'x' }))).errorCode).toBe(102);
    const ev = s.apply(cmd('update', '/d', { ttl: 10 }));
    expect(ev.node).toMatchObject({ key: '/d', dir: true, ttl: 10, modifiedIndex: 2, createdIndex: 1 });
    expect(ev.node).not.toHaveProperty('value');
    // etcd 3.4 leaves the directory's own modifiedIndex alone.
    expect(s.get('/d', {}, T0).node.modifiedIndex).toBe(1);
  });

  it('missing parents are created with the write’s index', () => {
    const s = new V2Store();
    s.apply(cmd('set', '/a/b/c', { value: '1' }));
    expect(s.get('/a', { recursive: true }, T0).node).toEqual({
      key: '/a',
      dir: true,
      nodes: [
        {
          key: '/a/b',
          dir: true,
          nodes: [{ key: '/a/b/c', value: '1', modifiedIndex: 1, createdIndex: 1 }],
          modifiedIndex: 1,
          createdIndex: 1,
        },
      ],
      modifiedIndex: 1,
      createdIndex: 1,
    });
  });

  it('hides keys starting with "_" from listings, not from direct reads', () => {
    const s = new V2Store();
    s.apply(cmd('set', '/d/_hidden', { value: 'h' }));
    s.apply(cmd('set', '/d/sub/_deep', { value: 'h' }));
    s.apply(cmd('set', '/d/shown', { value: 's' }));
    const listing = s.get('/d', { recursive: true, sorted: true }, T0).node.nodes!;
    expect(listing.map((n) => n.key)).toEqual(['/d/shown', '/d/sub']);
    expect(listing[1]).not.toHaveProperty('nodes');
    expect(s.get('/d/_hidden', {}, T0).node.value).toBe('h');
  });

  it('sorted listings compare keys bytewise like Go', () => {
    const s = new V2Store();
    for (const k of ['b', 'B', 'a', '\u{1F600}', '\uFF21', '10', '9']) s.apply(cmd('set', `/d/${k}`, { value: '' }));
    const keys = s.get('/d', { sorted: true }, T0).node.nodes!.map((n) => n.key);
    expect(keys).toEqual(['/d/10', '/d/9', '/d/B', '/d/a', '/d/b', '/d/\uFF21', '/d/\u{1F600}']);
    // Unsorted listings are deterministic too: insertion order.
    expect(s.get('/d', {}, T0).node.nodes!.map((n) => n.key)[0]).toBe('/d/b');
  });

  it('an empty value is kept as ""', () => {
    const s = new V2Store();
    expect(s.apply(cmd('set', '/e', {})).node).toEqual({ key: '/e', value: '', modifiedIndex: 1, createdIndex: 1 });
  });
});

describe('in-order keys', () => {
  it('POST names keys by the next index, zero-padded to 20 digits', () => {
    const s = new V2Store({ initialIndex: 21 });
    const a = s.apply(cmd('createInOrder', '/q', { value: 'job1' }));
    s.apply(cmd('set', '/other', { value: 'x' }));
    const b = s.apply(cmd('createInOrder', '/q', { value: 'job2' }));
    expect(a).toEqual({
      action: 'create',
      node: { key: '/q/00000000000000000022', value: 'job1', modifiedIndex: 22, createdIndex: 22 },
    });
    expect(b.node.key).toBe('/q/00000000000000000024');
    expect(s.get('/q', { sorted: true }, T0).node.nodes!.map((n) => n.value)).toEqual(['job1', 'job2']);
    expect(s.apply(cmd('createInOrder', '/', { value: 'top' })).node.key).toBe('/00000000000000000025');
    expect(s.stats().createSuccess).toBe(3);
  });
});

describe('TTL and expiration', () => {
  const at = (s: number) => T0 + s * 1000;

  it('reports expiration and the remaining seconds, rounded up, from the given now', () => {
    const s = new V2Store();
    const ev = s.apply(cmd('set', '/k', { value: 'v', ttl: 60, now: at(0.5) }));
    expect(ev.node).toEqual({
      key: '/k',
      value: 'v',
      expiration: '2026-11-24T15:04:50.5Z',
      ttl: 60,
      modifiedIndex: 1,
      createdIndex: 1,
    });
    expect(s.get('/k', {}, at(30)).node.ttl).toBe(31);
    expect(s.get('/k', {}, at(60.4)).node.ttl).toBe(1);
    expect(s.get('/k', {}, at(60.5)).node).not.toHaveProperty('ttl'); // 0 is omitted, as in Go
    expect(s.get('/k', {}, at(62)).node.ttl).toBe(-1); // still there until the expire is applied
    s.apply(cmd('set', '/whole', { value: 'v', ttl: 1 }));
    expect(s.get('/whole', {}, T0).node.expiration).toBe('2026-11-24T15:03:51Z');
  });

  it('expiredKeys lists keys due at now, earliest first; expire deletes with action "expire"', () => {
    const s = new V2Store();
    s.apply(cmd('set', '/late', { value: 'v', ttl: 20 }));
    s.apply(cmd('set', '/early', { value: 'v', ttl: 10 }));
    s.apply(cmd('set', '/forever', { value: 'v' }));
    expect(s.expiredKeys(at(9.999))).toEqual([]);
    expect(s.expiredKeys(at(10))).toEqual(['/early']);
    expect(s.expiredKeys(at(30))).toEqual(['/early', '/late']);

    const ev = s.apply(cmd('expire', '/early', { now: at(10.3) }));
    expect(ev).toEqual({
      action: 'expire',
      node: { key: '/early', modifiedIndex: 4, createdIndex: 2 },
      prevNode: { key: '/early', value: 'v', expiration: '2026-11-24T15:04:00Z', modifiedIndex: 2, createdIndex: 2 },
    });
    expect(v2err(() => s.get('/early', {}, at(11))).errorCode).toBe(100);
    expect(s.stats().expireCount).toBe(1);
  });

  it('expire is refused when the key got a new TTL or vanished since it was proposed', () => {
    const s = new V2Store();
    s.apply(cmd('set', '/k', { value: 'v', ttl: 5 }));
    s.apply(cmd('update', '/k', { refresh: true, ttl: 60, now: at(4) }));
    expect(v2err(() => s.apply(cmd('expire', '/k', { now: at(6) }))).errorCode).toBe(101);
    expect(v2err(() => s.apply(cmd('expire', '/gone', { now: at(6) }))).errorCode).toBe(100);
    expect(s.index).toBe(2);
    expect(s.stats().expireCount).toBe(0);
  });

  it('a write without ttl makes the key permanent again', () => {
    const s = new V2Store();
    s.apply(cmd('set', '/a', { value: 'v', ttl: 5 }));
    s.apply(cmd('set', '/b', { value: 'v', ttl: 5 }));
    s.apply(cmd('set', '/a', { value: 'w' }));
    s.apply(cmd('update', '/b', { value: 'w', ttl: null }));
    expect(s.get('/a', {}, T0).node).not.toHaveProperty('expiration');
    expect(s.get('/b', {}, T0).node).not.toHaveProperty('expiration');
    expect(s.expiredKeys(at(100))).toEqual([]);
  });

  it('refresh keeps the value, resets the TTL and wakes no watcher', () => {
    const s = new V2Store();
    s.apply(cmd('set', '/k', { value: 'v', ttl: 5 }));
    let woken = false;
    s.watch('/k', {}, () => (woken = true));
    const viaSet = s.apply(cmd('set', '/k', { refresh: true, ttl: 30, now: at(1) }));
    expect(viaSet).toMatchObject({ action: 'set', node: { value: 'v', ttl: 30, modifiedIndex: 2, createdIndex: 2 } });
    const viaUpdate = s.apply(cmd('update', '/k', { refresh: true, ttl: 60, now: at(2) }));
    expect(viaUpdate).toMatchObject({
      action: 'update',
      node: { value: 'v', ttl: 60, createdIndex: 2 },
      prevNode: { ttl: 29 },
    });
    expect(woken).toBe(false);
    expect(v2err(() => s.apply(cmd('set', '/missing', { refresh: true, ttl: 5 }))).errorCode).toBe(100);
  });

  it('an expiring directory takes its children along and wakes their watchers', async () => {
    const s = new V2Store();
    s.apply(cmd('set', '/d', { dir: true, ttl: 5 }));
    s.apply(cmd('set', '/d/child', { value: 'c' }));
    const child = nextEvent(s, '/d/child');
    expect(s.expiredKeys(at(5))).toEqual(['/d']);
    s.apply(cmd('expire', '/d', { now: at(5) }));
    expect(await child).toMatchObject({ action: 'expire', node: { key: '/d', dir: true, modifiedIndex: 3 } });
    expect(v2err(() => s.get('/d/child', {}, at(6))).cause).toBe('/d');
  });

  it('ttl=0 expires at once (no ttl field); expirations before 2000 count as permanent', () => {
    const s = new V2Store();
    const ev = s.apply(cmd('set', '/zero', { value: 'v', ttl: 0 }));
    expect(ev.node).toEqual({
      key: '/zero',
      value: 'v',
      expiration: '2026-11-24T15:03:50Z',
      modifiedIndex: 1,
      createdIndex: 1,
    });
    expect(s.expiredKeys(T0)).toEqual(['/zero']);
    const old = s.apply({ op: 'set', path: '/old', value: 'v', ttl: 60, now: 0 });
    expect(old.node).not.toHaveProperty('expiration');
  });
});

describe('watches', () => {
  it('a plain watch fires once on the key, with prevNode', () => {
    const s = new V2Store();
    s.apply(cmd('set', '/k', { value: 'a' }));
    const seen: V2Event[] = [];
    s.watch('/k', {}, (e) => seen.push(e));
    s.apply(cmd('set', '/other', { value: 'x' }));
    s.apply(cmd('set', '/k', { value: 'b' }));
    s.apply(cmd('set', '/k', { value: 'c' }));
    expect(seen).toEqual([
      {
        action: 'set',
        node: { key: '/k', value: 'b', modifiedIndex: 3, createdIndex: 3 },
        prevNode: { key: '/k', value: 'a', modifiedIndex: 1, createdIndex: 1 },
      },
    ]);
    expect(s.stats().watchers).toBe(0);
  });

  it('a non-recursive watch on a dir ignores its children; a recursive one sees them', () => {
    const s = new V2Store();
    s.apply(cmd('set', '/d', { dir: true }));
    const plain: V2Event[] = [];
    const deep: V2Event[] = [];
    s.watch('/d', {}, (e) => plain.push(e));
    s.watch('/d', { recursive: true }, (e) => deep.push(e));
    s.apply(cmd('set', '/d/x/y', { value: '1' }));
    expect(plain).toEqual([]);
    expect(deep.map((e) => e.node.key)).toEqual(['/d/x/y']);
    s.apply(cmd('delete', '/d', { recursive: true }));
    expect(plain.map((e) => [e.action, e.node.key])).toEqual([['delete', '/d']]);
  });

  it('a recursive watch skips hidden keys below it; a watch on the hidden key itself fires', () => {
    const s = new V2Store();
    const deep: V2Event[] = [];
    const exact: V2Event[] = [];
    s.watch('/', { recursive: true }, (e) => deep.push(e));
    s.watch('/d/_h', {}, (e) => exact.push(e));
    s.apply(cmd('set', '/d/_h', { value: '1' }));
    s.apply(cmd('set', '/d/_dir/inner', { value: '2' })); // anything under a hidden dir is hidden too
    expect(deep).toEqual([]);
    expect(exact).toHaveLength(1);
    s.apply(cmd('set', '/d/shown', { value: '1' }));
    expect(deep.map((e) => e.node.key)).toEqual(['/d/shown']);
  });

  it('deleting a directory wakes watchers on the keys inside it', () => {
    const s = new V2Store();
    s.apply(cmd('set', '/d/a/b', { value: '1' }));
    const seen: V2Event[] = [];
    s.watch('/d/a/b', {}, (e) => seen.push(e));
    s.apply(cmd('delete', '/d', { recursive: true }));
    expect(seen).toEqual([
      {
        action: 'delete',
        node: { key: '/d', dir: true, modifiedIndex: 2, createdIndex: 1 },
        prevNode: { key: '/d', dir: true, modifiedIndex: 1, createdIndex: 1 },
      },
    ]);
  });

  it('waitIndex serves the first matching event at or after it from history', async () => {
    const s = new V2Store();
    s.apply(cmd('set', '/k', { value: '1' })); // 1
    s.apply(cmd('set', '/d/x', { value: '1' })); // 2
    s.apply(cmd('set', '/k', { value: '2' })); // 3
    s.apply(cmd('update', '/k', { refresh: true, ttl: 9 })); // 4: refreshes never match
    expect((await nextEvent(s, '/k', { waitIndex: 1 })).node.value).toBe('1');
    expect((await nextEvent(s, '/k', { waitIndex: 2 })).node.value).toBe('2');
    expect((await nextEvent(s, '/d', { waitIndex: 1, recursive: true })).node.key).toBe('/d/x');

    // Nothing matching yet (the refresh at 4 is skipped): waits for a later write.
    const later = nextEvent(s, '/k', { waitIndex: 4 });
    s.apply(cmd('set', '/k', { value: '3' })); // 5
    expect((await later).node.modifiedIndex).toBe(5);
  });

  it('a future waitIndex waits for that index', () => {
    const s = new V2Store();
    const seen: number[] = [];
    s.watch('/k', { waitIndex: 3 }, (e) => seen.push(e.node.modifiedIndex!));
    s.apply(cmd('set', '/k', { value: '1' }));
    s.apply(cmd('set', '/k', { value: '2' }));
    expect(seen).toEqual([]);
    s.apply(cmd('set', '/k', { value: '3' }));
    expect(seen).toEqual([3]);
  });

  it('a deleted directory in history matches watches below it', async () => {
    const s = new V2Store();
    s.apply(cmd('set', '/d/x', { value: '1' }));
    s.apply(cmd('delete', '/d', { recursive: true }));
    const ev = await nextEvent(s, '/d/x/deeper', { waitIndex: 2 });
    expect([ev.action, ev.node.key]).toEqual(['delete', '/d']);
  });

  it('the history holds the last 1000 events; older waitIndex is 401', async () => {
    const s = new V2Store();
    for (let i = 1; i <= 1001; i++) s.apply(cmd('set', '/k', { value: String(i) }));
    const err = v2err(() => s.watch('/k', { waitIndex: 1 }, () => {}));
    expect(err.toJSON()).toEqual({
      errorCode: 401,
      message: 'The event in requested index is outdated and cleared',
      cause: 'the requested history has been cleared [2/1]',
      index: 1001,
    });
    expect(err.httpStatus).toBe(400);
    expect((await nextEvent(s, '/k', { waitIndex: 2 })).node.value).toBe('2');
  });

  it('cancel stops a watch, including one served from history', async () => {
    const s = new V2Store();
    s.apply(cmd('set', '/k', { value: '1' }));
    let fired = 0;
    s.watch('/k', {}, () => fired++).cancel();
    s.watch('/k', { waitIndex: 1 }, () => fired++).cancel();
    s.apply(cmd('set', '/k', { value: '2' }));
    await Promise.resolve();
    expect(fired).toBe(0);
    expect(s.stats().watchers).toBe(0);
  });

  it('callbacks run after the write completes and may use the store', () => {
    const s = new V2Store();
    const seen: string[] = [];
    const follow = (e: V2Event) => {
      seen.push(`${e.node.value}@${s.index}`);
      if (seen.length < 3) s.watch('/k', { waitIndex: e.node.modifiedIndex! + 1 }, follow);
    };
    s.watch('/k', {}, follow);
    s.apply(cmd('set', '/k', { value: 'a' }));
    s.apply(cmd('set', '/k', { value: 'b' }));
    s.apply(cmd('set', '/k', { value: 'c' }));
    s.apply(cmd('set', '/k', { value: 'd' }));
    expect(seen).toEqual(['a@1', 'b@2', 'c@3']);
  });

  it('events handed out are copies', () => {
    const s = new V2Store();
    const ev = s.apply(cmd('set', '/k', { value: '1' }));
    ev.node.value = 'tampered';
    let got: V2Event | undefined;
    s.watch('/k', { waitIndex: 1 }, (e) => (got = e));
    return Promise.resolve().then(() => expect(got!.node.value).toBe('1'));
  });
});

// ---------------------------------------------------------------------------------------------

/** A reproducible mixed workload (errors included) from a tiny LCG. */
function workload(n: number, seed = 42): V2Command[] {
  let x = seed;
  const rnd = (k: number) => ((x = (x * 1103515245 + 12345) % 2 ** 31), x % k);
  /** rnd(n) is 0..n-1, so the index is always in range. */
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
  const keys = ['/a', '/a/b', '/a/c', '/d', '/d/e/f', '/_h', '/q'];
  const ops: V2Command['op'][] = [
    'set',
    'set',
    'create',
    'update',
    'compareAndSwap',
    'delete',
    'compareAndDelete',
    'createInOrder',
  ];
  const cmds: V2Command[] = [];
  for (let i = 0; i < n; i++) {
    const now = T0 + i * 700;
    const op = pick(ops);
    const c: V2Command = { op, path: pick(keys), value: `v${rnd(3)}`, now };
    if (rnd(4) === 0) c.ttl = rnd(20);
    if (rnd(5) === 0) c.dir = true;
    if (rnd(3) === 0) c.recursive = true;
    if (op === 'compareAndSwap' || op === 'compareAndDelete') c.prevValue = `v${rnd(3)}`;
    cmds.push(c);
  }
  return cmds;
}

/** Applies commands like a node would, proposing expirations as the leader would. */
function run(store: V2Store, cmds: V2Command[], readBetween = false): void {
  for (const c of cmds) {
    for (const path of store.expiredKeys(c.now)) tryApply(store, { op: 'expire', path, now: c.now });
    tryApply(store, c);
    if (readBetween) {
      try {
        store.get(c.path, { recursive: true, sorted: true }, c.now);
      } catch {
        // reads may fail; they must not matter
      }
    }
  }
}

function tryApply(store: V2Store, c: V2Command): void {
  try {
    store.apply(c);
  } catch (err) {
    if (!(err instanceof V2Error)) throw err;
  }
}

describe('snapshot and determinism', () => {
  it('toJSON/fromJSON round-trips tree, index, TTLs, listing order and history', async () => {
    const s = new V2Store({ initialIndex: 3 });
    s.apply(cmd('set', '/z', { value: '1' }));
    s.apply(cmd('set', '/a/b', { value: '2', ttl: 30 }));
    s.apply(cmd('set', '/_hidden', { value: '3' }));
    s.apply(cmd('set', '/m', { dir: true, ttl: 100 }));
    const json = s.toJSON();
    const r = V2Store.fromJSON(json);
    expect(r.toJSON()).toBe(json);
    expect(r.index).toBe(7);
    expect(r.get('/', { recursive: true }, T0 + 1000)).toEqual(s.get('/', { recursive: true }, T0 + 1000));
    expect(r.expiredKeys(T0 + 30_000)).toEqual(['/a/b']);
    expect((await nextEvent(r, '/a', { recursive: true, waitIndex: 1 })).node.key).toBe('/a/b');
    expect(r.apply(cmd('set', '/n', { value: 'x' })).node.modifiedIndex).toBe(8);
    expect(r.stats().setsSuccess).toBe(5);
  });

  it('stores applying the same commands end identical, whatever they read meanwhile', () => {
    const cmds = workload(600);
    const a = new V2Store();
    const b = new V2Store();
    run(a, cmds);
    run(b, cmds, true);
    expect(a.index).toBeGreaterThan(200);
    expect(a.stats().expireCount).toBeGreaterThan(0);
    expect(() => a.apply({ op: 'toString' as V2Command['op'], path: '/x', now: T0 })).toThrow('unknown v2 op');
    expect(b.toJSON()).toBe(a.toJSON());

    // A node restored from a mid-way snapshot converges too.
    const c = new V2Store();
    run(c, cmds.slice(0, 300));
    const restored = V2Store.fromJSON(c.toJSON());
    run(restored, cmds.slice(300));
    expect(restored.toJSON()).toBe(a.toJSON());
  });
});

// ---------------------------------------------------------------------------------------------

describe('parseKeysRequest', () => {
  const q = (s: string) => new URLSearchParams(s);
  const parse = (method: string, path: string, query = '') => parseKeysRequest(method, path, q(query), T0);
  const parseErr = (method: string, query: string) => v2err(() => parse(method, '/k', query)).toJSON();

  it('maps methods and preconditions to ops like etcd', () => {
    const op = (method: string, query = '') => {
      const r = parse(method, '/k', query);
      return 'op' in r ? r.op : Object.keys(r)[0];
    };
    expect(op('PUT', 'value=v')).toBe('set');
    expect(op('PUT', 'prevExist=false')).toBe('create');
    expect(op('PUT', 'prevExist=true')).toBe('update');
    expect(op('PUT', 'prevExist=true&prevIndex=3')).toBe('compareAndSwap');
    expect(op('PUT', 'prevValue=x')).toBe('compareAndSwap');
    expect(op('PUT', 'prevIndex=0')).toBe('set'); // 0 means "not given"
    expect(op('POST', 'value=v')).toBe('createInOrder');
    expect(op('DELETE')).toBe('delete');
    expect(op('DELETE', 'prevIndex=4')).toBe('compareAndDelete');
    expect(op('GET')).toBe('read');
    expect(op('HEAD')).toBe('read');
    expect(op('GET', 'wait=true')).toBe('watch');
  });

  it('fills commands, reads and watches', () => {
    expect(parse('PUT', '/a//b/', 'value=v&ttl=5&dir=false')).toEqual({
      op: 'set',
      path: '/a/b',
      value: 'v',
      ttl: 5,
      now: T0,
    });
    expect(parse('DELETE', '/d', 'recursive=true&value=ignored')).toEqual({
      op: 'delete',
      path: '/d',
      recursive: true,
      now: T0,
    });
    expect(parse('PUT', '/k', 'prevValue=a&prevIndex=2&value=b&noValueOnSuccess=true')).toEqual({
      op: 'compareAndSwap',
      path: '/k',
      value: 'b',
      prevValue: 'a',
      prevIndex: 2,
      noValueOnSuccess: true,
      now: T0,
    });
    expect(parse('GET', '', 'recursive=1&sorted=T&quorum=True')).toEqual({
      read: { path: '/', recursive: true, sorted: true, quorum: true },
    });
    expect(parse('GET', '/d', 'wait=true&recursive=true&waitIndex=7')).toEqual({
      watch: { path: '/d', recursive: true, waitIndex: 7, stream: false },
    });
  });

  it('rejects bad fields with etcd’s codes, causes and index 0', () => {
    const ttlNaN = {
      errorCode: 202,
      message: 'The given TTL in POST form is not a number',
      cause: 'invalid value for "ttl"',
      index: 0,
    };
    expect(parseErr('PUT', 'value=x&ttl=abc')).toEqual(ttlNaN);
    expect(parseErr('PUT', 'value=x&ttl=-1')).toEqual(ttlNaN);
    expect(parseErr('PUT', 'value=x&ttl=1.5')).toEqual(ttlNaN);
    expect(parseErr('PUT', 'prevIndex=abc')).toEqual({
      errorCode: 203,
      message: 'The given index in POST form is not a number',
      cause: 'invalid value for "prevIndex"',
      index: 0,
    });
    expect(parseErr('GET', 'wait=true&waitIndex=x').cause).toBe('invalid value for "waitIndex"');
    expect(parseErr('GET', 'recursive=yes')).toEqual({
      errorCode: 209,
      message: 'Invalid field',
      cause: 'invalid value for "recursive"',
      index: 0,
    });
    expect(parseErr('PUT', 'prevExist=maybe').cause).toBe('invalid value for prevExist');
    expect(parseErr('PUT', 'wait=true').cause).toBe('"wait" can only be used with GET requests');
    expect(parseErr('PUT', 'prevValue=')).toEqual({
      errorCode: 201,
      message: 'PrevValue is Required in POST form',
      cause: '"prevValue" cannot be empty',
      index: 0,
    });
    expect(parseErr('PUT', 'refresh=true&ttl=5&value=v')).toEqual({
      errorCode: 211,
      message: 'Value provided on refresh',
      cause: 'A value was provided on a refresh',
      index: 0,
    });
    expect(parseErr('PUT', 'refresh=true').errorCode).toBe(212);
    expect(new V2Error(211).httpStatus).toBe(400);
  });

  it('PUT dir=true with a value creates a directory; on an existing directory it is 102', () => {
    const s = new V2Store();
    const put = (query: string) => serve(s, { method: 'PUT', keyPath: '/d', params: q(query) }, T0);
    expect(put('dir=true&value=ignored')).toEqual({
      status: 201,
      body: '{"action":"set","node":{"key":"/d","dir":true,"modifiedIndex":1,"createdIndex":1}}',
    });
    expect(put('dir=true')).toEqual({
      status: 403,
      body: '{"errorCode":102,"message":"Not a file","cause":"/d","index":1}',
    });
    expect(put('dir=true&prevExist=true&ttl=10').status).toBe(200); // etcdctl updatedir
  });

  it('an empty ttl= with prevExist=true clears the TTL', () => {
    const s = new V2Store();
    s.apply(parseKeysRequest('PUT', '/k', q('value=v&ttl=30'), T0) as V2Command);
    const ev = s.apply(parseKeysRequest('PUT', '/k', q('value=v&ttl=&prevExist=true'), T0) as V2Command);
    expect(ev.action).toBe('update');
    expect(ev.node).not.toHaveProperty('ttl');
    expect(ev.prevNode).toHaveProperty('ttl', 30);
  });

  it('a refresh through the parser is an update that keeps the value', () => {
    const s = new V2Store();
    s.apply(parseKeysRequest('PUT', '/k', q('value=v&ttl=30'), T0) as V2Command);
    const r = parseKeysRequest('PUT', '/k', q('ttl=90&refresh=true&prevExist=true'), T0 + 1000) as V2Command;
    expect(r).toEqual({ op: 'update', path: '/k', value: '', ttl: 90, refresh: true, now: T0 + 1000 });
    expect(s.apply(r).node).toMatchObject({ value: 'v', ttl: 90 });
  });

  it('cleans paths like Go’s path.Clean', () => {
    expect(['', '/', '//', '/a/', '/a/./b/../c', '/../x', 'rel'].map(cleanPath)).toEqual([
      '/',
      '/',
      '/',
      '/a',
      '/a/c',
      '/x',
      '/rel',
    ]);
  });
});

describe('lookup (get without a thrown "not found")', () => {
  /** The same tree in two stores: one read with get, the other with lookup. */
  const twin = () => {
    const s = new V2Store();
    s.apply({ op: 'set', path: '/dir/file', value: 'v', now: T0 });
    s.apply({ op: 'set', path: '/dir/_hidden', value: 'h', now: T0 });
    s.apply({ op: 'set', path: '/ttl', value: 't', ttl: 30, now: T0 });
    s.apply({ op: 'create', path: '/enabled', value: 'true', space: 'auth', now: T0 });
    return s;
  };
  const reads: [string, { recursive?: boolean; sorted?: boolean; space?: 'keys' | 'auth' }][] = [
    ['/dir/file', {}],
    ['/dir', { recursive: true, sorted: true }],
    ['/', {}],
    ['/ttl', {}],
    ['/missing', {}],
    ['/dir/missing/deeper', {}],
    ['/dir/file/under', {}], // through a file: 104, thrown by both
    ['/enabled', { space: 'auth' }],
    ['/enabled', {}],
    ['/users/root', { space: 'auth' }],
  ];

  it('answers what get answers, null where get throws 100, and counts alike in the stats', () => {
    const byGet = twin();
    const byLookup = twin();
    for (const [path, opts] of reads) {
      let expected: V2Event | V2Error | null;
      try {
        expected = byGet.get(path, opts, T0 + 1000);
      } catch (err) {
        if (!(err instanceof V2Error)) throw err;
        expected = err.errorCode === 100 ? null : err;
      }
      let got: V2Event | V2Error | null;
      try {
        got = byLookup.lookup(path, opts, T0 + 1000);
      } catch (err) {
        if (!(err instanceof V2Error)) throw err;
        got = err;
      }
      expect({ path, opts, got }).toEqual({ path, opts, got: expected });
    }
    expect(byLookup.stats()).toEqual(byGet.stats());
    expect(byLookup.stats()).toMatchObject({ getsSuccess: 5, getsFail: 5 });
  });
});

describe('the events apply hands out', () => {
  it('are deep copies: equal to the history’s, field order included, and changing one changes nothing kept', async () => {
    const s = new V2Store();
    const events: V2Event[] = [
      s.apply({ op: 'set', path: '/d/a', value: 'v', ttl: 30, now: T0 }),
      s.apply({ op: 'set', path: '/d/a', value: 'w', now: T0 }),
      s.apply({ op: 'update', path: '/d/a', value: 'x', now: T0 }),
      s.apply({ op: 'compareAndSwap', path: '/d/a', prevValue: 'x', value: 'y', now: T0 }),
      s.apply({ op: 'createInOrder', path: '/q', value: 'z', now: T0 }),
      s.apply({ op: 'set', path: '/e', dir: true, now: T0 }),
      s.apply({ op: 'delete', path: '/d', recursive: true, now: T0 }),
    ];
    for (const e of events) {
      const copy = structuredClone(e);
      const history = await new Promise<V2Event>((resolve) =>
        s.watch(e.node.key ?? '/', { waitIndex: e.node.modifiedIndex ?? 0 }, resolve),
      );
      expect(JSON.stringify(history)).toBe(JSON.stringify(e));
      e.node.value = 'changed';
      if (e.prevNode) e.prevNode.key = '/changed';
      const again = await new Promise<V2Event>((resolve) =>
        s.watch(copy.node.key ?? '/', { waitIndex: copy.node.modifiedIndex ?? 0 }, resolve),
      );
      expect(JSON.stringify(again)).toBe(JSON.stringify(copy));
    }
  });
});
