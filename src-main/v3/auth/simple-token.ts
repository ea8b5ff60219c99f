// etcd's simple tokens (auth/simple_token.go): "<16 random letters>.<index>", the index being
// the log entry of the Authenticate that made it. They are not replicated state: every member
// registers the token when it applies that entry, in its own memory, and each member forgets a
// token 5 minutes after its last use there (each use renews it), on auth disable, or when the
// user is deleted or its password changed. A restarted member knows none.
import { randomInt } from 'node:crypto';

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const TOKEN_PREFIX_LENGTH = 16;
/** etcd's simpleTokenTTLDefault. */
export const SIMPLE_TOKEN_TTL_MS = 300_000;

/** The random part, chosen by the member that proposes the Authenticate (genTokenPrefix). */
export function genTokenPrefix(): string {
  let s = '';
  for (let i = 0; i < TOKEN_PREFIX_LENGTH; i++) s += LETTERS[randomInt(LETTERS.length)];
  return s;
}

/**
 * The log index a token names, or undefined if it is not "<prefix>.<integer>"
 * (isValidSimpleToken; Go's strconv.Atoi takes a sign).
 */
export function tokenIndex(token: string): number | undefined {
  const [, index, ...more] = token.split('.');
  if (index === undefined || more.length > 0 || !/^[+-]?\d+$/.test(index)) return undefined;
  return Number(index);
}

export class SimpleTokens {
  private readonly tokens = new Map<string, { user: string; expiresAt: number }>();
  private enabled = false;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly ttlMs = SIMPLE_TOKEN_TTL_MS,
  ) {}

  enable(): void {
    this.enabled = true;
  }

  /** Every token is forgotten. */
  disable(): void {
    this.enabled = false;
    this.tokens.clear();
  }

  /** Registers a token applied from the log (nothing while auth is disabled, as etcd). */
  assign(token: string, user: string): void {
    if (!this.enabled) return;
    this.expire();
    this.tokens.set(token, { user, expiresAt: this.now() + this.ttlMs });
  }

  /** The token's user, its lifetime renewed; undefined if unknown or expired here. */
  use(token: string): string | undefined {
    const t = this.tokens.get(token);
    if (!t) return undefined;
    const now = this.now();
    if (now > t.expiresAt) {
      this.tokens.delete(token);
      return undefined;
    }
    t.expiresAt = now + this.ttlMs;
    return t.user;
  }

  invalidateUser(user: string): void {
    for (const [token, t] of this.tokens) if (t.user === user) this.tokens.delete(token);
  }

  /** etcd's keeper sweeps every second; here a sweep comes with each new token. */
  private expire(): void {
    const now = this.now();
    for (const [token, t] of this.tokens) if (now > t.expiresAt) this.tokens.delete(token);
  }
}
