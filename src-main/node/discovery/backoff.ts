// What etcd's discovery clients (v2 and v3) share: the wait before a retry, given up when the
// start is aborted.

/** Sleeps `ms`; rejects with the signal's reason if it is aborted meanwhile. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
  });
}

/** etcd's backoff before the n-th retry: 2^min(n, 8) seconds. */
export function backoffMs(retry: number): number {
  return 2 ** Math.min(retry, 8) * 1000;
}
