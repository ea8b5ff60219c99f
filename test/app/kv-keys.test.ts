// A window's kv command names a key under /v2/keys and nothing else: "." and ".." segments are
// refused with a clear error, everything else in a key ("?", "#", "%2e%2e", backslashes, spaces,
// unicode, quotes) is sent percent-encoded and stays part of the key. Checked on a real cluster,
// with the members list read by curl before and after.
import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Supervisor } from '../../src-main/cluster/supervisor.js';
import { agreedLeader } from '../../src-shared/cluster-state.js';
import type { KvResult } from '../../src-shared/command-results.js';
import { parseCommand } from '../../src-shared/commands.js';
import { until } from '../helpers/cluster.js';

let sup: Supervisor;

beforeEach(() => {
  sup = new Supervisor({ heartbeatMs: 50, electionMs: 500 });
});
afterEach(async () => {
  await sup.stop();
});

const kv = (name: string, method: 'GET' | 'PUT' | 'DELETE', key: string, value?: string) =>
  sup.execute(
    parseCommand({ type: 'kv', name, method, key, ...(value === undefined ? {} : { value }) }),
  ) as Promise<KvResult>;

describe('kv keys', () => {
  it('refuses "." and ".." segments before anything is sent', () => {
    for (const key of [
      '/../../v2/members',
      '/a/../../v2/members',
      '/..',
      '/./x',
      '/a/.',
      '/x/../../../v2/stats/self',
    ]) {
      expect(() => parseCommand({ type: 'kv', name: 'n1', method: 'GET', key })).toThrow(
        /kv: key must not have a "\.\.?" segment \(it would leave \/v2\/keys\)/,
      );
    }
    // Dots that are not whole segments are ordinary key text.
    expect(parseCommand({ type: 'kv', name: 'n1', method: 'GET', key: '/a..b/.c/..d' })).toMatchObject({
      key: '/a..b/.c/..d',
    });
  });

  it('keeps every other key inside /v2/keys, and ordinary odd keys round-trip', async () => {
    await sup.start(3);
    const leader = await until('a leader', () => agreedLeader(sup.snapshot())?.name, 15_000);
    const clientURL = sup.snapshot().nodes.find((n) => n.name === leader)!.clientURL;
    const members = () => execFileSync('/usr/bin/curl', ['-sS', `${clientURL}/v2/members`]).toString();
    // Every member published (its client URL known) before the list is taken as the reference.
    const before = await until(
      'all members published',
      () => {
        const m = members();
        const list = JSON.parse(m).members as { clientURLs: string[] }[];
        return list.length === 3 && list.every((x) => x.clientURLs.length === 1) && m;
      },
      15_000,
    );

    // What used to reach other APIs: now each is a (missing) key of its own.
    const escapes = [
      '/%2e%2e/%2e%2e/v2/members',
      '/..%2f..%2fv2%2fmembers',
      '/?recursive=true',
      '/#/v2/members',
      '/a\\..\\..\\v2\\members',
      '/%2E%2E',
    ];
    for (const key of escapes) {
      const r = await kv(leader, 'GET', key);
      // etcd names the first missing component as the cause: the key's own first segment.
      const cause = `/${key.split('/')[1]}`;
      expect({ key, status: r.status, body: r.body }).toMatchObject({
        key,
        status: 404,
        body: { errorCode: 100, message: 'Key not found', cause },
      });
    }
    // A PUT and DELETE on one of them touch that key only; the members are as they were.
    const put = await kv(leader, 'PUT', '/%2e%2e/%2e%2e/v2/members', 'mine');
    expect(put).toMatchObject({ status: 201, body: { node: { key: '/%2e%2e/%2e%2e/v2/members', value: 'mine' } } });
    expect((await kv(leader, 'DELETE', '/%2e%2e/%2e%2e/v2/members')).status).toBe(200);
    expect(members()).toBe(before);
    // Bypassing parseCommand (the supervisor's own callers) still cannot leave /v2/keys.
    await expect(sup.execute({ type: 'kv', name: leader, method: 'GET', key: '/../../v2/members' })).rejects.toThrow(
      /leaves \/v2\/keys/,
    );

    for (const key of ['/with space', '/ключ/ünïcødé', '/"quoted" and \'single\'', '/100%', '/a+b=c&d', '/q?x=1#y']) {
      const value = `v of ${key}`;
      expect({ key, status: (await kv(leader, 'PUT', key, value)).status }).toEqual({ key, status: 201 });
      const got = await kv(leader, 'GET', key);
      expect(got).toMatchObject({ status: 200, body: { node: { key, value } } });
    }
    // And curl, encoding the same way, finds them under those very names.
    const listed = JSON.parse(
      execFileSync('/usr/bin/curl', ['-sS', `${clientURL}/v2/keys/?recursive=true`]).toString(),
    );
    const names = (listed.node.nodes as { key: string }[]).map((n) => n.key).sort();
    expect(names).toEqual(
      expect.arrayContaining(['/with space', '/"quoted" and \'single\'', '/100%', '/a+b=c&d', '/q?x=1#y', '/ключ']),
    );
  }, 60_000);
});
