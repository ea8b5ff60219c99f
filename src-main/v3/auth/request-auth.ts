// The server's side of etcd's auth (etcdserver/v3_server.go, v3rpc's auth checks): who a request
// is from (the token in its metadata), the user and auth revision a proposal carries in its
// header for every member to check when applying, the checks of reads served without the log
// (doSerialize), root-only requests, and Authenticate (the password is checked here, by the
// member the client asked; only the token's random part goes through the log).
import type { V3Backend } from '../backend.js';
import type { CallContext } from '../call.js';
import { AuthErrors } from './errors.js';
import { hashPassword } from './password.js';
import { genTokenPrefix, tokenIndex } from './simple-token.js';
import type { AuthHeader, AuthInfo } from './types.js';

const NO_USER: AuthInfo = { username: '', revision: 0 };

export class RequestAuth {
  constructor(private readonly backend: V3Backend) {}

  private get store() {
    return this.backend.state.auth;
  }

  /**
   * etcd's AuthInfoFromCtx: no token, no user; a token this member does not know (or no longer:
   * 5 minutes unused) is refused, auth enabled or not. A token from an entry this member has
   * not applied yet waits for it (isValidSimpleToken's index wait).
   */
  async info(ctx: CallContext | undefined): Promise<AuthInfo | undefined> {
    const token = ctx?.token;
    if (token === undefined) return undefined;
    const index = tokenIndex(token);
    if (index === undefined) throw AuthErrors.invalidAuthToken;
    if (index > this.backend.state.appliedIndex) await this.backend.readBarrier(false).catch(() => {});
    const username = this.store.tokens.use(token);
    if (username === undefined) throw AuthErrors.invalidAuthToken;
    return { username, revision: this.store.revision() };
  }

  /** What a proposal carries: the user and auth revision its token gave (none without a token). */
  async header(ctx: CallContext | undefined): Promise<{ header?: AuthHeader }> {
    const ai = await this.info(ctx);
    return ai ? { header: { username: ai.username, auth_revision: ai.revision } } : {};
  }

  /**
   * etcd's doSerialize, for a read served here: checked as the token's user (or none), then
   * read; refused if the auth revision moved meanwhile.
   */
  async serialized<T>(ctx: CallContext | undefined, check: (ai: AuthInfo) => void, read: () => T): Promise<T> {
    const ai = (await this.info(ctx)) ?? NO_USER;
    check(ai);
    const out = read();
    if (ai.revision !== 0 && ai.revision !== this.store.revision()) throw AuthErrors.authOldRevision;
    return out;
  }

  /** Root-only requests (maintenance, membership changes): IsAdminPermitted(AuthInfoFromCtx). */
  async admin(ctx: CallContext | undefined): Promise<void> {
    this.store.isAdminPermitted(await this.info(ctx));
  }

  /**
   * etcd's Authenticate: a linearizable point, the password checked here, then the token's
   * random part proposed; every member registers "<random>.<entry index>" when it applies it.
   * Proposed again if users or roles changed while the password was being checked.
   */
  async authenticate(
    ctx: CallContext | undefined,
    name: string,
    password: string,
  ): Promise<{ token: string; revision: number }> {
    await this.backend.readBarrier(false);
    for (;;) {
      const checked = await this.store.checkPassword(name, password).catch((e: unknown) => {
        if (e !== AuthErrors.authNotEnabled)
          this.store.log('E', 'etcdserver', `invalid authentication request to user ${name} was issued`);
        throw e;
      });
      const r = await this.backend.propose({
        authenticate: { name, simple_token: genTokenPrefix() },
        ...(await this.header(ctx)),
      });
      if (!r.ok) throw r.error;
      if (checked === this.store.revision()) {
        const resp = r.response as { token: string; header: { revision: number } };
        return { token: resp.token, revision: resp.header.revision };
      }
    }
  }

  /** A password as the log may carry it (absent for a user without one). */
  async hashed(password: string, noPassword: boolean): Promise<string | undefined> {
    return noPassword ? undefined : hashPassword(password);
  }
}
