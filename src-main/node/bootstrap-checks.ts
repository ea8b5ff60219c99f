// The checks etcdserver makes before bootstrapping a member that has no data yet
// (etcdserver/config.go VerifyBootstrap, VerifyJoinExisting), with etcd's messages. They run on
// the flags (config.ts) and again once discovery has found the initial cluster.

import { initialClusterToString, type InitialClusterMember } from './etcd-urls.js';
import { quote, quoteSlice } from './go/strconv.js';
import { compareStrings } from './go/strings.js';

interface Member {
  name: string;
  initialCluster: InitialClusterMember[];
}

function hasLocalMember(cfg: Member): void {
  if (!cfg.initialCluster.some((m) => m.name === cfg.name)) {
    throw new Error(`couldn't find local name ${quote(cfg.name)} in the initial cluster configuration`);
  }
}

function checkDuplicateURL(members: readonly InitialClusterMember[]): void {
  const seen = new Set<string>();
  for (const m of members) {
    for (const u of m.peerURLs) {
      if (seen.has(u)) throw new Error(`initial cluster ${initialClusterToString(members)} has duplicate url`);
      seen.add(u);
    }
  }
}

/** etcdserver's advertiseMatchesCluster, without DNS (etcd never resolves localhost or IP literals either). */
function advertiseMatchesCluster(cfg: Member & { initialAdvertisePeerURLs: string[] }): void {
  const urls = [...(cfg.initialCluster.find((m) => m.name === cfg.name)?.peerURLs ?? [])].sort(compareStrings);
  const apurls = [...cfg.initialAdvertisePeerURLs].sort(compareStrings);
  let err: string;
  if (apurls.length !== urls.length) {
    err = `len(${quoteSlice(apurls)}) != len(${quoteSlice(urls)})`;
  } else {
    const i = apurls.findIndex((u, k) => u !== urls[k]);
    if (i < 0) return;
    const [a, u] = [apurls[i]!, urls[i]!]; // a mismatch found at i; both lists have that many
    err = `${quote(a)}(resolved from ${quote(a)}) != ${quote(u)}(resolved from ${quote(u)})`;
  }
  const self = `${initialClusterToString([{ name: cfg.name, peerURLs: apurls }])}`;
  const missingFromAP = urls.filter((u) => !apurls.includes(u));
  if (missingFromAP.length > 0) {
    const mstr = missingFromAP.map((u) => `${cfg.name}=${u}`).join(',');
    throw new Error(
      `--initial-cluster has ${mstr} but missing from --initial-advertise-peer-urls=${apurls.join(',')} (${err})`,
    );
  }
  const missingFromIC = apurls.filter((u) => !urls.includes(u));
  if (missingFromIC.length > 0) {
    throw new Error(
      `--initial-advertise-peer-urls has ${missingFromIC.join(',')} but missing from --initial-cluster=${self}`,
    );
  }
  throw new Error(`failed to resolve ${apurls.join(',')} to match --initial-cluster=${self} (${err})`);
}

/** etcdserver's VerifyBootstrap (new cluster, no data yet). Throws with etcd's message. */
export function verifyBootstrap(cfg: Member & { initialAdvertisePeerURLs: string[] }): void {
  hasLocalMember(cfg);
  advertiseMatchesCluster(cfg);
  checkDuplicateURL(cfg.initialCluster);
  if (initialClusterToString(cfg.initialCluster) === '')
    throw new Error('initial cluster unset and no discovery URL found');
}

/** etcdserver's VerifyJoinExisting (existing cluster, no data yet). Throws with etcd's message. */
export function verifyJoinExisting(cfg: Member): void {
  hasLocalMember(cfg);
  checkDuplicateURL(cfg.initialCluster);
}
