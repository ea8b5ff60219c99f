// etcd 3.4's httpproxy director: the endpoints (client URLs) the proxy forwards to. Refreshed
// from `urls()` at start and every `refreshIntervalMs` (every second instead while none is
// known, when the interval is the 30 s default or more), shuffled so that proxies do not all
// stick to one member. An endpoint that failed is left aside for `failureWaitMs`, then retried.

type Log = (level: 'I', pkg: string, msg: string) => void;

const PKG = 'proxy/httpproxy';
/** etcdmain's default --proxy-refresh-interval. */
const DEFAULT_REFRESH_INTERVAL_MS = 30_000;

export class Endpoint {
  available = true;
  private timer?: NodeJS.Timeout;

  constructor(
    /** As given (Go's url.URL.String() gives it back unchanged). */
    readonly name: string,
    readonly url: URL,
    private readonly failureWaitMs: number,
    private readonly log: Log,
  ) {}

  /** A request could not reach it: aside for failureWaitMs. */
  failed(): void {
    if (!this.available) return;
    this.available = false;
    this.log('I', PKG, `marked endpoint ${this.name} unavailable`);
    this.timer = setTimeout(() => {
      this.available = true;
      this.log('I', PKG, `marked endpoint ${this.name} available, to retest connectivity`);
    }, this.failureWaitMs);
    this.timer.unref();
  }
}

export class Director {
  private eps: Endpoint[] = [];
  private stopped = false;
  private loop?: NodeJS.Timeout;
  /** etcd logs "endpoints found" once per process (a sync.Once). */
  private foundLogged = false;
  /** Endpoints' failure timers outlive a refresh; after stop() they say nothing more. */
  private readonly endpointLog: Log = (level, pkg, msg) => {
    if (!this.stopped) this.log(level, pkg, msg);
  };

  private constructor(
    private readonly urls: () => Promise<string[]>,
    private readonly failureWaitMs: number,
    private readonly refreshIntervalMs: number,
    private readonly log: Log,
  ) {}

  /** Resolves after the first refresh, as etcd's newDirector returns after it. */
  static async start(
    urls: () => Promise<string[]>,
    opts: { failureWaitMs: number; refreshIntervalMs: number; log: Log },
  ): Promise<Director> {
    const d = new Director(urls, opts.failureWaitMs, opts.refreshIntervalMs, opts.log);
    await d.refresh();
    d.schedule();
    return d;
  }

  /** The endpoints not left aside, in their shuffled order. */
  endpoints(): Endpoint[] {
    return this.eps.filter((e) => e.available);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.loop);
  }

  private schedule(): void {
    if (this.stopped) return;
    const es = this.endpoints();
    let ms = this.refreshIntervalMs;
    if (ms >= DEFAULT_REFRESH_INTERVAL_MS && es.length === 0) ms = 1000;
    if (es.length > 0 && !this.foundLogged) {
      this.foundLogged = true;
      this.log('I', PKG, `endpoints found ${goQuoteSlice(es.map((e) => e.name))}`);
    }
    this.loop = setTimeout(() => void this.refresh().then(() => this.schedule()), ms);
  }

  private async refresh(): Promise<void> {
    const urls = await this.urls();
    if (this.stopped) return;
    const eps: Endpoint[] = [];
    for (const u of urls) {
      let parsed: URL;
      try {
        parsed = new URL(u);
      } catch {
        this.log('I', PKG, `upstream URL invalid: parse ${JSON.stringify(u)}: invalid URI for request`);
        continue;
      }
      eps.push(new Endpoint(u, parsed, this.failureWaitMs, this.endpointLog));
    }
    // The same shuffle as etcd's (each element swapped with a random earlier one).
    for (let i = 0; i < eps.length; i++) {
      const j = Math.floor(Math.random() * (i + 1));
      [eps[i], eps[j]] = [eps[j]!, eps[i]!]; // j ≤ i < eps.length
    }
    // A replaced endpoint's failure timer still runs and logs, as in etcd.
    this.eps = eps;
  }
}

/** Go's %q of a []string. */
function goQuoteSlice(items: string[]): string {
  return `[${items.map((s) => JSON.stringify(s)).join(' ')}]`;
}
