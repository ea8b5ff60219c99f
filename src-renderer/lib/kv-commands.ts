// The shell commands that do what the KV console does, so users can repeat it with their own
// tools against the very same node.

export type KvOp = 'put' | 'get' | 'delete' | 'watch';

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function curlFor(op: KvOp, clientURL: string, key: string, value: string): string {
  const url = `${clientURL}/v2/keys${key}`;
  switch (op) {
    case 'put': return `curl -s -X PUT ${url} -d value=${shellQuote(encodeURIComponent(value))}`;
    case 'get': return `curl -s ${url}`;
    case 'delete': return `curl -s -X DELETE ${url}`;
    case 'watch': return `curl -s ${shellQuote(`${url}?wait=true`)}`;
  }
}

export function etcdctlFor(op: KvOp, clientURL: string, key: string, value: string): string {
  const base = `ETCDCTL_API=2 etcdctl --endpoints ${clientURL}`;
  switch (op) {
    case 'put': return `${base} set ${shellQuote(key)} ${shellQuote(value)}`;
    case 'get': return `${base} get ${shellQuote(key)}`;
    case 'delete': return `${base} rm ${shellQuote(key)}`;
    case 'watch': return `${base} watch ${shellQuote(key)}`;
  }
}
