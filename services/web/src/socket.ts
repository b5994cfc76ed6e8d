// The WebSocket: connects, proves its live subscription with a first ping/pong, notices
// a dead connection (no pong in time) or the browser going offline, and reconnects
// with backoff. What must survive a reconnect (unacknowledged sends, the gap rule's
// positions) lives in the caller, which is told when the socket is ready again.
//
// Every connection starts with a fresh single-use ticket (`POST /api/v1/ws/ticket`), so
// no token ever appears in a URL. A renewed access token is sent on the open socket in
// an `auth` frame. A close with 4001 (token expired) or 4003 (session revoked) is the
// session's business: the caller says whether to reconnect at once, back off, or stop.

import type { ClientFrame, ServerFrame } from "./protocol";
import { type AfterClose, CLOSE_SESSION_REVOKED, CLOSE_TOKEN_EXPIRED } from "./session";

export type ConnState = "connecting" | "online" | "offline";

export interface SocketHandlers {
  frame: (f: ServerFrame) => void;
  /** Open and subscribed (first pong received): resend and resync now. */
  ready: () => void;
  state: (s: ConnState, retryInMs: number | null) => void;
  /** Closed by the server with 4001 or 4003: refresh, or end the session. */
  authClosed: (code: number) => Promise<AfterClose>;
}

/** Closes this client starts itself (offline, no pong): outside the server's 4001/4003. */
const CLOSE_BY_CLIENT = 4000;

const PING_EVERY_MS = 20_000;
const PONG_WITHIN_MS = 10_000;
const MAX_BACKOFF_MS = 15_000;

export class Socket {
  private ws: WebSocket | null = null;
  private isReady = false;
  private attempts = 0;
  private retryTimer: number | null = null;
  private pingTimer: number | null = null;
  private pongDeadline: number | null = null;
  private stopped = false;
  private current: ConnState = "offline";
  /** Bumped by every connect, so a ticket that arrives late opens nothing. */
  private attempt = 0;

  constructor(
    /** A single-use ticket for the upgrade; rejects when none can be had. */
    private readonly ticket: () => Promise<string>,
    private readonly on: SocketHandlers,
  ) {
    window.addEventListener("offline", this.wentOffline);
    window.addEventListener("online", this.cameOnline);
  }

  get ready(): boolean {
    return this.isReady;
  }

  get state(): ConnState {
    return this.current;
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    window.removeEventListener("offline", this.wentOffline);
    window.removeEventListener("online", this.cameOnline);
    this.clearTimers();
    this.ws?.close(1000, "signed out");
    this.ws = null;
    this.isReady = false;
  }

  /** Send if the socket is ready; false otherwise (the caller keeps the frame). */
  send(frame: ClientFrame): boolean {
    if (!this.ws || !this.isReady || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** A renewed access token for the open connection; the next connection gets a ticket anyway. */
  reauthenticate(token: string): void {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: "auth", token }));
  }

  /** Try again now (the "Reconnect now" button). */
  retryNow(): void {
    if (this.stopped || this.isReady) return;
    this.attempts = 0;
    void this.connect();
  }

  private setState(s: ConnState, retryIn: number | null): void {
    this.current = s;
    this.on.state(s, retryIn);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.clearTimers();
    const old = this.ws;
    this.ws = null;
    old?.close(CLOSE_BY_CLIENT, "reconnecting");
    this.isReady = false;
    this.setState("connecting", null);
    const attempt = ++this.attempt;
    let ticket: string;
    try {
      ticket = await this.ticket();
    } catch {
      // A refused session has been ended by now (and this socket stopped); anything
      // else (the network, a busy server) is retried like a dropped connection.
      if (attempt === this.attempt) this.dropped();
      return;
    }
    if (this.stopped || attempt !== this.attempt) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    // Browsers cannot set headers on a WebSocket: a single-use ticket (30 s) goes in the
    // query instead of the token, so logs that see the URL see nothing reusable.
    const ws = new WebSocket(`${scheme}//${location.host}/api/v1/ws?ticket=${encodeURIComponent(ticket)}`);
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      ws.send(JSON.stringify({ type: "ping" }));
      this.expectPong();
    };
    ws.onmessage = (m) => {
      if (this.ws !== ws || typeof m.data !== "string") return;
      let f: ServerFrame;
      try {
        f = JSON.parse(m.data) as ServerFrame;
      } catch {
        return;
      }
      if (f.type === "authenticated") return;
      if (f.type === "pong") {
        this.pongDeadline && clearTimeout(this.pongDeadline);
        this.pongDeadline = null;
        if (!this.isReady) {
          this.isReady = true;
          this.attempts = 0;
          this.setState("online", null);
          this.on.ready();
        }
        this.schedulePing();
        return;
      }
      this.on.frame(f);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      if (ev.code === CLOSE_TOKEN_EXPIRED || ev.code === CLOSE_SESSION_REVOKED) void this.closedForAuth(ev.code);
      else this.dropped();
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  private async closedForAuth(code: number): Promise<void> {
    this.clearTimers();
    this.ws = null;
    this.isReady = false;
    this.setState("connecting", null);
    const attempt = ++this.attempt;
    const next = await this.on.authClosed(code);
    if (this.stopped || attempt !== this.attempt) return;
    if (next === "reconnect") {
      this.attempts = 0;
      void this.connect();
    } else if (next === "backoff") {
      this.dropped();
    }
    // "signed_out": the caller has left the chat screen and stopped this socket.
  }

  private dropped(): void {
    // A ticket still on its way belongs to the connection that just failed.
    this.attempt++;
    this.clearTimers();
    this.ws = null;
    this.isReady = false;
    if (this.stopped) return;
    if (!navigator.onLine) {
      // The browser's `online` event reconnects at once; the slow retry covers a
      // browser that never sends it.
      this.setState("offline", null);
      this.retryTimer = window.setTimeout(() => void this.connect(), MAX_BACKOFF_MS);
      return;
    }
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempts);
    const wait = Math.round(base / 2 + Math.random() * (base / 2));
    this.attempts++;
    this.setState("offline", wait);
    this.retryTimer = window.setTimeout(() => void this.connect(), wait);
  }

  private wentOffline = (): void => {
    // Close at once rather than wait for a ping to go unanswered: the user sees the
    // offline state and sends are kept for later.
    const ws = this.ws;
    this.ws = null;
    ws?.close(CLOSE_BY_CLIENT, "offline");
    this.dropped();
  };

  private cameOnline = (): void => {
    if (!this.stopped && !this.isReady) {
      this.attempts = 0;
      void this.connect();
    }
  };

  private schedulePing(): void {
    if (this.pingTimer) clearTimeout(this.pingTimer);
    this.pingTimer = window.setTimeout(() => {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(JSON.stringify({ type: "ping" }));
        this.expectPong();
      }
    }, PING_EVERY_MS);
  }

  private expectPong(): void {
    if (this.pongDeadline) clearTimeout(this.pongDeadline);
    this.pongDeadline = window.setTimeout(() => {
      // A silent connection (a network that dropped without a close): start over.
      const ws = this.ws;
      this.ws = null;
      ws?.close(CLOSE_BY_CLIENT, "no pong");
      this.dropped();
    }, PONG_WITHIN_MS);
  }

  private clearTimers(): void {
    for (const t of [this.retryTimer, this.pingTimer, this.pongDeadline]) if (t) clearTimeout(t);
    this.retryTimer = this.pingTimer = this.pongDeadline = null;
  }
}
