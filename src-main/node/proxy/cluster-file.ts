// The proxy's memory of the cluster: `<data-dir>/proxy/cluster`, `{"PeerURLs":[...]}` as etcd
// 3.4's startProxy writes it (encoding/json of struct{ PeerURLs []string }). Written to
// `cluster.bak`, synced, then renamed over the old one (pkg/ioutil.WriteAndSyncFile + os.Rename),
// so a crash leaves either the old file or the new one, never half of one.

import fs from 'node:fs';
import path from 'node:path';

export interface ClusterFile {
  PeerURLs: string[] | null;
}

export function clusterFilePath(proxyDir: string): string {
  return path.join(proxyDir, 'cluster');
}

/** The peer URLs saved by an earlier run, or undefined when there is no file yet. */
export function readClusterFile(file: string): string[] | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    // etcd returns json.Unmarshal's error, which is fatal for the proxy.
    throw new Error(`invalid cluster file ${file}: ${(err as Error).message}`, { cause: err });
  }
  const urls = (parsed as Partial<ClusterFile> | null)?.PeerURLs;
  if (urls === null || urls === undefined) return [];
  if (!Array.isArray(urls) || !urls.every((u) => typeof u === 'string'))
    throw new Error(`invalid cluster file ${file}: PeerURLs is not a list of strings`);
  return urls;
}

/** Replaces the file atomically (mode 0600, as etcd). */
export function writeClusterFile(file: string, peerURLs: string[]): void {
  const tmp = `${file}.bak`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, JSON.stringify({ PeerURLs: peerURLs } satisfies ClusterFile));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
