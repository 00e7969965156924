// The signed-in session: the access token (refreshed before it expires and when the server
// refuses it) and the refresh token (rotated on every refresh, and stored, so a reload stays
// signed in). One refresh at a time: every caller that needs a fresh token waits for the same one.
import { RefreshBody, type AuthResponse, type AuthTokens, type PublicUser } from "../protocol/index.js";
import { Backoff } from "./backoff.js";
import { Emitter } from "./emitter.js";
import { ChatError } from "./errors.js";
import type { Http, TokenSource } from "./http.js";
import { tokenLifetimeMs } from "./jwt.js";
import type { ChatStorage } from "./storage.js";

/**
 * `logged_out`: this device logged out (here, or from another device with its device id);
 * `suspended`: the account was suspended; `session_expired`: the refresh token was refused
 * (expired, revoked, or its family ended): sign in again.
 */
export type SignedOutReason = "logged_out" | "suspended" | "session_expired";

export interface StoredSession {
  user: PublicUser;
  access_token: string;
  refresh_token: string;
  access_token_expires_at: string;
  /** when the access token expires by this device's clock (epoch ms) */
  expires_local: number;
}

export interface AuthEvents {
  /** a new access token: long-lived sockets send it in an `auth` frame */
  token: { access_token: string };
  /** the session ended (the refresh token was refused, or the server signed this device out) */
  ended: { reason: SignedOutReason };
}

export interface AuthOptions {
  /** default true: refresh ahead of expiry; false: only when the server refuses the token (or closes 4001) */
  refreshBeforeExpiry?: boolean;
  now?: () => number;
}

/** Refresh this long before expiry: a minute for long-lived tokens, a third of the life of short ones. */
export function refreshLeadMs(lifetimeMs: number): number {
  return Math.max(500, Math.min(60_000, lifetimeMs / 3));
}

export class Auth implements TokenSource {
  readonly events = new Emitter<AuthEvents>();
  private session: StoredSession | null = null;
  private refreshing: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly retry = new Backoff({ baseMs: 1000, maxMs: 30_000 });
  private readonly now: () => number;
  private stopped = false;
  /** bumps with every new access token */
  generation = 0;
  refreshes = 0;

  constructor(
    private readonly http: Http,
    private readonly storage: ChatStorage,
    private readonly key: string,
    private readonly o: AuthOptions = {},
  ) {
    this.now = o.now ?? Date.now;
  }

  get user(): PublicUser | null {
    return this.session?.user ?? null;
  }

  get signedIn(): boolean {
    return this.session !== null;
  }

  /** The session a previous client left in storage, if any. */
  async load(): Promise<PublicUser | null> {
    const stored = (await this.storage.get(this.key)) as StoredSession | undefined;
    if (!stored?.refresh_token || !stored.user) return null;
    this.session = stored;
    this.stopped = false;
    this.generation++;
    this.schedule();
    return stored.user;
  }

  /** A login or registration answer. */
  async adopt(res: AuthResponse, sentAt: number): Promise<PublicUser> {
    this.stopped = false;
    await this.store({ ...res, user: res.user }, sentAt);
    return res.user;
  }

  async token(): Promise<string> {
    if (!this.session) throw new ChatError("signed_out", "not signed in");
    // a token within a second of expiry would die on the way
    if (this.now() >= this.session.expires_local - 1000) await this.refresh();
    if (!this.session) throw new ChatError("signed_out", "the session ended");
    return this.session.access_token;
  }

  currentToken(): string | null {
    return this.session?.access_token ?? null;
  }

  async refused(token: string): Promise<string | null> {
    if (!this.session) return null;
    if (this.session.access_token !== token) return this.session.access_token;
    try {
      await this.refresh();
    } catch {
      return null;
    }
    return this.session?.access_token ?? null;
  }

  /** One refresh, shared by everyone who asks while it runs. Rejects with `signed_out` once the server refused it. */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const session = this.session;
    if (!session) throw new ChatError("signed_out", "not signed in");
    const sentAt = this.now();
    let tokens: AuthTokens;
    try {
      tokens = await this.http.request<AuthTokens>("POST", "/v1/auth/refresh", {
        auth: false,
        body: RefreshBody.parse({ refresh_token: session.refresh_token }),
      });
    } catch (err) {
      if (err instanceof ChatError && (err.status === 401 || err.status === 403)) {
        await this.end("session_expired");
        throw new ChatError("signed_out", err.message, err.status);
      }
      // no answer or a server error: the same token is tried again (the server hands the same
      // successor to a repeat within its grace period, so a lost answer costs nothing)
      if (!this.stopped && this.session === session) this.scheduleRetry();
      throw err;
    }
    if (this.session !== session) return; // signed out meanwhile
    this.refreshes++;
    await this.store({ ...tokens, user: session.user }, sentAt);
  }

  private async store(t: AuthTokens & { user: PublicUser }, sentAt: number): Promise<void> {
    const lifetime = tokenLifetimeMs(t.access_token) ?? Math.max(0, Date.parse(t.access_token_expires_at) - sentAt);
    this.session = {
      user: t.user,
      access_token: t.access_token,
      refresh_token: t.refresh_token,
      access_token_expires_at: t.access_token_expires_at,
      expires_local: sentAt + lifetime,
    };
    this.generation++;
    this.retry.reset();
    await this.storage.set(this.key, this.session);
    this.schedule();
    this.events.emit("token", { access_token: t.access_token });
  }

  private schedule(): void {
    this.clearTimer();
    if (!this.session || this.stopped || this.o.refreshBeforeExpiry === false) return;
    const { expires_local } = this.session;
    const lifetime = tokenLifetimeMs(this.session.access_token) ?? 60_000;
    const at = expires_local - refreshLeadMs(lifetime);
    this.timer = setTimeout(() => void this.refresh().catch(() => {}), Math.max(0, at - this.now()));
  }

  private scheduleRetry(): void {
    if (this.o.refreshBeforeExpiry === false) return;
    this.clearTimer();
    this.timer = setTimeout(() => void this.refresh().catch(() => {}), this.retry.next() + 250);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** The session is over: forget it here and in storage, and tell the client. */
  async end(reason: SignedOutReason): Promise<void> {
    if (!this.session) return;
    this.session = null;
    this.clearTimer();
    await this.storage.delete(this.key);
    this.events.emit("ended", { reason });
  }

  /** The refresh token to log out with (logout ends the session with end()). */
  refreshToken(): string | null {
    return this.session?.refresh_token ?? null;
  }

  /** Stops the timers; the session stays in storage for the next client. */
  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }
}
