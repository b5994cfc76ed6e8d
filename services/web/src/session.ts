// The signed-in session: the short-lived access token, kept in memory only, and how it
// is renewed.
//
// The refresh token is an HttpOnly cookie scoped to /api/v1/auth that scripts never see;
// `POST /api/v1/auth/refresh` trades it for a new access token (and rotates it). This
// module decides when to do that:
//
// - about a minute before the access token expires (one timer);
// - when a REST call is refused with 401 (refresh once, retry once);
// - when the socket is closed with 4001 `token_expired` (refresh, then reconnect).
//
// Only one refresh is in flight at a time: whoever asks while one runs waits for the same
// answer, so a burst of 401s rotates the cookie once. A refresh refused with 401 ends the
// session, and so does a socket closed with 4003 `session_revoked`. Nothing here touches
// storage: a reload starts from the cookie.
//
// No DOM and no fetch here: the caller passes the refresh call and, in tests, the clock
// and timers (test/session.test.mjs).

import { ApiError } from "./errors";
import type { Timers, TimerId } from "./typing";

/** What `POST /auth` and `POST /auth/refresh` answer in cookie mode. */
export interface TokenAnswer {
  token: string;
  user_id: string;
  expires_at: string;
  refresh_expires_at?: string;
}

/** Why a session ended: the sign-in screen says so. */
export type EndReason = "expired" | "revoked" | "signed_out" | "password_changed";

/** Socket close codes the gateway uses for authentication (PROTOCOL.md). */
export const CLOSE_TOKEN_EXPIRED = 4001;
export const CLOSE_SESSION_REVOKED = 4003;

/** What the socket does after a close, decided by `socketClosed`. */
export type AfterClose = "reconnect" | "backoff" | "signed_out";

/** Renew this long before `expires_at` (or at half the lifetime, if that is shorter). */
export const REFRESH_LEAD_MS = 60_000;
/** A refresh that could not reach the server is tried again after this, doubling. */
export const REFRESH_RETRY_MS = 2_000;
export const REFRESH_RETRY_MAX_MS = 30_000;

export interface SessionOptions {
  /** `POST /api/v1/auth/refresh` with the cookie; rejects with ApiError. */
  refresh: () => Promise<TokenAnswer>;
  /** A new access token (the socket sends it in an `auth` frame). */
  renewed?: (token: string) => void;
  /** The session is over: show the sign-in form. Called once. */
  ended?: (why: EndReason) => void;
  now?: () => number;
  timers?: Timers;
}

const realTimers: Timers = {
  set: (f, ms) => setTimeout(f, ms),
  clear: (id) => clearTimeout(id),
};

/** Is this the server saying the session (or token) is not good any more? */
export function isUnauthenticated(e: unknown): boolean {
  return e instanceof ApiError && e.status === 401;
}

/**
 * Did the server refuse a refresh for good? 401 is the contract; another 4xx (a cookie
 * the browser dropped, a malformed request) will not get better by trying again either.
 * Throttling (429) and timeouts (408) will.
 */
export function refreshRefused(e: unknown): boolean {
  return e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429;
}

export class Session {
  private accessToken: string;
  private expiresAt: number;
  private timer: TimerId | null = null;
  private inFlight: Promise<string> | null = null;
  private retryDelay = REFRESH_RETRY_MS;
  private over = false;
  private readonly now: () => number;
  private readonly timers: Timers;
  readonly userId: string;

  constructor(
    first: TokenAnswer,
    private readonly opts: SessionOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.timers = opts.timers ?? realTimers;
    this.userId = first.user_id;
    this.accessToken = first.token;
    this.expiresAt = parseTime(first.expires_at, this.now());
    this.schedule();
  }

  /** The current access token (memory only). */
  get token(): string {
    return this.accessToken;
  }

  get ended(): boolean {
    return this.over;
  }

  /**
   * A new access token now. Joins the refresh in flight if there is one. Rejects with
   * the refresh's error; a 401 has already ended the session.
   */
  refresh(): Promise<string> {
    if (this.over) return Promise.reject(new ApiError("unauthenticated", "signed out", 401));
    if (!this.inFlight) {
      this.cancelTimer();
      this.inFlight = this.opts
        .refresh()
        .then(
          (answer) => {
            if (this.over) throw new ApiError("unauthenticated", "signed out", 401);
            this.accessToken = answer.token;
            this.expiresAt = parseTime(answer.expires_at, this.now());
            this.retryDelay = REFRESH_RETRY_MS;
            this.schedule();
            this.opts.renewed?.(answer.token);
            return answer.token;
          },
          (e: unknown) => {
            if (refreshRefused(e)) this.end("expired");
            else if (!this.over) this.scheduleRetry();
            throw e;
          },
        )
        .finally(() => {
          this.inFlight = null;
        });
    }
    return this.inFlight;
  }

  /**
   * Run a REST call with the access token. On 401: refresh (unless the token changed
   * meanwhile) and retry once. A second 401 ends the session.
   */
  async authed<T>(call: (token: string) => Promise<T>): Promise<T> {
    const used = this.accessToken;
    try {
      return await call(used);
    } catch (e) {
      if (!isUnauthenticated(e) || this.over) throw e;
    }
    // Another call may have renewed the token while this one was on its way.
    const fresh = this.accessToken !== used ? this.accessToken : await this.refresh();
    try {
      return await call(fresh);
    } catch (e) {
      // A token minted a moment ago is refused: the session itself is gone.
      if (isUnauthenticated(e)) this.end("expired");
      throw e;
    }
  }

  /** The socket was closed with `code`: what to do next. */
  async socketClosed(code: number): Promise<AfterClose> {
    if (this.over) return "signed_out";
    if (code === CLOSE_SESSION_REVOKED) {
      this.end("revoked");
      return "signed_out";
    }
    if (code !== CLOSE_TOKEN_EXPIRED) return "backoff";
    try {
      await this.refresh();
      return "reconnect";
    } catch (e) {
      return refreshRefused(e) || this.over ? "signed_out" : "backoff";
    }
  }

  /** End the session here (sign-out, revocation, a refused refresh). Idempotent. */
  end(why: EndReason): void {
    if (this.over) return;
    this.over = true;
    this.cancelTimer();
    this.accessToken = "";
    this.opts.ended?.(why);
  }

  private schedule(): void {
    this.cancelTimer();
    const left = this.expiresAt - this.now();
    const lead = Math.min(REFRESH_LEAD_MS, Math.max(0, left) / 2);
    this.timer = this.timers.set(() => {
      this.timer = null;
      // Failures are handled in refresh(): a 401 ends the session, others retry.
      this.refresh().catch(() => {});
    }, Math.max(0, left - lead));
  }

  private scheduleRetry(): void {
    this.cancelTimer();
    const wait = this.retryDelay;
    this.retryDelay = Math.min(REFRESH_RETRY_MAX_MS, this.retryDelay * 2);
    this.timer = this.timers.set(() => {
      this.timer = null;
      this.refresh().catch(() => {});
    }, wait);
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.timers.clear(this.timer);
    this.timer = null;
  }
}

/** An RFC 3339 time in ms; an unreadable one counts as "now" (refresh at once). */
function parseTime(s: string, fallback: number): number {
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : fallback;
}
