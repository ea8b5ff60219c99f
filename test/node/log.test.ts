import { describe, expect, it } from 'vitest';
import {
  createLogger,
  embed,
  etcdmain,
  etcdserver,
  formatLogLine,
  formatLogTimestamp,
  formatRaftLogLine,
  goDuration,
  goDurationNs,
  membership,
  pkgFlags,
  raft,
  rafthttp,
  versionOutput,
} from '../../src-main/node/log.js';

// Local-time constructor: the formatting is in local time, so these tests hold in any time zone.
const T = new Date(2026, 10, 24, 15, 35, 49, 278);

describe('formatLogLine (capnslog PrettyFormatter)', () => {
  it('formats the brief example exactly', () => {
    const m = etcdserver.published('n1', ['http://127.0.0.1:2379'], 'b642fa49c52c2640');
    expect(formatLogLine({ date: T, micros: 204 }, m.level, m.pkg, m.text)).toBe(
      '2026-11-24 15:35:49.278204 I | etcdserver: published {Name:n1 ClientURLs:[http://127.0.0.1:2379]} to cluster b642fa49c52c2640',
    );
  });

  it('pads every field and takes microseconds from the Date', () => {
    const d = new Date(2026, 0, 2, 3, 4, 5, 6);
    expect(formatLogTimestamp(d)).toBe('2026-01-02 03:04:05.006000');
    expect(formatLogLine(d, 'W', 'etcdmain', 'x')).toBe('2026-01-02 03:04:05.006000 W | etcdmain: x');
  });

  it('supports every level letter', () => {
    for (const l of ['I', 'W', 'E', 'N', 'C', 'D'] as const) {
      expect(formatLogLine(T, l, 'p', 'm')).toBe(`2026-11-24 15:35:49.278000 ${l} | p: m`);
    }
  });

  it('does not double a trailing newline and omits an empty package', () => {
    expect(formatLogLine(T, 'I', 'etcdmain', 'etcd Version: 3.4.23\n')).toBe(
      '2026-11-24 15:35:49.278000 I | etcdmain: etcd Version: 3.4.23',
    );
    expect(formatLogLine(T, 'I', '', 'bare')).toBe('2026-11-24 15:35:49.278000 I | bare');
  });
});

describe('formatRaftLogLine (raft DefaultLogger)', () => {
  it('prints like log.New(os.Stderr, "raft", log.LstdFlags)', () => {
    const m = raft.becameLeader('8e9e05c52164694d', 2);
    expect(formatRaftLogLine(T, m.level, m.text)).toBe(
      'raft2026/11/24 15:35:49 INFO: 8e9e05c52164694d became leader at term 2',
    );
    expect(formatRaftLogLine(new Date(2026, 0, 2, 3, 4, 5), 'WARN', 'w')).toBe('raft2026/01/02 03:04:05 WARN: w');
  });
});

describe('goDuration (Go time.Duration.String)', () => {
  it.each([
    [1000, '1s'],
    [4377.659814, '4.377659814s'],
    [500, '500ms'],
    [90_000, '1m30s'],
    [3_600_000, '1h0m0s'],
    [0, '0s'],
    [1.5, '1.5ms'],
    [61_000, '1m1s'],
    [1500, '1.5s'],
    [86_400_000, '24h0m0s'],
    [3_723_004, '1h2m3.004s'],
    [-1000, '-1s'],
    [0.25, '250µs'],
  ])('%s ms -> %s', (ms, want) => {
    expect(goDuration(ms)).toBe(want);
  });

  it('formats nanoseconds', () => {
    expect(goDurationNs(100)).toBe('100ns');
    expect(goDurationNs(1500)).toBe('1.5µs');
    expect(goDurationNs(4_377_659_814n)).toBe('4.377659814s');
    expect(goDurationNs(999_999_999)).toBe('999.999999ms');
  });
});

