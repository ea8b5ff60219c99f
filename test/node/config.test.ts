import { describe, expect, it } from 'vitest';
import { parseNodeConfig } from '../../src-main/node/config.js';
import { ConfigError, type NodeConfig } from '../../src-main/node/config/node-config.js';
import { parseEtcdURLs, parseInitialCluster } from '../../src-main/node/etcd-urls.js';
import { bootstrapIds } from '../../src-main/node/ids.js';
import { PROXY_TIMING_FLAGS, PROXY_TIMINGS_MS } from '../helpers/proxy-timings.js';

const P1 = 'http://127.0.0.1:32380';
const P2 = 'http://127.0.0.1:32480';
const P3 = 'http://127.0.0.1:32580';
const C1 = 'http://127.0.0.1:32379';
const CLUSTER = `n1=${P1},n2=${P2},n3=${P3}`;

/** A full, valid command line for n1 of the reference topology. */
const N1 = [
  '--name',
  'n1',
  '--data-dir',
  '/tmp/n1',
  '--listen-peer-urls',
  P1,
  '--listen-client-urls',
  C1,
  '--initial-advertise-peer-urls',
  P1,
  '--advertise-client-urls',
  C1,
  '--initial-cluster',
  CLUSTER,
  '--initial-cluster-token',
  'tok',
  '--initial-cluster-state',
  'new',
];

function fail(argv: string[], env: Record<string, string | undefined> = {}, opts = {}): ConfigError {
  try {
    parseNodeConfig(argv, env, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(argv)}`);
}

describe('defaults (etcd 3.4)', () => {
  it('matches etcd with no flags and no environment', () => {
    const c = parseNodeConfig([], {});
    expect(c).toMatchObject<Partial<NodeConfig>>({
      name: 'default',
      dataDir: 'default.etcd',
      dataDirDefaulted: true,
      listenClientURLs: ['http://localhost:2379'],
      listenPeerURLs: ['http://localhost:2380'],
      initialAdvertisePeerURLs: ['http://localhost:2380'],
      advertiseClientURLs: ['http://localhost:2379'],
      initialClusterString: 'default=http://localhost:2380',
      initialCluster: [{ name: 'default', peerURLs: ['http://localhost:2380'] }],
      initialClusterToken: 'etcd-cluster',
      initialClusterState: 'new',
      heartbeatIntervalMs: 100,
      electionTimeoutMs: 1000,
      electionTicks: 10,
      snapshotCount: 100000,
      enableV2: false,
      strictReconfigCheck: true,
      quotaBackendBytes: 0,
      preVote: false,
      initialElectionTickAdvance: true,
      logLevel: 'info',
      debug: false,
      help: false,
      version: false,
      envUsed: [],
      logs: [],
      ignoredFlags: [],
      explicitlySet: [],
    });
  });

  it('gives the default member the ids a real etcd 3.4 prints', () => {
    const ids = bootstrapIds(parseNodeConfig([], {}));
    expect(ids.localId).toBe('8e9e05c52164694d');
    expect(ids.clusterId).toBe('cdf818194e3a8c32');
  });

  it('derives the data dir and a one-member initial cluster from --name', () => {
    const c = parseNodeConfig(['--name', 'n1'], {});
    expect(c.dataDir).toBe('n1.etcd');
    expect(c.initialClusterString).toBe('n1=http://localhost:2380');
  });

  it('derives the initial cluster from --name and the advertised peer URLs', () => {
    const c = parseNodeConfig(['--name', 'n1', '--initial-advertise-peer-urls', `${P1},http://127.0.0.1:32381`], {});
    expect(c.initialClusterString).toBe(`n1=${P1},n1=http://127.0.0.1:32381`);
    expect(c.initialCluster).toEqual([{ name: 'n1', peerURLs: [P1, 'http://127.0.0.1:32381'] }]);
  });
});

