// The window's commands (src-shared/protocol.ts CommandSchema): each refusal names the command
// and the field, in the words the window shows; what passes comes back without stray fields.

import { describe, expect, it } from 'vitest';
import { parseCommand, parseRequest } from '../../src-shared/protocol.js';

const refusals: [unknown, string][] = [
  [null, 'command must be an object'],
  ['startCluster', 'command must be an object'],
  [{}, 'unknown command "undefined"'],
  [{ type: 'formatDisk' }, 'unknown command "formatDisk"'],
  [{ type: 'startCluster' }, 'startCluster: size must be 1..7'],
  [{ type: 'startCluster', size: 2.5 }, 'startCluster: size must be 1..7'],
  [{ type: 'startCluster', size: 3, bootstrap: 'gossip' }, 'startCluster: bootstrap must be static, discovery or dns'],
  [{ type: 'startCluster', size: 3, bootstrap: 'discovery', discoveryService: 'ftp://h' }, 'startCluster: discoveryService must be an http(s) URL of a v2 keys API, like http://127.0.0.1:2379'],
  [{ type: 'startCluster', size: 3, bootstrap: 'discovery', discoveryService: 'not a url' }, 'startCluster: discoveryService must be an http(s) URL of a v2 keys API, like http://127.0.0.1:2379'],
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
  [{ type: 'kv', name: 'n1', method: 'PATCH', key: '/a' }, 'kv: method must be GET, PUT, POST or DELETE'],
  [{ type: 'kv', name: 'n1', method: 'GET', key: 'x'.repeat(2000) }, 'kv: key must be a path starting with "/"'],
  [{ type: 'kv', name: 'n1', method: 'GET', key: '/a/./b' }, 'kv: key must not have a "." segment (it would leave /v2/keys): "/a/./b"'],
  [{ type: 'kv', name: 'n1', method: 'PUT', key: '/a', value: 1 }, 'kv: value must be a string'],
  [{ type: 'kv', name: 'n1', method: 'GET', key: '/a', query: { wait: true } }, 'kv: query must map names to strings'],
  [{ type: 'attach', urls: Array(17).fill('http://h:1') }, 'attach: urls must be 1 to 16 client URLs'],
  [{ type: 'attach', urls: ['x'.repeat(301)] }, 'attach: urls must be 1 to 16 client URLs'],
  [{ type: 'attach', urls: ['http://h:1'], prefix: 'a' }, 'attach: prefix must start with "/"'],
  [{ type: 'chaos' }, 'chaos: seconds is required'],
  [{ type: 'chaos', seconds: 601 }, 'chaos: seconds must be a whole number 1..600'],
  [{ type: 'chaos', seconds: 5, nodes: 2 }, 'chaos: nodes must be a whole number 3..7'],
  [{ type: 'chaos', seconds: 5, breakOnPurpose: 'yes' }, 'chaos: breakOnPurpose must be a boolean'],
  [{ type: 'exportTrace', format: 'pdf' }, 'exportTrace: format must be "jsonl" or "chrome"'],
  [{ type: 'stepMode', on: true, seed: 2 ** 32 }, 'stepMode: seed must be an integer 0..4294967295'],
  [{ type: 'stepDrop', id: 0 }, "stepDrop: id must be a held message's id"],
  [{ type: 'stepRunUntil', until: 'forever' }, 'stepRunUntil: until must be vote-granted, leader, commit or election-timeout'],
  [{ type: 'stepRunUntil', until: 'leader', maxSteps: 100_001 }, 'stepRunUntil: maxSteps must be 1..100000'],
  [{ type: 'resumeFrom', at: -1 }, 'resumeFrom: at must be a moment (wall-clock ms)'],
];

describe('the command schema', () => {
  it.each(refusals)('refuses %j: %s', (raw, text) => {
    expect(() => parseCommand(raw)).toThrow(new Error(text));
  });

  it('passes sound commands, dropping fields no command has', () => {
    expect(parseCommand({ type: 'setClock', name: 'n1', offsetMs: -10_000, rate: 0.25, evil: 1 })).toEqual({ type: 'setClock', name: 'n1', offsetMs: -10_000, rate: 0.25 });
    expect(parseCommand({ type: 'setSpeed', speed: 1 / 50 })).toEqual({ type: 'setSpeed', speed: 1 / 50 });
    expect(parseCommand({ type: 'kv', name: 'n1', method: 'GET', key: '/a b?#%', query: { wait: 'true' } })).toEqual({ type: 'kv', name: 'n1', method: 'GET', key: '/a b?#%', query: { wait: 'true' } });
    expect(parseCommand({ type: 'stepTick' })).toEqual({ type: 'stepTick' });
    expect(parseCommand({ type: 'startCluster', size: 3, bootstrap: 'discovery', discoveryService: 'http://127.0.0.1:2379', oneByOne: true })).toEqual({ type: 'startCluster', size: 3, bootstrap: 'discovery', discoveryService: 'http://127.0.0.1:2379', oneByOne: true });
    expect(parseCommand({ type: 'bootstrapExtra', fallback: 'proxy' })).toEqual({ type: 'bootstrapExtra', fallback: 'proxy' });
    expect(parseCommand({ type: 'chaos', seconds: 600, nodes: 7, seed: 0 })).toEqual({ type: 'chaos', seconds: 600, nodes: 7, seed: 0 });
  });

  it('checks the request envelope too', () => {
    expect(() => parseRequest({ id: '', cmd: { type: 'healAll' } })).toThrow('a request is { id: string, cmd: Command }');
    expect(parseRequest({ id: 'r1', cmd: { type: 'healAll' } })).toEqual({ id: 'r1', cmd: { type: 'healAll' } });
  });
});
