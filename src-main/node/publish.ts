// etcd's publish and ReadyNotify: once there is a leader, this member's name and client URLs go
// through the log, on every start (not only when they changed), and the node is ready to serve
// clients once that entry is applied here: it has then caught up at least to its own publish,
// so it cannot answer from a store older than what it last served.

import type { BackendHost } from './backend-host.js';

export class Publisher {
  private publishing = false;
  private ready = false;
  private readyPromise?: Promise<void>;
  private resolveReady?: () => void;

  constructor(
    private readonly node: BackendHost,
    private readonly clientURLs: () => string[],
    /** Told once, when the node becomes ready. */
    private readonly onReady: () => void,
    /** Told each time this member's publish is applied (not when the log is replayed on a restart). */
    private readonly onPublished: (name: string, clientURLs: string[]) => void,
  ) {}

  /** Publishes if there is a leader and the member record is not as this node would publish it. */
  maybePublish(): void {
    const n = this.node;
    if (!n.brief().lead) return;
    const me = n.sm.members.get(n.id);
    const urls = this.clientURLs();
    if (!me || (this.ready && me.name === n.name && sameList(me.clientURLs, urls))) return;
    if (this.publishing) return;
    this.publishing = true;
    n.proposeAndWait((r) => ({ cmd: { t: 'publish', r, id: n.id, name: n.name, clientURLs: urls } }))
      .then((out) => {
        if (out.error) return;
        this.onPublished(n.name, urls);
        this.markReady();
      })
      .catch(() => {})
      .finally(() => (this.publishing = false));
  }

  /** null once ready to serve clients; until then one shared promise of it. */
  whenReady(): Promise<void> | null {
    if (this.ready) return null;
    return (this.readyPromise ??= new Promise((resolve) => (this.resolveReady = resolve)));
  }

  private markReady(): void {
    if (this.ready) return;
    this.ready = true;
    this.resolveReady?.();
    this.onReady();
  }
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
