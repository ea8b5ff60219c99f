// A cluster bootstrapped by etcd discovery or DNS SRV records, in the window's words: the
// discovery directory as `size` slots filling in creation order, each member's place in it (or
// its record), and one sentence for where the bootstrap stands. Pure, so tested without a browser.

import type { BootstrapView, NodeState, Registration, SrvRecordView } from '../../src-shared/cluster-state.js';

export interface DirectorySlot {
  /** 1..size: the order of registration (creation index), which is the initial cluster's order. */
  n: number;
  registration?: Registration;
  /** The member's name, as it registered itself (`name=peerURL`). */
  member?: string;
}

/** The member name a registration's value gives (`n1=http://…` → n1). */
export function registeredName(r: Registration): string {
  return r.value.slice(0, Math.max(0, r.value.indexOf('=')));
}

/** The directory as `size` slots; registrations beyond the size (etcd ignores them) come after. */
export function directorySlots(b: BootstrapView): { slots: DirectorySlot[]; beyond: Registration[] } {
  const regs = b.registrations ?? [];
  const size = b.size ?? regs.length;
  const slots = Array.from({ length: size }, (_, i) => {
    const r = regs[i];
    return r ? { n: i + 1, registration: r, member: registeredName(r) } : { n: i + 1 };
  });
  return { slots, beyond: regs.slice(size) };
}

/** The record that names this member's peer URL (DNS). */
export function recordOf(b: BootstrapView, n: Pick<NodeState, 'peerURL'>): SrvRecordView | undefined {
  const u = new URL(n.peerURL);
  return b.records?.find((r) => r.target === u.hostname && r.port === Number(u.port));
}

/** Where a member stands in the bootstrap, in a few words (under its node, and in the panel). */
export function memberPhase(b: BootstrapView, n: NodeState): string {
  if (n.status === 'unstarted') return 'not started';
  if (b.method === 'dns') {
    if (n.status === 'alive') return 'found itself in the records';
    if (n.status === 'starting') return 'looking up the records';
    return n.status;
  }
  const regs = b.registrations ?? [];
  const registered = regs.some((r) => r.id === n.id);
  const missing = Math.max(0, (b.size ?? 0) - regs.length);
  if (n.status === 'alive') return 'member';
  if (n.status === 'starting') {
    if (!registered) return 'asking the directory';
    return missing > 0 ? `waiting for ${missing} more` : 'forming the cluster';
  }
  return n.status;
}

/** One sentence: how far the bootstrap has got. */
export function bootstrapSummary(b: BootstrapView, nodes: readonly NodeState[]): string {
  const alive = nodes.filter((n) => n.status === 'alive').length;
  if (b.method === 'dns') {
    const found = nodes.filter((n) => n.status === 'alive' && recordOf(b, n)).length;
    const count = b.records?.length ?? 0;
    return found === count
      ? `${count} SRV record${count === 1 ? '' : 's'}: every member found itself among them and the cluster formed`
      : `${count} SRV record${count === 1 ? '' : 's'}: ${found} of ${count} members found themselves so far`;
  }
  const regs = b.registrations ?? [];
  const size = b.size ?? 0;
  const waiting = nodes.filter((n) => n.status === 'starting' && regs.some((r) => r.id === n.id)).map((n) => n.name);
  if (regs.length === 0)
    return `The directory is empty: it waits for ${size} member${size === 1 ? '' : 's'} to register`;
  if (regs.length < size) {
    const who =
      waiting.length > 0
        ? `: ${listWords(waiting)} ${waiting.length === 1 ? 'waits' : 'wait'} for ${size - regs.length} more`
        : '';
    return `${regs.length} of ${size} registered${who}`;
  }
  return alive >= size
    ? `${size} of ${size} registered: the cluster formed from them, in registration order`
    : `${size} of ${size} registered: the members start the cluster they found`;
}

function listWords(names: string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/** A command a user can paste to see the same thing from a shell. */
export function lookCommand(b: BootstrapView): string {
  if (b.method === 'dns') {
    const [host, port] = (b.dnsServer ?? '127.0.0.1:53').split(':');
    return `dig @${host} -p ${port} +short SRV _etcd-server._tcp.${b.domain}`;
  }
  return `curl -s '${b.url}?recursive=true'`;
}