describe('etcd 3.4 message texts', () => {
  it('rafthttp clock difference warning', () => {
    const m = rafthttp.clockDifference('4231518c29bf020f', 4377.659814);
    expect(m).toEqual({
      kind: 'capnslog',
      level: 'W',
      pkg: 'rafthttp',
      text: 'the clock difference against peer 4231518c29bf020f is too high [4.377659814s > 1s]',
    });
    expect(rafthttp.peerBecameActive('4231518c29bf020f').text).toBe('peer 4231518c29bf020f became active');
    expect(rafthttp.peerBecameInactive('4231518c29bf020f').text).toBe(
      'peer 4231518c29bf020f became inactive (message send to peer failed)',
    );
  });

  it('member removal', () => {
    expect(etcdserver.memberRemoved()).toMatchObject({
      level: 'E',
      pkg: 'etcdserver',
      text: 'the member has been permanently removed from the cluster',
    });
    expect(etcdserver.dataDirMustBeRemoved()).toMatchObject({
      level: 'I',
      pkg: 'etcdserver',
      text: 'the data-dir used by this member must be removed.',
    });
  });

  // Lines of a real etcd 3.4.14 start-up log (single default member).
  it('matches a real etcd 3.4 start-up log', () => {
    const id = '8e9e05c52164694d';
    const cid = 'cdf818194e3a8c32';
    expect(etcdserver.startingMember(id, cid).text).toBe(
      'starting member 8e9e05c52164694d in cluster cdf818194e3a8c32',
    );
    expect(raft.becameFollower(id, 0).text).toBe('8e9e05c52164694d became follower at term 0');
    expect(raft.newRaft(id, [], { term: 0, commit: 0, applied: 0, lastIndex: 0, lastTerm: 0 }).text).toBe(
      'newRaft 8e9e05c52164694d [peers: [], term: 0, commit: 0, applied: 0, lastindex: 0, lastterm: 0]',
    );
    expect(raft.switchedToConfiguration(id, [id]).text).toBe(
      '8e9e05c52164694d switched to configuration voters=(10276657743932975437)',
    );
    expect(raft.switchedToConfiguration(id, []).text).toBe('8e9e05c52164694d switched to configuration voters=()');
    expect(etcdserver.startingServer('3.4.14').text).toBe(
      'starting server... [version: 3.4.14, cluster version: to_be_decided]',
    );
    expect(etcdserver.singleNodeFastForward(id, 9, 10).text).toBe(
      '8e9e05c52164694d as single-node; fast-forwarding 9 ticks (election ticks 10)',
    );
    const added = membership.addedMember(id, ['http://localhost:2380'], cid);
    expect(added).toMatchObject({ level: 'I', pkg: 'etcdserver/membership' });
    expect(added.text).toBe('added member 8e9e05c52164694d [http://localhost:2380] to cluster cdf818194e3a8c32');
    expect(embed.listeningForPeers('127.0.0.1:2380')).toMatchObject({
      level: 'I',
      pkg: 'embed',
      text: 'listening for peers on 127.0.0.1:2380',
    });
    expect(raft.startingNewElection(id, 1).text).toBe('8e9e05c52164694d is starting a new election at term 1');
    expect(raft.becameCandidate(id, 2).text).toBe('8e9e05c52164694d became candidate at term 2');
    expect(raft.receivedVoteResp(id, id, 2).text).toBe(
      '8e9e05c52164694d received MsgVoteResp from 8e9e05c52164694d at term 2',
    );
    expect(raft.becameLeader(id, 2).text).toBe('8e9e05c52164694d became leader at term 2');
    expect(raft.electedLeader(id, id, 2).text).toBe(
      'raft.node: 8e9e05c52164694d elected leader 8e9e05c52164694d at term 2',
    );
    expect(etcdserver.settingUpInitialClusterVersion('3.4').text).toBe('setting up the initial cluster version to 3.4');
    expect(membership.setInitialClusterVersion('3.4')).toMatchObject({
      level: 'N',
      text: 'set the initial cluster version to 3.4',
    });
    expect(etcdserver.published('default', ['http://localhost:2379'], cid).text).toBe(
      'published {Name:default ClientURLs:[http://localhost:2379]} to cluster cdf818194e3a8c32',
    );
    expect(embed.readyToServeClientRequests().text).toBe('ready to serve client requests');
    expect(embed.servingInsecure('127.0.0.1:2379')).toMatchObject({
      level: 'N',
      pkg: 'embed',
      text: 'serving insecure client requests on 127.0.0.1:2379, this is strongly discouraged!',
    });
    expect(etcdmain.noDataDir('default.etcd')).toMatchObject({
      level: 'W',
      pkg: 'etcdmain',
      text: 'no data-dir provided, using default data-dir ./default.etcd',
    });
    expect(etcdmain.maxCpus(2, 2).text).toBe(
      'setting maximum number of CPUs to 2, total number of available CPUs is 2',
    );
    expect(
      embed
        .configSummary({
          name: 'default',
          dataDir: 'default.etcd',
          heartbeatMs: 100,
          electionMs: 1000,
          snapshotCount: 100000,
          advertiseClientURLs: ['http://localhost:2379'],
        })
        .map((m) => m.text),
    ).toEqual([
      'name = default',
      'data dir = default.etcd',
      'member dir = default.etcd/member',
      'heartbeat = 100ms',
      'election = 1000ms',
      'snapshot count = 100000',
      'advertise client URLs = http://localhost:2379',
    ]);
  });

  it('elections', () => {
    const a = 'b75827e6d4dfe87e';
    const b = '4231518c29bf020f';
    expect(raft.sentVoteRequest(a, 1, 5, b, 2).text).toBe(
      'b75827e6d4dfe87e [logterm: 1, index: 5] sent MsgVote request to 4231518c29bf020f at term 2',
    );
    expect(raft.sentVoteRequest(a, 1, 5, b, 2, 'MsgPreVote').text).toBe(
      'b75827e6d4dfe87e [logterm: 1, index: 5] sent MsgPreVote request to 4231518c29bf020f at term 2',
    );
    expect(raft.receivedVoteResp(a, b, 2, false).text).toBe(
      'b75827e6d4dfe87e received MsgVoteResp rejection from 4231518c29bf020f at term 2',
    );
    expect(raft.voteTally(a, 2, 1).text).toBe(
      'b75827e6d4dfe87e has received 2 MsgVoteResp votes and 1 vote rejections',
    );
    expect(raft.castVote(b, 1, 5, '', 'MsgVote', a, 1, 5, 2).text).toBe(
      '4231518c29bf020f [logterm: 1, index: 5, vote: 0] cast MsgVote for b75827e6d4dfe87e [logterm: 1, index: 5] at term 2',
    );
    expect(raft.rejectedVote(b, 2, 7, b, 'MsgVote', a, 1, 5, 3).text).toBe(
      '4231518c29bf020f [logterm: 2, index: 7, vote: 4231518c29bf020f] rejected MsgVote from b75827e6d4dfe87e [logterm: 1, index: 5] at term 3',
    );
    expect(raft.higherTermMessage(b, 2, 'MsgVote', a, 3).text).toBe(
      '4231518c29bf020f [term: 2] received a MsgVote message with higher term from b75827e6d4dfe87e [term: 3]',
    );
    expect(raft.becamePreCandidate(a, 2).text).toBe('b75827e6d4dfe87e became pre-candidate at term 2');
    expect(raft.changedLeader(b, a, b, 4).text).toBe(
      'raft.node: 4231518c29bf020f changed leader from b75827e6d4dfe87e to 4231518c29bf020f at term 4',
    );
    expect(raft.lostLeader(b, a, 4).text).toBe('raft.node: 4231518c29bf020f lost leader b75827e6d4dfe87e at term 4');
    expect(raft.switchedToConfiguration(a, [a, b]).text).toBe(
      `b75827e6d4dfe87e switched to configuration voters=(${0x4231518c29bf020fn} ${0xb75827e6d4dfe87en})`,
    );
  });

  it('membership changes', () => {
    expect(membership.removedMember('62221ff56bcfa7ef', 'b642fa49c52c2640').text).toBe(
      'removed member 62221ff56bcfa7ef from cluster b642fa49c52c2640',
    );
    expect(
      membership.addedMember(
        '62221ff56bcfa7ef',
        ['http://127.0.0.1:32780', 'http://127.0.0.1:32781'],
        'b642fa49c52c2640',
      ).text,
    ).toBe('added member 62221ff56bcfa7ef [http://127.0.0.1:32780 http://127.0.0.1:32781] to cluster b642fa49c52c2640');
    expect(membership.updatedMember('62221ff56bcfa7ef', ['http://127.0.0.1:32790'], 'b642fa49c52c2640')).toMatchObject({
      level: 'N',
      text: 'updated member 62221ff56bcfa7ef [http://127.0.0.1:32790] in cluster b642fa49c52c2640',
    });
  });

  it('flag and environment messages', () => {
    expect(pkgFlags.recognizedEnv('ETCD_NAME', 'n1')).toMatchObject({
      level: 'I',
      pkg: 'pkg/flags',
      text: 'recognized and used environment variable ETCD_NAME=n1',
    });
    expect(pkgFlags.unrecognizedEnv('ETCD_FOO', 'x').text).toBe('unrecognized environment variable ETCD_FOO=x');
    expect(pkgFlags.conflictingEnv('ETCD_NAME')).toMatchObject({
      level: 'C',
      text: 'conflicting environment variable "ETCD_NAME" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)',
    });
    expect(etcdmain.errorVerifyingFlags("'x' is not a valid flag").text).toBe(
      "error verifying flags, 'x' is not a valid flag. See 'etcd --help'.",
    );
    expect(
      versionOutput({
        etcdVersion: '3.4.23',
        gitSha: 'c8b7831',
        goVersion: 'go1.17.13',
        goOs: 'linux',
        goArch: 'amd64',
      }),
    ).toEqual(['etcd Version: 3.4.23', 'Git SHA: c8b7831', 'Go Version: go1.17.13', 'Go OS/Arch: linux/amd64']);
  });

  it('normalises ids like %x', () => {
    expect(etcdserver.startingMember('0628170c800dbcee', '00000000000000ab').text).toBe(
      'starting member 628170c800dbcee in cluster ab',
    );
  });
});