describe('flag syntax', () => {
  const forms: [string, string[]][] = [
    ['--flag value', ['--name', 'n1']],
    ['--flag=value', ['--name=n1']],
    ['-flag value', ['-name', 'n1']],
    ['-flag=value', ['-name=n1']],
  ];
  it.each(forms)('%s', (_, argv) => {
    expect(parseNodeConfig(argv, {}).name).toBe('n1');
  });

  it('parses every implemented flag in every form', () => {
    const cases: [string, string, (c: NodeConfig) => unknown, unknown][] = [
      ['name', 'n1', (c) => c.name, 'n1'],
      ['data-dir', '/var/n1', (c) => c.dataDir, '/var/n1'],
      ['listen-peer-urls', 'http://127.0.0.1:2380', (c) => c.listenPeerURLs, ['http://127.0.0.1:2380']],
      ['listen-client-urls', 'http://0.0.0.0:2379', (c) => c.listenClientURLs, ['http://0.0.0.0:2379']],
      ['initial-cluster-token', 'tok', (c) => c.initialClusterToken, 'tok'],
      ['initial-cluster-state', 'existing', (c) => c.initialClusterState, 'existing'],
      ['heartbeat-interval', '50', (c) => c.heartbeatIntervalMs, 50],
      ['election-timeout', '2000', (c) => c.electionTimeoutMs, 2000],
      ['snapshot-count', '5000', (c) => c.snapshotCount, 5000],
      ['log-level', 'debug', (c) => c.logLevel, 'debug'],
    ];
    for (const [flag, value, get, want] of cases) {
      const extra = flag === 'listen-client-urls' ? ['--advertise-client-urls', 'http://127.0.0.1:2379'] : [];
      for (const argv of [[`--${flag}`, value], [`--${flag}=${value}`], [`-${flag}`, value], [`-${flag}=${value}`]]) {
        const c = parseNodeConfig([...argv, ...extra], {});
        expect(get(c), `${argv.join(' ')}`).toEqual(want);
        expect(c.explicitlySet).toContain(flag);
      }
    }
  });

  it('parses the reference n1 command line', () => {
    const c = parseNodeConfig(N1, {});
    expect(c).toMatchObject({
      name: 'n1',
      dataDir: '/tmp/n1',
      dataDirDefaulted: false,
      listenPeerURLs: [P1],
      listenClientURLs: [C1],
      initialAdvertisePeerURLs: [P1],
      advertiseClientURLs: [C1],
      initialClusterString: CLUSTER,
      initialCluster: [
        { name: 'n1', peerURLs: [P1] },
        { name: 'n2', peerURLs: [P2] },
        { name: 'n3', peerURLs: [P3] },
      ],
      initialClusterToken: 'tok',
      initialClusterState: 'new',
    });
  });

  it('takes boolean flags without a value or with =value only', () => {
    expect(parseNodeConfig(['--enable-v2'], {}).enableV2).toBe(true);
    expect(parseNodeConfig(['-enable-v2=true'], {}).enableV2).toBe(true);
    expect(parseNodeConfig(['--enable-v2=false'], {}).enableV2).toBe(false);
    expect(parseNodeConfig(['--strict-reconfig-check=false'], {}).strictReconfigCheck).toBe(false);
    expect(parseNodeConfig(['-strict-reconfig-check=0'], {}).strictReconfigCheck).toBe(false);
    expect(parseNodeConfig(['--pre-vote', '--debug'], {})).toMatchObject({ preVote: true, debug: true });
    // Go's flag package: a boolean never consumes the next argument.
    const e = fail(['--enable-v2', 'false']);
    expect(e.message).toBe("'false' is not a valid flag");
    expect(e.kind).toBe('verify');
  });

  it('reads numbers like Go (base prefixes, underscores)', () => {
    expect(parseNodeConfig(['--heartbeat-interval=0x64'], {}).heartbeatIntervalMs).toBe(100);
    expect(parseNodeConfig(['--election-timeout=1_500'], {}).electionTimeoutMs).toBe(1500);
  });

  it('lets a value start with a dash', () => {
    const c = parseNodeConfig(['--initial-cluster-token', '--odd'], {});
    expect(c.initialClusterToken).toBe('--odd');
  });

  it('stops at -- and rejects what follows', () => {
    expect(parseNodeConfig(['--name', 'n1', '--'], {}).name).toBe('n1');
    expect(fail(['--name', 'n1', '--', '--x']).message).toBe("'--x' is not a valid flag");
  });

  it('normalises and sorts URL lists', () => {
    const c = parseNodeConfig(['--listen-peer-urls', ' HTTP://127.0.0.1:2381 , http://127.0.0.1:2380'], {});
    expect(c.listenPeerURLs).toEqual(['http://127.0.0.1:2380', 'http://127.0.0.1:2381']);
    expect(parseEtcdURLs('http://[::1]:2380')).toEqual(['http://[::1]:2380']);
  });

  it('recognises -h, --help, --version', () => {
    expect(parseNodeConfig(['-h'], {}).help).toBe(true);
    expect(parseNodeConfig(['--help'], {}).help).toBe(true);
    expect(parseNodeConfig(['--name', 'x', '-help', '--bogus'], {}).help).toBe(true);
    // --version exits before the environment is read and before validation.
    const v = parseNodeConfig(['--version', '--election-timeout=1'], { ETCD_NAME: 'x' });
    expect(v.version).toBe(true);
    expect(v.envUsed).toEqual([]);
  });

  it('accepts other etcd 3.4 flags and reports them as ignored', () => {
    const c = parseNodeConfig(
      ['--wal-dir', '/x', '--quota-backend-bytes=1024', '--enable-pprof', '--grpc-keepalive-timeout', '20s', '-v'],
      {},
    );
    expect(c.ignoredFlags).toEqual(['enable-pprof', 'grpc-keepalive-timeout', 'v', 'wal-dir']);
    expect(c.quotaBackendBytes).toBe(1024);
    expect(c.logs.map((l) => `${l.level} | ${l.pkg}: ${l.text}`)).toEqual([
      'W | pkg/flags: flag "-v" is no longer supported - ignoring.',
    ]);
  });
});

