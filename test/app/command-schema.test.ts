// The window's commands (src-shared/protocol.ts CommandSchema): each refusal names the command
// and the field, in the words the window shows; what passes comes back without stray fields.

import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src-shared/commands.js';
import { parseRequest } from '../../src-shared/protocol.js';
import { HIDDEN, redactCommand } from '../../src-shared/redact.js';

const refusals: [unknown, string][] = [
  [null, 'command must be an object'],
  ['startCluster', 'command must be an object'],
  [{}, 'unknown command "undefined"'],
  [{ type: 'formatDisk' }, 'unknown command "formatDisk"'],
  [{ type: 'startCluster' }, 'startCluster: size must be 1..7'],
  [{ type: 'startCluster', size: 2.5 }, 'startCluster: size must be 1..7'],
  [{ type: 'startCluster', size: 3, bootstrap: 'gossip' }, 'startCluster: bootstrap must be static, discovery or dns'],
  [
    { type: 'startCluster', size: 3, bootstrap: 'discovery', discoveryService: 'ftp://h' },
    'startCluster: discoveryService must be an http(s) URL of a v2 keys API, like http://127.0.0.1:2379',
  ],
  [
    { type: 'startCluster', size: 3, bootstrap: 'discovery', discoveryService: 'not a url' },
    'startCluster: discoveryService must be an http(s) URL of a v2 keys API, like http://127.0.0.1:2379',
  ],
  [{ type: 'startCluster', size: 3, oneByOne: 'yes' }, 'startCluster: oneByOne must be a boolean'],
  [{ type: 'bootstrapExtra', fallback: 'retry' }, 'bootstrapExtra: fallback must be exit or proxy'],
  [{ type: 'killNode', name: '../n1' }, 'killNode: "name" must be a node name'],
  [{ type: 'killNode', name: 'x'.repeat(65) }, 'killNode: "name" must be a node name'],
  [{ type: 'transferLeader' }, 'transferLeader: "to" must be a node name'],
  [{ type: 'healLink', a: 'n1', b: 'n1' }, 'healLink: a link joins two different nodes'],
  [{ type: 'setClock', name: 'n1', offsetMs: 10_001 }, 'setClock: offsetMs must be within ±10000'],
  [{ type: 'setClock', name: 'n1', rate: '2' }, 'setClock: rate must be 0.25..4'],
  [{ type: 'setSpeed', speed: 2 }, 'setSpeed: speed must be 1/50..1'],
  [{ type: 'dropMessage', id: 2 ** 53 }, 'dropMessage: id must be a message id'],
  [{ type: 'addMember', peerURL: 'http://a b:1' }, 'addMember: peerURL must be like http://host:port'],
  [{ type: 'addMember', learner: 'yes' }, 'addMember: learner must be a boolean'],
  [{ type: 'promoteMember' }, 'promoteMember: "name" must be a node name'],
  [{ type: 'kv', name: 'n1', method: 'PATCH', key: '/a' }, 'kv: method must be GET, PUT, POST or DELETE'],
  [{ type: 'kv', name: 'n1', method: 'GET', key: 'x'.repeat(2000) }, 'kv: key must be a path starting with "/"'],
  [
    { type: 'kv', name: 'n1', method: 'GET', key: '/a/./b' },
    'kv: key must not have a "." segment (it would leave /v2/keys): "/a/./b"',
  ],
  [{ type: 'kv', name: 'n1', method: 'PUT', key: '/a', value: 1 }, 'kv: value must be a string'],
  [{ type: 'kv', name: 'n1', method: 'GET', key: '/a', query: { wait: true } }, 'kv: query must map names to strings'],
  [{ type: 'kv3', name: 'n1' }, 'kv3: a request must be an object'],
  [
    { type: 'kv3', name: 'n1', request: { op: 'compact' } },
    'kv3: op must be one of put, get, delete, txn, watch, unwatch, leaseGrant, leaseRevoke, leaseKeepAlive, leaseTimeToLive, leaseList',
  ],
  [
    { type: 'kv3', name: 'n1', request: { op: 'put', key: '', value: 'v' } },
    'kv3: key must be a non-empty string of at most 4096 characters',
  ],
  [{ type: 'kv3', name: 'n1', request: { op: 'put', key: '/a' } }, 'kv3: value must be a string'],
  [
    { type: 'kv3', name: 'n1', request: { op: 'put', key: '/a', value: 'v', lease: '0' } },
    'kv3: lease must be a lease id in hex, as etcdctl prints it (1 to 16 hex digits, not 0)',
  ],
  [
    { type: 'kv3', name: 'n1', request: { op: 'put', key: '/a', value: 'v', lease: '12345678901234567' } },
    'kv3: lease must be a lease id in hex, as etcdctl prints it (1 to 16 hex digits, not 0)',
  ],
  [
    { type: 'kv3', name: 'n1', request: { op: 'get', key: '/a', revision: -1 } },
    'kv3: revision must be a whole number 0..9007199254740991',
  ],
  [
    { type: 'kv3', name: 'n1', request: { op: 'get', key: '/a', limit: 1.5 } },
    'kv3: limit must be a whole number 0..1000000000',
  ],
  [{ type: 'kv3', name: 'n1', request: { op: 'get', key: '/a', prefix: 'yes' } }, 'kv3: prefix must be a boolean'],
  [
    {
      type: 'kv3',
      name: 'n1',
      request: { op: 'txn', key: '/a', target: 'lease', relation: '=', expected: '1', value: 'v' },
    },
    'kv3: target must be value, version, create or mod',
  ],
  [
    {
      type: 'kv3',
      name: 'n1',
      request: { op: 'txn', key: '/a', target: 'value', relation: '>=', expected: '1', value: 'v' },
    },
    'kv3: relation must be =, !=, < or >',
  ],
  [
    {
      type: 'kv3',
      name: 'n1',
      request: { op: 'txn', key: '/a', target: 'mod', relation: '=', expected: 'x', value: 'v' },
    },
    'kv3: a version or revision compared must be a whole number',
  ],
  [
    { type: 'kv3', name: 'n1', request: { op: 'watch', key: '/a' } },
    'kv3: watch must be an id of 1 to 64 letters, digits, "-" or "_"',
  ],
  [
    { type: 'kv3', name: 'n1', request: { op: 'unwatch', watch: '../x' } },
    'kv3: watch must be an id of 1 to 64 letters, digits, "-" or "_"',
  ],
  [{ type: 'kv3', name: 'n1', request: { op: 'leaseGrant' } }, 'kv3: ttl is required'],
  [{ type: 'kv3', name: 'n1', request: { op: 'leaseGrant', ttl: 0 } }, 'kv3: ttl must be a whole number 1..9000000000'],
  [{ type: 'kv3', name: '../n1', request: { op: 'leaseList' } }, 'kv3: "name" must be a node name'],
  [{ type: 'attach', urls: Array(17).fill('http://h:1') }, 'attach: urls must be 1 to 16 client URLs'],
  [{ type: 'attach', urls: ['x'.repeat(301)] }, 'attach: urls must be 1 to 16 client URLs'],
  [{ type: 'attach', urls: ['http://h:1'], prefix: 'a' }, 'attach: prefix must start with "/"'],
  [{ type: 'attach', urls: ['https://h:1'], caFile: '' }, 'attach: caFile must be a file path (1 to 1024 characters)'],
  [{ type: 'attach', urls: ['https://h:1'], keyFile: 7 }, 'attach: keyFile must be a file path (1 to 1024 characters)'],
  [{ type: 'attach', urls: ['https://h:1'], user: '' }, 'attach: user must be 1 to 128 characters'],
  [
    { type: 'attach', urls: ['https://h:1'], user: 'a', password: 'x'.repeat(1025) },
    'attach: password must be a string of at most 1024 characters',
  ],
  [{ type: 'login', password: 'x' }, 'login: user must be 1 to 128 characters'],
  [{ type: 'login', user: 'root' }, 'login: password must be a string of at most 1024 characters'],
  [{ type: 'startCluster', size: 3, secure: true }, 'startCluster: secure must be an object'],
  [
    { type: 'startCluster', size: 3, secure: { clientCertAuth: 1 } },
    'startCluster: secure.clientCertAuth must be a boolean',
  ],
  [
    { type: 'startCluster', size: 3, secure: { rootPassword: '' } },
    'startCluster: the root password must not be empty',
  ],
  [{ type: 'chaos' }, 'chaos: seconds is required'],
  [{ type: 'chaos', seconds: 601 }, 'chaos: seconds must be a whole number 1..600'],
  [{ type: 'chaos', seconds: 5, nodes: 2 }, 'chaos: nodes must be a whole number 3..7'],
  [{ type: 'chaos', seconds: 5, breakOnPurpose: 'yes' }, 'chaos: breakOnPurpose must be a boolean'],
  [{ type: 'chaos', seconds: 5, workload: 'v4' }, 'chaos: workload must be v2, v3, mixed'],
  [{ type: 'exportTrace', format: 'pdf' }, 'exportTrace: format must be "jsonl" or "chrome"'],
  [{ type: 'stepMode', on: true, seed: 2 ** 32 }, 'stepMode: seed must be an integer 0..4294967295'],
  [{ type: 'stepDrop', id: 0 }, "stepDrop: id must be a held message's id"],
  [
    { type: 'stepRunUntil', until: 'forever' },
    'stepRunUntil: until must be vote-granted, leader, commit or election-timeout',
  ],
  [{ type: 'stepRunUntil', until: 'leader', maxSteps: 100_001 }, 'stepRunUntil: maxSteps must be 1..100000'],
  [{ type: 'resumeFrom', at: -1 }, 'resumeFrom: at must be a moment (wall-clock ms)'],
];

