// etcd's v2 keys API as the tests write to it, on a raftlab node or a real etcd alike.

/** PUT `key` = `value` (a form body, as etcdctl and curl send it); the status, the body read and dropped. */
export async function putV2(url: string, key: string, value: string, timeoutMs = 15_000): Promise<number> {
  const res = await fetch(`${url}/v2/keys${key}`, {
    method: 'PUT',
    body: new URLSearchParams({ value }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  await res.arrayBuffer();
  return res.status;
}
