// etcdserver.GetClusterFromRemotePeers (etcd 3.4): ask each peer URL in turn for `GET /members`
// (the peer port's list of members, JSON, with the cluster id in X-Etcd-Cluster-ID); the first
// usable answer is the cluster. Each request has 10 s, as in etcd.

export interface RemoteCluster {
  /** Every member's peer URLs, sorted (membership.RaftCluster.PeerURLs). */
  peerURLs: string[];
  /** Every member's client URLs, sorted (RaftCluster.ClientURLs); unstarted members have none. */
  clientURLs: string[];
}

type Log = (level: 'W', pkg: string, msg: string) => void;

interface RemoteMember {
  peerURLs?: unknown;
  clientURLs?: unknown;
}

const TIMEOUT_MS = 10_000;

export class RemoteClusterError extends Error {}

export async function getClusterFromRemotePeers(
  urls: string[],
  log: Log,
  timeoutMs = TIMEOUT_MS,
): Promise<RemoteCluster> {
  for (const u of urls) {
    const addr = `${u}/members`;
    let res: Response;
    let body: string;
    try {
      res = await fetch(addr, { signal: AbortSignal.timeout(timeoutMs) });
      body = await res.text();
    } catch (err) {
      log(
        'W',
        'etcdserver',
        `could not get cluster response from ${u}: Get ${JSON.stringify(addr)}: ${netError(err, u)}`,
      );
      continue;
    }
    let members: RemoteMember[];
    try {
      members = JSON.parse(body) as RemoteMember[];
      if (!Array.isArray(members))
        throw new Error(`json: cannot unmarshal ${typeof members} into Go value of type []*membership.Member`);
    } catch (err) {
      log('W', 'etcdserver', `could not unmarshal cluster response: ${(err as Error).message}`);
      continue;
    }
    const cid = res.headers.get('x-etcd-cluster-id') ?? '';
    if (!/^[0-9a-fA-F]{1,16}$/.test(cid)) {
      log(
        'W',
        'etcdserver',
        `could not parse the cluster ID from cluster res: strconv.ParseUint: parsing ${JSON.stringify(cid)}: invalid syntax`,
      );
      continue;
    }
    if (members.length === 0) throw new RemoteClusterError('failed to get raft cluster member(s) from the given URLs');
    return {
      peerURLs: members.flatMap((m) => strings(m.peerURLs)).sort(),
      clientURLs: members.flatMap((m) => strings(m.clientURLs)).sort(),
    };
  }
  throw new RemoteClusterError('could not retrieve cluster information from the given URLs');
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
}

/** Go's dial error for the usual failures (`dial tcp 127.0.0.1:2380: connect: connection refused`). */
export function netError(err: unknown, url: string): string {
  const cause = ((err as { cause?: NodeJS.ErrnoException }).cause ?? err) as NodeJS.ErrnoException;
  let host = url;
  try {
    host = new URL(url).host;
  } catch {
    /* keep the text */
  }
  switch (cause?.code) {
    case 'ECONNREFUSED':
      return `dial tcp ${host}: connect: connection refused`;
    case 'ECONNRESET':
      return `read tcp ${host}: read: connection reset by peer`;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `dial tcp ${host}: i/o timeout`;
  }
  if ((err as Error)?.name === 'TimeoutError')
    return 'context deadline exceeded (Client.Timeout exceeded while awaiting headers)';
  return cause?.message ?? String(err);
}
