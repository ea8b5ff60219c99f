// The deadline of the v3 call being handled, and proposals answered "request timed out" just
// before it passes (etcd's request context carries the client's deadline).
import { AsyncLocalStorage } from 'node:async_hooks';
import { Errors } from './errors.js';

/** The deadline (ms since epoch, Infinity for none) of the gRPC call being handled. */
export const callDeadline = new AsyncLocalStorage<number>();
/** How long before the client's deadline a proposal still waiting is answered "request timed out". */
const DEADLINE_MARGIN_MS = 10;

/**
 * A proposal still waiting when its client's deadline comes: etcd's request context carries that
 * deadline, and etcd answers "request timed out" (its parseProposeCtxErr) just before the client
 * gives up; the proposal itself goes on. Without a deadline (the gateway), it waits as it is.
 */
export function beforeDeadline<T>(p: Promise<T>): Promise<T> {
  const deadline = callDeadline.getStore() ?? Infinity;
  if (!Number.isFinite(deadline)) return p;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Errors.timeout), Math.max(0, deadline - Date.now() - DEADLINE_MARGIN_MS));
  });
  p.catch(() => {}); // answered late or never: not an unhandled rejection
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