describe('environment', () => {
  it('reads ETCD_* variables when no flag is given, logging them in flag-name order', () => {
    const env = {
      ETCD_NAME: 'n1',
      ETCD_DATA_DIR: '/tmp/n1',
      ETCD_INITIAL_CLUSTER: CLUSTER,
      ETCD_INITIAL_CLUSTER_STATE: 'new',
      ETCD_INITIAL_CLUSTER_TOKEN: 'tok',
      ETCD_INITIAL_ADVERTISE_PEER_URLS: P1,
      ETCD_LISTEN_PEER_URLS: P1,
      ETCD_LISTEN_CLIENT_URLS: C1,
      ETCD_ADVERTISE_CLIENT_URLS: C1,
      ETCD_HEARTBEAT_INTERVAL: '50',
      ETCD_ELECTION_TIMEOUT: '500',
      ETCD_SNAPSHOT_COUNT: '10',
      ETCD_ENABLE_V2: 'true',
      ETCD_STRICT_RECONFIG_CHECK: 'false',
      PATH: '/usr/bin',
    };
    const c = parseNodeConfig([], env);
    expect(c).toMatchObject({
      name: 'n1',
      dataDir: '/tmp/n1',
      initialClusterString: CLUSTER,
      initialClusterToken: 'tok',
      listenPeerURLs: [P1],
      listenClientURLs: [C1],
      advertiseClientURLs: [C1],
      heartbeatIntervalMs: 50,
      electionTimeoutMs: 500,
      snapshotCount: 10,
      enableV2: true,
      strictReconfigCheck: false,
    });
    const keys = [
      'ETCD_ADVERTISE_CLIENT_URLS',
      'ETCD_DATA_DIR',
      'ETCD_ELECTION_TIMEOUT',
      'ETCD_ENABLE_V2',
      'ETCD_HEARTBEAT_INTERVAL',
      'ETCD_INITIAL_ADVERTISE_PEER_URLS',
      'ETCD_INITIAL_CLUSTER',
      'ETCD_INITIAL_CLUSTER_STATE',
      'ETCD_INITIAL_CLUSTER_TOKEN',
      'ETCD_LISTEN_CLIENT_URLS',
      'ETCD_LISTEN_PEER_URLS',
      'ETCD_NAME',
      'ETCD_SNAPSHOT_COUNT',
      'ETCD_STRICT_RECONFIG_CHECK',
    ];
    expect(c.envUsed.map((e) => e.key)).toEqual(keys);
    expect(c.logs[0]).toEqual({
      kind: 'capnslog',
      level: 'I',
      pkg: 'pkg/flags',
      text: 'recognized and used environment variable ETCD_ADVERTISE_CLIENT_URLS=http://127.0.0.1:32379',
    });
    expect(c.logs.map((l) => l.text)).toContain('recognized and used environment variable ETCD_NAME=n1');
  });

  it('ignores empty variables and warns about unknown ETCD_ ones', () => {
    const c = parseNodeConfig([], { ETCD_NAME: '', ETCD_FOO: 'bar', ETCDCTL_API: '2', HOME: '/root' });
    expect(c.name).toBe('default');
    expect(c.envUsed).toEqual([]);
    // etcd quirk: an empty ETCD_NAME is not used, so verifyEnv reports it as unrecognized.
    expect(c.logs.map((l) => `${l.level} | ${l.pkg}: ${l.text}`)).toEqual([
      'W | pkg/flags: unrecognized environment variable ETCD_NAME=',
      'W | pkg/flags: unrecognized environment variable ETCD_FOO=bar',
    ]);
  });

  it('a flag beats its variable when asked to (flag-wins)', () => {
    const c = parseNodeConfig(
      ['--name', 'n1'],
      { ETCD_NAME: 'other', ETCD_DATA_DIR: '/d' },
      { envConflict: 'flag-wins' },
    );
    expect(c.name).toBe('n1');
    expect(c.dataDir).toBe('/d');
    expect(c.envUsed).toEqual([{ key: 'ETCD_DATA_DIR', value: '/d' }]);
  });

  it('a variable shadowed by a flag is fatal by default, as in etcd 3.4', () => {
    const e = fail(['--name', 'n1'], { ETCD_DATA_DIR: '/d', ETCD_NAME: 'other' });
    expect(e.kind).toBe('fatal');
    expect(e.exitCode).toBe(1);
    expect(e.message).toBe(
      'conflicting environment variable "ETCD_NAME" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)',
    );
    expect(e.logs.map((l) => `${l.level} ${l.pkg}`)).toEqual(['I pkg/flags', 'C pkg/flags']);
    // Even an empty variable conflicts.
    expect(fail(['--name', 'n1'], { ETCD_NAME: '' }).kind).toBe('fatal');
  });

  it('reports a bad variable value like etcd', () => {
    expect(fail([], { ETCD_INITIAL_CLUSTER_STATE: 'bogus' }).message).toBe(
      'invalid value "bogus" for ETCD_INITIAL_CLUSTER_STATE: invalid value',
    );
    expect(fail([], { ETCD_HEARTBEAT_INTERVAL: 'ten' }).message).toBe(
      'invalid value "ten" for ETCD_HEARTBEAT_INTERVAL: parse error',
    );
    const e = fail([], { ETCD_LISTEN_PEER_URLS: 'foo' });
    expect(e.message).toBe(
      'invalid value "foo" for ETCD_LISTEN_PEER_URLS: URL scheme must be http, https, unix, or unixs: foo',
    );
    expect(e.logs.at(-1)?.text).toBe(
      `error verifying flags, invalid value "foo" for ETCD_LISTEN_PEER_URLS: URL scheme must be http, https, unix, or unixs: foo. See 'etcd --help'.`,
    );
  });

  it('counts a listen-client-urls variable as set', () => {
    expect(fail([], { ETCD_LISTEN_CLIENT_URLS: C1 }).message).toBe(
      '--advertise-client-urls is required when --listen-client-urls is set explicitly',
    );
  });
});

