// A secured cluster started by the app (startCluster's `secure`): its own CA and certificates,
// TLS on every client and peer port, client certificates required, and v3 auth enabled with the
// root password picked. The links are TLS (https peer URLs, the snapshot says so), the KV
// console is refused until it logs in, then works as root; a wrong password is refused in
// etcd's words; a client without a certificate is refused at the handshake; and neither the
// trace nor a log line holds a PEM block, a private key or the password.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WindowCore } from '../../src-main/app/window-core.js';
import { Supervisor } from '../../src-main/cluster/supervisor.js';
import { readTraceFile } from '../../src-main/trace/trace-reader.js';
import type { ClusterState } from '../../src-shared/cluster-state.js';
import type { KvResult } from '../../src-shared/command-results.js';
import type { CommandRequest, ServerEvent } from '../../src-shared/protocol.js';
import { HIDDEN } from '../../src-shared/redact.js';
import { etcdctl3For } from '../../src-renderer/lib/kv-commands.js';
import { run } from '../helpers/run.js';
import { needTools } from '../helpers/window.js';

const haveEtcdctl = needTools("the console's printed etcdctl line run against a secured cluster", ['/usr/bin/etcdctl']);

const PASSWORD = 'S3cret-root-pw';
const SECRET_TEXT = [/-----BEGIN/, /PRIVATE KEY/, new RegExp(PASSWORD)];

