// The window attached to a secured real etcd 3.4 (Debian's etcd-server on loopback, 3 members):
// TLS on client and peer ports with client-certificate auth (certificates made in the test with
// src-main/tls/certs.ts), and etcd's auth enabled with etcdctl (root, and a user alice with a
// read-write role on "/"). In browser mode in Debian's Chromium: attached with the CA, a client
// certificate and key and alice's login, the members, the leader and the watched keys show as
// for an open cluster, and the KV console works; a wrong password and a missing certificate
// each give a clear error in the window. Neither the trace nor the window's text holds a PEM
// block, a private key or a password. Screenshots in test-results/.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCA, makeCert, type CertAndKey } from '../../src-main/tls/certs.js';
import { until } from '../helpers/cluster.js';
import { ETCD_BIN, EtcdCluster } from '../helpers/etcd-processes.js';
import { run } from '../helpers/run.js';
import {
  CHROMIUM,
  expectNoSecrets,
  consolePut,
  kvStatus,
  needTools,
  openWindow,
  SHOTS,
  type TestWindow,
} from '../helpers/window.js';

const ETCDCTL = '/usr/bin/etcdctl';
const ready = needTools('the secured attach e2e test', [CHROMIUM, ETCD_BIN, ETCDCTL]);
const ROOT_PW = 'root-Pw-93817';
const ALICE_PW = 'alice-Pw-55102';
const SECRETS = [/-----BEGIN/, /PRIVATE KEY/, new RegExp(ROOT_PW), new RegExp(ALICE_PW), /wrong-Pw-4411/];