describe('validation errors', () => {
  it('unknown flag and other syntax errors (exit 2)', () => {
    const e = fail(['--bogus']);
    expect(e).toMatchObject({ kind: 'flag', exitCode: 2, message: 'flag provided but not defined: -bogus' });
    expect(fail(['-bogus=1']).message).toBe('flag provided but not defined: -bogus');
    expect(fail(['--name']).message).toBe('flag needs an argument: -name');
    expect(fail(['---name=x']).message).toBe('bad flag syntax: ---name=x');
    expect(fail(['-=x']).message).toBe('bad flag syntax: -=x');
    expect(fail(['--enable-v2=maybe']).message).toBe('invalid boolean value "maybe" for -enable-v2: parse error');
    expect(fail(['--heartbeat-interval', 'abc']).message).toBe(
      'invalid value "abc" for flag -heartbeat-interval: parse error',
    );
    expect(fail(['--heartbeat-interval', '-5']).message).toBe(
      'invalid value "-5" for flag -heartbeat-interval: parse error',
    );
    expect(fail(['--snapshot-count', '18446744073709551616']).message).toBe(
      'invalid value "18446744073709551616" for flag -snapshot-count: value out of range',
    );
  });

  it('positional arguments', () => {
    const e = fail(['n1']);
    expect(e).toMatchObject({ kind: 'verify', exitCode: 1, message: "'n1' is not a valid flag" });
    expect(e.logs).toEqual([
      {
        kind: 'capnslog',
        level: 'E',
        pkg: 'etcdmain',
        text: "error verifying flags, 'n1' is not a valid flag. See 'etcd --help'.",
      },
    ]);
  });

  it('invalid URLs', () => {
    expect(fail(['--listen-peer-urls', 'foo']).message).toBe(
      'invalid value "foo" for flag -listen-peer-urls: URL scheme must be http, https, unix, or unixs: foo',
    );
    expect(fail(['--listen-peer-urls', 'localhost:2380']).message).toBe(
      'invalid value "localhost:2380" for flag -listen-peer-urls: URL scheme must be http, https, unix, or unixs: localhost:2380',
    );
    expect(fail(['--listen-peer-urls', '127.0.0.1:2380']).message).toBe(
      'invalid value "127.0.0.1:2380" for flag -listen-peer-urls: parse "127.0.0.1:2380": first path segment in URL cannot contain colon',
    );
    expect(fail(['--initial-advertise-peer-urls', 'https://192.168.64.29']).message).toBe(
      'invalid value "https://192.168.64.29" for flag -initial-advertise-peer-urls: URL address does not have the form "host:port": https://192.168.64.29',
    );
    expect(fail(['--advertise-client-urls', 'http://127.0.0.1:2379/v2']).message).toBe(
      'invalid value "http://127.0.0.1:2379/v2" for flag -advertise-client-urls: URL must not contain a path: http://127.0.0.1:2379/v2',
    );
    expect(fail(['--listen-client-urls', 'http://127.0.0.1:abc']).message).toBe(
      'invalid value "http://127.0.0.1:abc" for flag -listen-client-urls: parse "http://127.0.0.1:abc": invalid port ":abc" after host',
    );
  });

  it('listen URLs must be IPs (or localhost)', () => {
    expect(fail(['--listen-peer-urls', 'http://example.com:2380']).message).toBe(
      'expected IP in URL for binding (http://example.com:2380)',
    );
  });

  it('advertised URLs need a host', () => {
    expect(fail(['--initial-advertise-peer-urls', 'http://:2380']).message).toBe(
      '--initial-advertise-peer-urls "http://:2380" must be "host:port" (unexpected empty host (http://:2380))',
    );
  });

  it('--advertise-client-urls is required with --listen-client-urls', () => {
    const e = fail(['--listen-client-urls', C1]);
    expect(e.message).toBe('--advertise-client-urls is required when --listen-client-urls is set explicitly');
    expect(e.logs.map((l) => l.text)).toEqual([
      "error verifying flags, --advertise-client-urls is required when --listen-client-urls is set explicitly. See 'etcd --help'.",
      'When listening on specific address(es), this etcd process must advertise accessible url(s) to each connected client.',
    ]);
  });

  it('election timeout vs heartbeat', () => {
    expect(fail(['--heartbeat-interval', '300']).message).toBe(
      '--election-timeout[1000ms] should be at least as 5 times as --heartbeat-interval[300ms]',
    );
    expect(fail(['--heartbeat-interval=250', '--election-timeout=1000']).message).toBe(
      '--election-timeout[1000ms] should be at least as 5 times as --heartbeat-interval[250ms]',
    );
    expect(parseNodeConfig(['--heartbeat-interval=200', '--election-timeout=1000'], {}).electionTicks).toBe(5);
    expect(fail(['--heartbeat-interval=0']).message).toBe('--heartbeat-interval must be >0 (set to 0ms)');
    expect(fail(['--election-timeout=0']).message).toBe('--election-timeout must be >0 (set to 0ms)');
    expect(fail(['--election-timeout=60000']).message).toBe(
      '--election-timeout[60000ms] is too long, and should be set less than 50000ms',
    );
  });

  it('bad --initial-cluster-state', () => {
    expect(fail(['--initial-cluster-state', 'old']).message).toBe(
      'invalid value "old" for flag -initial-cluster-state: invalid value',
    );
  });

  it("initial cluster without this member's name", () => {
    const e = fail(['--name', 'x', '--initial-cluster', CLUSTER]);
    expect(e).toMatchObject({
      kind: 'fatal',
      exitCode: 1,
      message: `couldn't find local name "x" in the initial cluster configuration`,
    });
    expect(e.logs.at(-1)).toEqual({
      kind: 'capnslog',
      level: 'C',
      pkg: 'etcdmain',
      text: `couldn't find local name "x" in the initial cluster configuration`,
    });
    // Also when joining an existing cluster.
    expect(fail(['--name', 'x', '--initial-cluster', CLUSTER, '--initial-cluster-state=existing']).message).toBe(
      `couldn't find local name "x" in the initial cluster configuration`,
    );
  });

  it("initial cluster URLs that differ from this member's advertised ones", () => {
    expect(fail(['--name', 'n1', '--initial-cluster', CLUSTER]).message).toBe(
      `--initial-cluster has n1=${P1} but missing from --initial-advertise-peer-urls=http://localhost:2380 ("http://localhost:2380"(resolved from "http://localhost:2380") != "${P1}"(resolved from "${P1}"))`,
    );
    expect(fail(['--initial-advertise-peer-urls', P1]).message).toBe(
      `--initial-cluster has default=http://localhost:2380 but missing from --initial-advertise-peer-urls=${P1} ("${P1}"(resolved from "${P1}") != "http://localhost:2380"(resolved from "http://localhost:2380"))`,
    );
    expect(
      fail([
        '--name',
        'n1',
        '--initial-advertise-peer-urls',
        `${P1},http://127.0.0.1:32381`,
        '--initial-cluster',
        CLUSTER,
      ]).message,
    ).toBe(
      `--initial-advertise-peer-urls has http://127.0.0.1:32381 but missing from --initial-cluster=n1=${P1},n1=http://127.0.0.1:32381`,
    );
  });

  it('duplicate URLs in the initial cluster', () => {
    expect(
      fail(['--name', 'n1', '--initial-advertise-peer-urls', P1, '--initial-cluster', `n1=${P1},n2=${P1}`]).message,
    ).toBe(`initial cluster n1=${P1},n2=${P1} has duplicate url`);
  });

  it('an unparsable initial cluster', () => {
    expect(fail(['--initial-cluster', 'default']).message).toBe(
      'error setting up initial cluster: URL scheme must be http, https, unix, or unixs: ',
    );
    expect(fail(['--initial-cluster', 'default=localhost:2380']).message).toBe(
      'error setting up initial cluster: URL scheme must be http, https, unix, or unixs: localhost:2380',
    );
  });

  it('skips the bootstrap checks for a member that already has data', () => {
    const c = parseNodeConfig(['--name', 'x', '--initial-cluster', CLUSTER], {}, { memberInitialized: true });
    expect(c.name).toBe('x');
    const d = parseNodeConfig(['--initial-cluster', 'garbage'], {}, { memberInitialized: true });
    expect(d.initialCluster).toEqual([]);
  });

  it('does not check advertised URLs when joining an existing cluster', () => {
    const c = parseNodeConfig(
      ['--name', 'n1', '--initial-cluster', CLUSTER, '--initial-cluster-state', 'existing'],
      {},
    );
    expect(c.initialClusterState).toBe('existing');
  });

  it('discovery and DNS SRV bootstrap: the cluster is found at start, so no static check applies', () => {
    const d = parseNodeConfig(['--name', 'n1', '--discovery', 'http://127.0.0.1:2379/v2/keys/discovery/t'], {});
    expect(d.bootstrap).toEqual({
      method: 'discovery',
      url: 'http://127.0.0.1:2379/v2/keys/discovery/t',
      fallback: 'proxy',
    });
    expect(
      parseNodeConfig(['--discovery', 'http://h:1/t', '--discovery-fallback', 'exit'], {}).bootstrap,
    ).toMatchObject({ fallback: 'exit' });
    expect(
      parseNodeConfig(['--name', 'n1', '--discovery-srv', 'example.com', '--discovery-srv-name', 'blue'], {}).bootstrap,
    ).toEqual({
      method: 'dns',
      domain: 'example.com',
      serviceName: 'blue',
    });
    expect(
      parseNodeConfig(['--name', 'n1', '--initial-cluster', CLUSTER], {}, { memberInitialized: true }).bootstrap,
    ).toEqual({ method: 'static' });
    expect(d.ignoredFlags).not.toContain('discovery');
  });

  it("etcd 3.6's v3 discovery flags: the bootstrap method with its client timings, and 3.6's checks", () => {
    const v3 = parseNodeConfig(
      [
        '--name',
        'n1',
        '--discovery-token',
        'tok',
        '--discovery-endpoints',
        'http://127.0.0.1:2379,127.0.0.1:2479',
        '--discovery-dial-timeout',
        '500ms',
        '--discovery-keepalive-timeout',
        '1m30s',
      ],
      {},
    );
    expect(v3.bootstrap).toEqual({
      method: 'discovery-v3',
      token: 'tok',
      endpoints: ['127.0.0.1:2479', 'http://127.0.0.1:2379'],
      dialTimeoutMs: 500,
      requestTimeoutMs: 5000,
      keepAliveTimeMs: 2000,
      keepAliveTimeoutMs: 90_000,
    });
    // The default initial cluster is dropped, as for the other discovery methods.
    expect(v3.initialClusterString).toBe('');
    expect(v3.ignoredFlags).toEqual([]);
    expect(parseNodeConfig([], { ETCD_DISCOVERY_TOKEN: 't', ETCD_DISCOVERY_ENDPOINTS: 'h:1' }).bootstrap).toMatchObject(
      { method: 'discovery-v3', token: 't', endpoints: ['h:1'] },
    );
    expect(fail(['--discovery-token', 'tok']).message).toBe(
      'both --discovery-token and --discovery-endpoints must be set',
    );
    expect(fail(['--discovery-endpoints', 'h:1']).message).toBe(
      'both --discovery-token and --discovery-endpoints must be set',
    );
    expect(fail(['--discovery-token', 't', '--discovery-endpoints', 'h:1,,h:2']).message).toBe(
      '--discovery-endpoints must not contain empty endpoints',
    );
    expect(fail(['--discovery-token', 't', '--discovery-endpoints', 'h:1', '--initial-cluster', CLUSTER]).message).toBe(
      'multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or "discovery-srv"',
    );
    expect(fail(['--discovery-dial-timeout', '2']).message).toBe(
      'invalid value "2" for flag -discovery-dial-timeout: parse error',
    );
  });

  it("--proxy and its timings, with etcd 3.4's defaults", () => {
    expect(parseNodeConfig([], {}).proxy).toEqual({
      mode: 'off',
      failureWaitMs: 5000,
      refreshIntervalMs: 30_000,
      dialTimeoutMs: 1000,
      writeTimeoutMs: 5000,
      readTimeoutMs: 0,
    });
    const p = parseNodeConfig(
      ['--proxy', 'readonly', ...PROXY_TIMING_FLAGS, '--listen-client-urls', C1, '--initial-cluster', CLUSTER],
      {},
    );
    expect(p.proxy).toEqual({
      mode: 'readonly',
      ...PROXY_TIMINGS_MS,
    });
    // A proxy needs no --advertise-client-urls (etcd: "check this last since proxying may make this OK"); the default stays.
    expect(p.advertiseClientURLs).toEqual(['http://localhost:2379']);
    expect(p.ignoredFlags).toEqual([]);
    expect(fail(['--proxy', 'maybe']).message).toBe('invalid value "maybe" for flag -proxy: invalid value');
  });

  it('unsupported etcd features', () => {
    expect(fail(['--config-file', '/etc/etcd.yml'])).toMatchObject({ kind: 'unsupported' });
    expect(fail([], { ETCD_CONFIG_FILE: '/etc/etcd.yml' })).toMatchObject({ kind: 'unsupported' });
    expect(fail(['--discovery', 'https://discovery.etcd.io/x', '--discovery-proxy', 'http://p:8080'])).toMatchObject({
      kind: 'unsupported',
    });
    expect(fail(['--discovery', 'https://discovery.etcd.io/x', '--initial-cluster', CLUSTER]).message).toBe(
      'multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or "discovery-srv"',
    );
  });

  it('logger options', () => {
    expect(fail(['--logger', 'syslog']).message).toBe('unknown logger option "syslog"');
    expect(fail(['--log-outputs', 'stderr,stdout']).message).toBe(
      `--logger=capnslog supports only 1 value in '--log-outputs', got ["stderr" "stdout"]`,
    );
    expect(parseNodeConfig(['--log-outputs', 'stderr'], {}).ignoredFlags).toEqual([]);
    expect(parseNodeConfig(['--logger', 'zap'], {}).ignoredFlags).toEqual(['logger']);
  });
});