describe('createLogger', () => {
  it('writes formatted lines with the clock, drops debug unless enabled', () => {
    const lines: string[] = [];
    const log = createLogger(
      (l) => lines.push(l),
      () => T,
    );
    log.info('etcdserver', 'a');
    log.notice('embed', 'b');
    log.warn('rafthttp', 'c');
    log.error('etcdserver', 'd');
    log.fatal('etcdmain', 'e');
    log.debug('etcdserver', 'hidden');
    log.raft('INFO', 'f');
    log.raft('DEBUG', 'hidden');
    log.emit(raft.becameFollower('8e9e05c52164694d', 1));
    log.emit(embed.readyToServeClientRequests());
    expect(lines).toEqual([
      '2026-11-24 15:35:49.278000 I | etcdserver: a',
      '2026-11-24 15:35:49.278000 N | embed: b',
      '2026-11-24 15:35:49.278000 W | rafthttp: c',
      '2026-11-24 15:35:49.278000 E | etcdserver: d',
      '2026-11-24 15:35:49.278000 C | etcdmain: e',
      'raft2026/11/24 15:35:49 INFO: f',
      'raft2026/11/24 15:35:49 INFO: 8e9e05c52164694d became follower at term 1',
      '2026-11-24 15:35:49.278000 I | embed: ready to serve client requests',
    ]);
  });

  it('logs debug lines with debug: true and accepts a LogTime clock', () => {
    const lines: string[] = [];
    const log = createLogger(
      (l) => lines.push(l),
      () => ({ date: T, micros: 7 }),
      { debug: true },
    );
    log.debug('etcdserver', 'x');
    log.raft('DEBUG', 'y');
    expect(lines).toEqual(['2026-11-24 15:35:49.278007 D | etcdserver: x', 'raft2026/11/24 15:35:49 DEBUG: y']);
  });
});