describe('the command schema', () => {
  it.each(refusals)('refuses %j: %s', (raw, text) => {
    expect(() => parseCommand(raw)).toThrow(new Error(text));
  });

  it('passes sound commands, dropping fields no command has', () => {
    expect(parseCommand({ type: 'setClock', name: 'n1', offsetMs: -10_000, rate: 0.25, evil: 1 })).toEqual({
      type: 'setClock',
      name: 'n1',
      offsetMs: -10_000,
      rate: 0.25,
    });
    expect(parseCommand({ type: 'setSpeed', speed: 1 / 50 })).toEqual({ type: 'setSpeed', speed: 1 / 50 });
    expect(parseCommand({ type: 'kv', name: 'n1', method: 'GET', key: '/a b?#%', query: { wait: 'true' } })).toEqual({
      type: 'kv',
      name: 'n1',
      method: 'GET',
      key: '/a b?#%',
      query: { wait: 'true' },
    });
    expect(parseCommand({ type: 'stepTick' })).toEqual({ type: 'stepTick' });
    expect(
      parseCommand({
        type: 'kv3',
        name: 'n1',
        request: { op: 'put', key: '/a', value: '', lease: 'ABC'.toLowerCase(), x: 1 },
      }),
    ).toEqual({ type: 'kv3', name: 'n1', request: { op: 'put', key: '/a', value: '', lease: 'abc' } });
    expect(
      parseCommand({
        type: 'kv3',
        name: 'n1',
        request: { op: 'txn', key: '/a', target: 'mod', relation: '<', expected: '12', value: 'v' },
      }),
    ).toMatchObject({ request: { target: 'mod', expected: '12' } });
    expect(
      parseCommand({
        type: 'startCluster',
        size: 3,
        bootstrap: 'discovery',
        discoveryService: 'http://127.0.0.1:2379',
        oneByOne: true,
      }),
    ).toEqual({
      type: 'startCluster',
      size: 3,
      bootstrap: 'discovery',
      discoveryService: 'http://127.0.0.1:2379',
      oneByOne: true,
    });
    expect(parseCommand({ type: 'bootstrapExtra', fallback: 'proxy' })).toEqual({
      type: 'bootstrapExtra',
      fallback: 'proxy',
    });
    expect(parseCommand({ type: 'chaos', seconds: 600, nodes: 7, seed: 0 })).toEqual({
      type: 'chaos',
      seconds: 600,
      nodes: 7,
      seed: 0,
    });
    expect(parseCommand({ type: 'chaos', seconds: 5, workload: 'v3' })).toEqual({
      type: 'chaos',
      seconds: 5,
      workload: 'v3',
    });
    expect(
      parseCommand({
        type: 'startCluster',
        size: 3,
        secure: { clientCertAuth: true, rootPassword: 'pw', certPem: 'x' },
      }),
    ).toEqual({ type: 'startCluster', size: 3, secure: { clientCertAuth: true, rootPassword: 'pw' } });
    // Every field of an attach is kept as it came.
    const attach = {
      type: 'attach',
      urls: ['https://h:1'],
      caFile: '/ca.pem',
      certFile: '/c.pem',
      keyFile: '/k.pem',
      user: 'alice',
      password: '',
    };
    expect(parseCommand(structuredClone(attach))).toEqual(attach);
    expect(parseCommand({ type: 'logout' })).toEqual({ type: 'logout' });
  });

  it('a recorded command has its password hidden, and the rest as it was', () => {
    expect(redactCommand(parseCommand({ type: 'login', user: 'root', password: 'pw' }))).toEqual({
      type: 'login',
      user: 'root',
      password: HIDDEN,
    });
    expect(
      redactCommand(
        parseCommand({ type: 'attach', urls: ['https://h:1'], caFile: '/ca.pem', user: 'a', password: 'pw' }),
      ),
    ).toEqual({ type: 'attach', urls: ['https://h:1'], caFile: '/ca.pem', user: 'a', password: HIDDEN });
    expect(redactCommand(parseCommand({ type: 'startCluster', size: 3, secure: { rootPassword: 'pw' } }))).toEqual({
      type: 'startCluster',
      size: 3,
      secure: { rootPassword: HIDDEN },
    });
    const open = parseCommand({ type: 'attach', urls: ['http://h:1'] });
    expect(redactCommand(open)).toBe(open);
    // What is recorded still parses (a replay reads it back).
    expect(parseCommand(redactCommand(parseCommand({ type: 'login', user: 'root', password: 'pw' })))).toMatchObject({
      type: 'login',
    });
  });

  it('checks the request envelope too', () => {
    expect(() => parseRequest({ id: '', cmd: { type: 'healAll' } })).toThrow(
      'a request is { id: string, cmd: Command }',
    );
    expect(parseRequest({ id: 'r1', cmd: { type: 'healAll' } })).toEqual({ id: 'r1', cmd: { type: 'healAll' } });
  });
});