describe('TLS flags', () => {
  const HTTPS = N1.map((a) => a.replace('http://127.0.0.1:32379', 'https://127.0.0.1:32379'));

  it('reads the client and peer TLS info from flags and ETCD_* variables, as etcdmain fills TLSInfo', () => {
    const c = parseNodeConfig(
      [
        ...HTTPS,
        '--cert-file',
        'c.pem',
        '--key-file',
        'k.pem',
        '--trusted-ca-file',
        'ca.pem',
        '--client-cert-auth',
        '--peer-auto-tls',
        '--peer-cert-allowed-cn',
        'etcd-peer',
      ],
      {
        ETCD_PEER_CLIENT_CERT_AUTH: 'true',
        ETCD_PEER_TRUSTED_CA_FILE: 'pca.pem',
        ETCD_EXPERIMENTAL_PEER_SKIP_CLIENT_SAN_VERIFICATION: 'true',
      },
    );
    expect(c.clientTLS).toEqual({
      certFile: 'c.pem',
      keyFile: 'k.pem',
      trustedCAFile: 'ca.pem',
      clientCertAuth: true,
      crlFile: '',
      allowedCN: '',
      allowedHostname: '',
      skipClientSANVerify: false,
      selfCert: false,
      cipherSuites: [],
    });
    expect(c.peerTLS).toEqual({
      certFile: '',
      keyFile: '',
      trustedCAFile: 'pca.pem',
      clientCertAuth: true,
      crlFile: '',
      allowedCN: 'etcd-peer',
      allowedHostname: '',
      skipClientSANVerify: true,
      selfCert: false,
      cipherSuites: [],
    });
    expect([c.clientAutoTLS, c.peerAutoTLS]).toEqual([false, true]);
    expect(c.ignoredFlags).toEqual([]);
    expect(c.listenClientURLs).toEqual(['https://127.0.0.1:32379']);
  });

  it('takes https:// URLs when a key pair or auto TLS is given, and refuses them as etcd does otherwise', () => {
    expect(() => parseNodeConfig([...HTTPS, '--auto-tls'], {})).not.toThrow();
    expect(() => parseNodeConfig([...HTTPS, '--cert-file', 'c.pem'], {})).not.toThrow(); // the missing key is found when the listener is made
    const peer = [
      '--listen-peer-urls',
      'https://127.0.0.1:32380',
      '--initial-advertise-peer-urls',
      'https://127.0.0.1:32380',
      '--initial-cluster',
      'n1=https://127.0.0.1:32380',
    ];
    expect(() => parseNodeConfig(['--name', 'n1', ...peer, '--peer-auto-tls'], {})).not.toThrow();
    expect(fail(['--name', 'n1', ...peer]).message).toBe(
      'cannot listen on TLS for 127.0.0.1:32380: KeyFile and CertFile are not presented',
    );
    expect(fail(HTTPS).message).toBe(
      'TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:32379 with HTTPS scheme',
    );
    // --cipher-suites: Go's names, checked first (whether or not anything is TLS), for both ports.
    const cs = parseNodeConfig(
      [
        ...HTTPS,
        '--auto-tls',
        '--cipher-suites',
        'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305',
      ],
      {},
    );
    expect([cs.clientTLS.cipherSuites, cs.peerTLS.cipherSuites]).toEqual([
      ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305'],
      ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305'],
    ]);
    expect(
      fail([...N1, '--cipher-suites', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,ECDHE-RSA-AES128-SHA']),
    ).toMatchObject({ kind: 'fatal', message: 'unexpected TLS cipher suite "ECDHE-RSA-AES128-SHA"' });
    // Client TLS does not serve the peer port, nor peer TLS the client port.
    expect(fail([...HTTPS, '--peer-cert-file', 'c.pem', '--peer-key-file', 'k.pem']).kind).toBe('fatal');
  });
});

describe('initial cluster', () => {
  it('keeps names in order and collects the URLs of a repeated name', () => {
    expect(parseInitialCluster(`n2=${P2},n1=${P1},n2=http://127.0.0.1:32481,,n3=${P3}`)).toEqual([
      { name: 'n2', peerURLs: [P2, 'http://127.0.0.1:32481'] },
      { name: 'n1', peerURLs: [P1] },
      { name: 'n3', peerURLs: [P3] },
    ]);
  });

  it('bootstrap ids follow etcd (member ids from the token, cluster id from the members)', () => {
    const c = parseNodeConfig(N1, {});
    const ids = bootstrapIds(c);
    expect(ids.members.map((m) => m.name)).toEqual(['n1', 'n2', 'n3']);
    expect(ids.localId).toBe(ids.members[0]?.id);
    expect(ids.members[0]?.id).toBe('ca7a34e16cff9c1b');
    expect(ids.clusterId).toBe('7124aea9c32ce409');
  });
});