describe.skipIf(!ready)('the window attached to a secured etcd (TLS client certificates and auth)', () => {
  let etcd: EtcdCluster;
  let w: TestWindow;
  let page: Page;
  let dir: string;
  const f = (name: string) => path.join(dir, name);
  const write = (name: string, c: CertAndKey) => {
    fs.writeFileSync(f(`${name}.pem`), c.certPem);
    fs.writeFileSync(f(`${name}-key.pem`), c.keyPem, { mode: 0o600 });
  };
  const etcdctl = (args: string[], user?: string) =>
    run(
      ETCDCTL,
      [
        '--endpoints',
        etcd.spec('e1').clientURL,
        '--cacert',
        f('ca.pem'),
        '--cert',
        f('client.pem'),
        '--key',
        f('client-key.pem'),
        '--dial-timeout',
        '3s',
        '--command-timeout',
        '5s',
        ...(user ? ['--user', user] : []),
        ...args,
      ],
      { env: { ETCDCTL_API: '3' } },
    );

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-attach-tls-'));
    const ca = await makeCA({ commonName: 'attach test CA' });
    fs.writeFileSync(f('ca.pem'), ca.certPem);
    write(
      'member',
      await makeCert(ca, { commonName: 'member', hosts: ['127.0.0.1', 'localhost'], usages: ['server', 'client'] }),
    );
    // No CommonName: etcd 3.4's gateway refuses a certificate with one once auth is on (it
    // would take the CN as the user); a request must log in to be anyone.
    write('client', await makeCert(ca, { organization: 'attach test', usages: ['client'] }));
    write('client-cn', await makeCert(ca, { commonName: 'alice', usages: ['client'] }));
    etcd = await EtcdCluster.create(3, { scheme: 'https' });
    const tlsFlags = [
      '--cert-file',
      f('member.pem'),
      '--key-file',
      f('member-key.pem'),
      '--trusted-ca-file',
      f('ca.pem'),
      '--client-cert-auth',
      '--peer-cert-file',
      f('member.pem'),
      '--peer-key-file',
      f('member-key.pem'),
      '--peer-trusted-ca-file',
      f('ca.pem'),
      '--peer-client-cert-auth',
    ];
    for (const n of ['e1', 'e2', 'e3']) etcd.start(n, etcd.initialCluster(3), tlsFlags);
    await until('etcd healthy over TLS', async () => (await etcdctl(['endpoint', 'health'])).code === 0, 60_000);
    // Auth as an operator enables it: root, a user with a role, then auth enable.
    for (const args of [
      ['user', 'add', `root:${ROOT_PW}`],
      ['user', 'grant-role', 'root', 'root'],
      ['role', 'add', 'rw'],
      ['role', 'grant-permission', 'rw', '--prefix=true', 'readwrite', '/'],
      ['user', 'add', `alice:${ALICE_PW}`],
      ['user', 'grant-role', 'alice', 'rw'],
      ['auth', 'enable'],
    ]) {
      const r = await etcdctl(args);
      expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
    }
    const put = await etcdctl(['put', '/seen/before', 'x'], `root:${ROOT_PW}`);
    expect(put.code, put.err).toBe(0);
    expect((await etcdctl(['get', '/seen/before'])).code).not.toBe(0); // auth is on: no login, no keys
    w = await openWindow({ nodes: 1 });
    ({ page } = w);
  }, 180_000);

  afterAll(async () => {
    await w?.close();
    await etcd?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function attach(o: {
    ca?: boolean;
    cert?: boolean | 'client-cn';
    user?: string;
    password?: string;
  }): Promise<void> {
    if (await page.locator('[data-attached]').count()) {
      await page.locator('[data-attached]').getByRole('button', { name: 'Detach' }).click();
      await expect.poll(() => page.locator('[data-attached]').count(), { timeout: 10_000 }).toBe(0);
    }
    await page.getByRole('button', { name: 'Attach to a cluster…' }).click();
    await page.getByLabel('Client URLs to attach to').fill(etcd.spec('e1').clientURL);
    await page.getByText('Secured cluster (TLS, login)').click();
    await page.getByLabel('CA file').fill(o.ca === false ? '' : f('ca.pem'));
    const pair = o.cert === 'client-cn' ? 'client-cn' : 'client';
    await page.getByLabel('Client certificate file').fill(o.cert === false ? '' : f(`${pair}.pem`));
    await page.getByLabel('Client key file').fill(o.cert === false ? '' : f(`${pair}-key.pem`));
    await page.getByLabel('User', { exact: true }).fill(o.user ?? '');
    await page.getByLabel('Password', { exact: true }).fill(o.password ?? '');
    await page.getByRole('button', { name: 'Attach', exact: true }).click();
    await page.locator('[data-attached]').waitFor({ timeout: 10_000 });
  }

  it('with the CA, a client certificate and a login: members, leader and watched keys as for an open cluster', async () => {
    await expect.poll(() => page.locator('[data-node]').count(), { timeout: 20_000 }).toBe(1);
    await attach({ user: 'alice', password: ALICE_PW });
    await expect.poll(() => page.locator('[data-node][data-status="alive"]').count(), { timeout: 20_000 }).toBe(3);
    await expect.poll(() => page.locator('[data-node][data-role="leader"]').count(), { timeout: 20_000 }).toBe(1);
    expect(
      await page.locator('[data-node]').evaluateAll((els) => els.map((e) => e.getAttribute('data-node')).sort()),
    ).toEqual(['e1', 'e2', 'e3']);
    await expect
      .poll(() => page.locator('[data-attach-security]').textContent(), { timeout: 5_000 })
      .toContain('TLS · CA given · client certificate · logged in as alice');
    await page.locator('[data-watching]').waitFor({ timeout: 15_000 });
    expect(await page.locator('[data-attached] .problem').count()).toBe(0);
    // A change made elsewhere (etcdctl as root) shows as a watched key change.
    expect((await etcdctl(['put', '/seen/by-etcdctl', 'hello'], `root:${ROOT_PW}`)).code).toBe(0);
    await expect
      .poll(() => page.locator('.timeline li', { hasText: '/seen/by-etcdctl = hello' }).count(), { timeout: 15_000 })
      .toBe(1);
    // The KV console (v3) speaks as alice: its put comes back through the watch.
    await consolePut(page, '/seen/by-console', 'from-window');
    await expect.poll(() => kvStatus(page), { timeout: 10_000 }).toBe('200');
    await expect
      .poll(() => page.locator('.timeline li', { hasText: '/seen/by-console = from-window' }).count(), {
        timeout: 15_000,
      })
      .toBe(1);
    const got = await etcdctl(['get', '/seen/by-console', '--print-value-only'], `root:${ROOT_PW}`);
    expect(got.out.trim()).toBe('from-window');
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: `${SHOTS}/window-attached-etcd-secured.png` });
  });

  it('a wrong password: status and members still show, and the window says the login was refused', async () => {
    await attach({ user: 'alice', password: 'wrong-Pw-4411' });
    await expect.poll(() => page.locator('[data-node][data-role="leader"]').count(), { timeout: 20_000 }).toBe(1);
    await expect
      .poll(() => page.locator('[data-attached] .problem').allTextContents(), { timeout: 20_000 })
      .toContainEqual(
        expect.stringMatching(
          /login as "alice" refused \(etcd: "etcdserver: authentication failed, invalid user ID or password"\)/,
        ),
      );
    await page.screenshot({ path: `${SHOTS}/window-attached-etcd-wrong-password.png` });
  });

  it('no client certificate: the window says the server requires one', async () => {
    await attach({ cert: false, user: 'alice', password: ALICE_PW });
    await expect
      .poll(() => page.locator('[data-endpoint-error]').allTextContents(), { timeout: 20_000 })
      .toContainEqual(expect.stringMatching(/TLS: the server requires a client certificate/));
    expect(await page.locator('[data-node][data-status="alive"]').count()).toBe(0);
    // The endpoint is drawn as one that does not answer: never "killed" (only the app kills its
    // own nodes), no term made up, no member remove (no member id is known for it).
    const node = page.locator('[data-node]');
    await expect.poll(() => node.getAttribute('data-status'), { timeout: 10_000 }).toBe('unreachable');
    expect(await node.locator('.term').textContent()).toBe('?');
    expect((await node.locator('[data-caption]').textContent())?.trim()).toBe('no answer');
    expect(await node.textContent()).not.toMatch(/killed|T0/);
    const panel = page.locator('[data-panel]');
    expect(await panel.locator('[data-panel-status]').textContent()).toBe('does not answer');
    expect(await panel.textContent()).not.toMatch(/killed|data dir/);
    expect(await panel.getByRole('button', { name: 'Remove' }).count()).toBe(0);
    // The status line and the timeline speak of the attached cluster; the window's own n1 is
    // behind the divider.
    expect(await page.locator('[data-status-line]').textContent()).not.toMatch(/n1/);
    const lines = await page.locator('.timeline li').allTextContents();
    const divider = lines.findIndex((l) => l.includes('Attached here:'));
    expect(divider).toBeGreaterThan(0);
    expect(lines.slice(0, divider).join('\n')).not.toMatch(/n1\b/);
    await page.screenshot({ path: `${SHOTS}/window-attached-etcd-no-cert.png` });
  });

  it("a client certificate with a CommonName: the window says etcd's gateway refuses it while auth is on", async () => {
    await attach({ cert: 'client-cn', user: 'alice', password: ALICE_PW });
    await expect
      .poll(() => page.locator('[data-endpoint-error]').allTextContents(), { timeout: 20_000 })
      .toContainEqual(
        expect.stringMatching(
          /refuses this client certificate on its v3 gateway because it has a CommonName while auth is enabled/,
        ),
      );
  });

  it('no PEM, private key or password in the window, the trace or its export', async () => {
    expect(await expectNoSecrets(w, SECRETS)).toContain('"password":"(hidden)"');
  });
});