describe('a secured cluster started by the app', () => {
  let sup: Supervisor;
  let core: WindowCore;
  const events: ServerEvent[] = [];
  let seq = 0;

  /** A command through the WindowCore (so it is recorded), answered by its ack or error. */
  async function send(cmd: CommandRequest['cmd']): Promise<{ ok: boolean; result?: unknown; message?: string }> {
    const id = `t${++seq}`;
    let f: (batch: ServerEvent[]) => void = () => {};
    const answer = new Promise<{ ok: boolean; result?: unknown; message?: string }>((resolve) => {
      f = (batch: ServerEvent[]) => {
        for (const e of batch) {
          if (e.type === 'ack' && e.id === id) resolve({ ok: true, result: e.result });
          if (e.type === 'error' && e.id === id) resolve({ ok: false, message: e.message });
        }
      };
      core.on('events', f);
    });
    await core.handle({ id, cmd });
    try {
      return await answer;
    } finally {
      core.off('events', f);
    }
  }

  beforeAll(async () => {
    sup = new Supervisor({ heartbeatMs: 50, electionMs: 500 });
    core = new WindowCore(sup);
    core.on('events', (b) => events.push(...b));
    await core.record(path.join(sup.dir, 'session.trace.jsonl'));
    const r = await send({ type: 'startCluster', size: 3, secure: { clientCertAuth: true, rootPassword: PASSWORD } });
    expect(r).toEqual({ ok: true, result: undefined });
  }, 120_000);

  afterAll(async () => {
    await core?.stop();
    await sup?.stop();
  });

  it('forms over TLS: https client and peer URLs, a leader, and the snapshot says TLS, client certificates and auth', async () => {
    expect(await sup.waitForLeader(30_000)).toBe(true);
    const snap: ClusterState = sup.snapshot();
    expect(snap.nodes.map((n) => [n.clientURL.slice(0, 8), n.peerURL.slice(0, 8)])).toEqual(
      Array(3).fill(['https://', 'https://']),
    );
    const tlsDir = path.join(sup.dir, 'cluster-1', 'tls');
    expect(snap.security).toEqual({
      tls: true,
      peerTLS: true,
      clientCert: true,
      auth: true,
      files: {
        caFile: path.join(tlsDir, 'ca.pem'),
        certFile: path.join(tlsDir, 'console.pem'),
        keyFile: path.join(tlsDir, 'console-key.pem'),
      },
    });
    // The peers talk: every node knows the two others as active.
    await expect
      .poll(() => sup.snapshot().nodes.every((n) => n.peers.filter((p) => p.active).length === 2), { timeout: 20_000 })
      .toBe(true);
  });

  it('refuses a client without a certificate at the handshake', async () => {
    const url = sup.snapshot().nodes[0]!.clientURL;
    const ca = fs.readFileSync(path.join(sup.dir, 'cluster-1', 'tls', 'ca.pem'));
    const err = await new Promise<Error | undefined>((resolve) => {
      const req = https.request(`${url}/version`, { ca, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(undefined));
      });
      req.on('error', resolve);
      req.end();
    });
    expect(err?.message ?? 'answered').toMatch(
      /certificate required|bad certificate|handshake|socket hang up|ECONNRESET/i,
    );
  });

  it('the KV console is refused before logging in, refused with a wrong password, and works as root', async () => {
    const leader = sup.snapshot().nodes.find((n) => n.role === 'leader')!.name;
    const before = await send({ type: 'kv3', name: leader, request: { op: 'put', key: 'k', value: 'v' } });
    expect(before.ok).toBe(true);
    const refused = before.result as KvResult;
    expect(refused.status).not.toBe(200);
    expect(JSON.stringify(refused.body)).toMatch(/user name is empty|invalid auth token|permission denied/);

    const wrong = await send({ type: 'login', user: 'root', password: 'not-it' });
    expect(wrong).toMatchObject({
      ok: false,
      message: expect.stringMatching(
        /^login as "root" refused \(etcd: "etcdserver: authentication failed, invalid user ID or password"\)/,
      ),
    });

    expect(await send({ type: 'login', user: 'root', password: PASSWORD })).toMatchObject({ ok: true });
    const put = (await send({ type: 'kv3', name: leader, request: { op: 'put', key: 'k', value: 'v' } }))
      .result as KvResult;
    expect(put.status).toBe(200);
    const follower = sup.snapshot().nodes.find((n) => n.role !== 'leader')!.name;
    const got = (await send({ type: 'kv3', name: follower, request: { op: 'get', key: 'k' } })).result as KvResult;
    expect(got.status).toBe(200);
    expect(JSON.stringify(got.body)).toContain(Buffer.from('v').toString('base64'));
    await expect.poll(() => sup.snapshot().security?.user, { timeout: 5_000 }).toBe('root');
  });

  it.skipIf(!haveEtcdctl)(
    'the etcdctl line the console prints works as printed (its password given the way a script gives it)',
    async () => {
      const n = sup.snapshot().nodes[1]!;
      const line = etcdctl3For({ op: 'put', key: 'printed', value: 'works' }, n.clientURL, {
        files: sup.snapshot().security?.files,
        user: 'root',
      });
      expect(line).toMatch(
        /^etcdctl --endpoints https:\/\/127\.0\.0\.1:\d+ --cacert \S+ca\.pem --cert \S+console\.pem --key \S+console-key\.pem --user root put printed works$/,
      );
      const r = await run('/bin/sh', ['-c', `${line} --password "$PW"`], { env: { PW: PASSWORD } });
      expect(r, r.err).toMatchObject({ code: 0, out: 'OK\n' });
      const leader = sup.snapshot().nodes.find((x) => x.role === 'leader')!.name;
      const got = (await send({ type: 'kv3', name: leader, request: { op: 'get', key: 'printed' } }))
        .result as KvResult;
      expect(JSON.stringify(got.body)).toContain(Buffer.from('works').toString('base64'));
    },
  );

  it('no PEM, private key or password in the trace, the exported trace or any log line', async () => {
    const logs = events.filter((e) => e.type === 'log').map((e) => (e as { line: string }).line);
    expect(logs.some((l) => /ClientTLS: cert = .*n1\.pem/.test(l))).toBe(true); // file names are said, as etcd says them
    for (const re of SECRET_TEXT) expect(logs.filter((l) => re.test(l))).toEqual([]);
    const exported = await core.exportTrace('jsonl');
    const text = fs.readFileSync(exported.path, 'utf8');
    for (const re of SECRET_TEXT) expect(text).not.toMatch(re);
    // The actions are kept, their passwords hidden.
    const trace = await readTraceFile(exported.path);
    const actions = trace.records
      .filter((r) => r.kind === 'action')
      .map((r) => (r as { cmd: { type: string; password?: string; secure?: { rootPassword?: string } } }).cmd);
    expect(actions.find((c) => c.type === 'startCluster')?.secure?.rootPassword).toBe(HIDDEN);
    expect(actions.filter((c) => c.type === 'login').map((c) => c.password)).toEqual([HIDDEN, HIDDEN]);
    const chrome = fs.readFileSync((await core.exportTrace('chrome')).path, 'utf8');
    for (const re of SECRET_TEXT) expect(chrome).not.toMatch(re);
  });
});
