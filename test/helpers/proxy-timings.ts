// etcd's five --proxy-* timing flags, each given a value of its own (ms, as etcd reads them), and
// the proxy timings they must come out as: read through the node's config and through the proxy.

export const PROXY_TIMING_FLAGS: readonly string[] = [
  '--proxy-failure-wait',
  '100',
  '--proxy-refresh-interval',
  '200',
  '--proxy-dial-timeout',
  '300',
  '--proxy-write-timeout',
  '400',
  '--proxy-read-timeout',
  '500',
];

export const PROXY_TIMINGS_MS = {
  failureWaitMs: 100,
  refreshIntervalMs: 200,
  dialTimeoutMs: 300,
  writeTimeoutMs: 400,
  readTimeoutMs: 500,
} as const;
