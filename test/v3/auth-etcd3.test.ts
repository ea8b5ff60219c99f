// A second real v3 client with auth: the `etcd3` npm package (grpc-js; the token in the "token"
// metadata) against our gRPC server and against a real etcd 3.4, the same calls on both: users
// and roles made through its API, auth enabled, then a user's client allowed and refused, and a
// wrong password. Each answer (a value, or the error's class and message) must be etcd's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Etcd3, Range } from 'etcd3';
import { needTools } from '../helpers/window.js';
import { ETCD_BIN } from '../helpers/etcd-processes.js';
import { MemoryBackend } from '../../src-main/v3/memory-backend.js';
import { V3GrpcServer } from '../../src-main/v3/grpc-server.js';
import { RealEtcd } from './v3-harness.js';

const have = needTools('the etcd3 client with auth against a real etcd', [ETCD_BIN]);

/** A call's value, or its error as "<class>: <message>". */
const outcome = (p: Promise<unknown>) =>
  p.then(
    (v) => ({ ok: v }),
    (e: Error) => ({ error: `${e.constructor.name}: ${e.message}` }),
  );

describe.runIf(have)('the etcd3 client with auth, against ours and etcd 3.4', () => {
  let etcd: RealEtcd;
  let backend: MemoryBackend;
  let server: V3GrpcServer;
  const hosts = { ours: '', etcd: '' };
  const clients: Etcd3[] = [];
  const client = (side: 'ours' | 'etcd', auth?: { username: string; password: string }) => {
    const c = new Etcd3({ hosts: hosts[side], auth, dialTimeout: 5000 });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    etcd = await RealEtcd.start();
    backend = new MemoryBackend({});
    server = new V3GrpcServer(backend);
    hosts.ours = `http://127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
    hosts.etcd = etcd.url;
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await server?.close(0);
    backend?.close();
    await etcd?.stop();
  });

  it('makes users and roles, enables auth, and is allowed and refused as etcd allows and refuses', async () => {
    const each = async (f: (side: 'ours' | 'etcd') => Promise<unknown>) => {
      const [a, b] = await Promise.all([outcome(f('ours')), outcome(f('etcd'))]);
      return { ours: a, etcd: b };
    };
    const admin = { ours: client('ours'), etcd: client('etcd') };
    const steps: [string, (side: 'ours' | 'etcd') => Promise<unknown>][] = [
      [
        'root user',
        (s) =>
          admin[s]
            .user('root')
            .create('rootpw')
            .then(() => 'created'),
      ],
      [
        'root role',
        (s) =>
          admin[s]
            .role('root')
            .create()
            .then(() => 'created'),
      ],
      [
        'root granted root',
        (s) =>
          admin[s]
            .user('root')
            .addRole('root')
            .then(() => 'granted'),
      ],
      [
        'dave user',
        (s) =>
          admin[s]
            .user('dave')
            .create('davepw')
            .then(() => 'created'),
      ],
      [
        'dave again',
        (s) =>
          admin[s]
            .user('dave')
            .create('other')
            .then(() => 'created'),
      ],
      [
        'kv role',
        (s) =>
          admin[s]
            .role('kv')
            .create()
            .then(() => 'created'),
      ],
      [
        'kv grant',
        (s) =>
          admin[s]
            .role('kv')
            .grant({ permission: 'Readwrite', range: Range.prefix('d/') })
            .then(() => 'granted'),
      ],
      [
        'kv permissions',
        (s) =>
          admin[s]
            .role('kv')
            .permissions()
            .then((ps) => ps.map((p) => `${p.permission} ${p.range.start.toString()}..${p.range.end.toString()}`)),
      ],
      [
        'dave granted kv',
        (s) =>
          admin[s]
            .user('dave')
            .addRole('kv')
            .then(() => 'granted'),
      ],
      ['users', (s) => admin[s].getUsers().then((us) => us.map((u) => u.name))],
      ['auth enable', (s) => admin[s].auth.authEnable().then(() => 'enabled')],
    ];
    for (const [what, f] of steps) {
      const r = await each(f);
      expect(r.ours, what).toEqual(r.etcd);
    }
    const dave = {
      ours: client('ours', { username: 'dave', password: 'davepw' }),
      etcd: client('etcd', { username: 'dave', password: 'davepw' }),
    };
    const wrong = {
      ours: client('ours', { username: 'dave', password: 'nope' }),
      etcd: client('etcd', { username: 'dave', password: 'nope' }),
    };
    const asUser: [string, (side: 'ours' | 'etcd') => Promise<unknown>][] = [
      [
        'put in the prefix',
        (s) =>
          dave[s]
            .put('d/1')
            .value('v')
            .then(() => 'ok'),
      ],
      ['get in the prefix', (s) => dave[s].get('d/1').string()],
      ['get the prefix', (s) => dave[s].getAll().prefix('d/').strings()],
      [
        'put outside',
        (s) =>
          dave[s]
            .put('x')
            .value('v')
            .then(() => 'ok'),
      ],
      ['get outside', (s) => dave[s].get('x').string()],
      ['get everything', (s) => dave[s].getAll().strings()],
      ['user list as dave', (s) => dave[s].getUsers().then((us) => us.map((u) => u.name))],
      ['a wrong password', (s) => wrong[s].get('d/1').string()],
      ['no token at all', (s) => admin[s].get('d/1').string()],
    ];
    const refused: string[] = [];
    for (const [what, f] of asUser) {
      const r = await each(f);
      expect(r.ours, what).toEqual(r.etcd);
      if ('error' in r.ours) refused.push(what);
    }
    expect(refused).toEqual([
      'put outside',
      'get outside',
      'get everything',
      'user list as dave',
      'a wrong password',
      'no token at all',
    ]);
  }, 60_000);
});
