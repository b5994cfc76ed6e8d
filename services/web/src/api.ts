// REST calls of PROTOCOL.md, same origin as the page (the gateway serves both).

import { ApiError } from "./errors";
import { allPages } from "./pages";
import type { ConversationSummary, Page, Presence, SearchResult, ThreadPage, UploadTicket, UserInfo, WirePin } from "./protocol";
import type { Session, TokenAnswer } from "./session";

/** Where the client used to keep its token; removed on start (tokens now live in memory). */
export const LEGACY_SESSION_KEY = "chat.session";

/**
 * Sent with every call that may carry the refresh cookie. A cross-site form cannot set a
 * header, and a cross-site fetch with one needs a CORS preflight the gateway never
 * grants, so the header proves the request came from this page.
 */
const CSRF_HEADER = { "X-Chat-CSRF": "1" };

async function call<T>(
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...extraHeaders };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp: Response;
  try {
    // Same origin: the browser sends the refresh cookie to /api/v1/auth/* by itself.
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError("network", "the server cannot be reached", 0);
  }
  const text = await resp.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!resp.ok) {
    const err = (json as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(err?.code ?? (resp.status >= 500 ? "internal" : "bad_request"), err?.message ?? text, resp.status);
  }
  return json as T;
}

export class Api {
  private session: Session | null = null;

  /** The signed-in session whose access token authenticated calls use (null: signed out). */
  setSession(s: Session | null): void {
    this.session = s;
  }

  /** With the access token; a 401 refreshes it and retries once (src/session.ts). */
  private authed<T>(method: string, path: string, body?: unknown): Promise<T> {
    const session = this.session;
    if (!session) return Promise.reject(new ApiError("unauthenticated", "not signed in", 401));
    return session.authed((token) => call<T>(method, path, token, body));
  }

  /** Sign in; the refresh token comes back only as the HttpOnly cookie. */
  signIn(username: string, password: string): Promise<TokenAnswer> {
    return call("POST", "/api/v1/auth", null, { username, password, session: "cookie" });
  }

  /** A new access token for the refresh cookie (which the server rotates). */
  refresh(): Promise<TokenAnswer> {
    return call("POST", "/api/v1/auth/refresh", null, {}, CSRF_HEADER);
  }

  /** End this session (or every session of the user); the server clears the cookie. */
  async signOut(everywhere = false): Promise<void> {
    const session = this.session;
    if (!session) return;
    await session.authed((token) => call<null>("POST", "/api/v1/auth/sign-out", token, everywhere ? { everywhere: true } : {}, CSRF_HEADER));
  }

  /** Every session of the user ends, this one too: the caller signs in again. */
  async changePassword(current_password: string, new_password: string): Promise<void> {
    await this.authed<null>("PUT", "/api/v1/users/me/password", { current_password, new_password });
  }

  /** A single-use ticket for opening the WebSocket (valid 30 s). */
  async wsTicket(): Promise<string> {
    const r = await this.authed<{ ticket: string; expires_at: string }>("POST", "/api/v1/ws/ticket", {});
    return r.ticket;
  }

  signUp(username: string, password: string, display_name: string): Promise<{ user_id: string }> {
    return call("POST", "/api/v1/users", null, { username, password, display_name: display_name || username });
  }

  async findUser(username: string): Promise<UserInfo | null> {
    const r = await this.authed<{ users: UserInfo[] }>("GET", `/api/v1/users?username=${encodeURIComponent(username)}`);
    return r.users[0] ?? null;
  }

  async userById(id: string): Promise<UserInfo | null> {
    const r = await this.authed<{ users: UserInfo[] }>("GET", `/api/v1/users?user_id=${encodeURIComponent(id)}`);
    return r.users[0] ?? null;
  }

  presence(id: string): Promise<Presence> {
    return this.authed("GET", `/api/v1/users/${encodeURIComponent(id)}/presence`);
  }

  /** Every conversation of the user, page after page (200 per page, the most allowed). */
  conversations(): Promise<ConversationSummary[]> {
    return allPages(async (cursor) => {
      const q = new URLSearchParams({ limit: "200" });
      if (cursor !== null) q.set("cursor", cursor);
      const r = await this.authed<{ conversations: ConversationSummary[]; next?: string | null }>("GET", `/api/v1/conversations?${q}`);
      return { items: r.conversations, next: r.next ?? null };
    });
  }

  createConversation(kind: "direct" | "group", members: string[], name?: string): Promise<{ conversation_id: string }> {
    return this.authed("POST", "/api/v1/conversations", name ? { kind, members, name } : { kind, members });
  }

  /** A page of the main timeline: thread replies are left out (they show in the thread panel). */
  messages(conversation: string, before: number | null, limit = 50): Promise<Page> {
    const q = new URLSearchParams({ limit: String(limit), threads: "exclude" });
    if (before !== null) q.set("before", String(before));
    return this.authed("GET", `${conv(conversation)}/messages?${q}`);
  }

  /** A thread's root and replies, oldest first, from after `after` (null: the start). */
  threadMessages(conversation: string, root: string, after: number | null, limit = 200): Promise<ThreadPage> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (after !== null) q.set("after", String(after));
    return this.authed("GET", `${conv(conversation)}/threads/${encodeURIComponent(root)}/messages?${q}`);
  }

  /** The presigned link behind an attachment's route (`message.attachments[].url`). */
  async attachmentLink(route: string): Promise<string> {
    const path = new URL(route, location.href).pathname;
    const r = await this.authed<{ url: string }>("GET", path);
    if (!r || typeof r.url !== "string") throw new ApiError("internal", "no link in the answer", 500);
    return r.url;
  }

  async rename(conversation: string, name: string): Promise<void> {
    await this.authed<null>("PATCH", conv(conversation), { name });
  }

  /**
   * v1.3: keep the group's messages `days` days (null: turn it off); admins only. The
   * server answers 204; `invalid_retention` says the operator's limits in its message.
   */
  async setRetention(conversation: string, days: number | null): Promise<void> {
    await this.authed<null>("PUT", `${conv(conversation)}/retention`, { days });
  }

  async pins(conversation: string): Promise<WirePin[]> {
    const r = await this.authed<{ pins: WirePin[] }>("GET", `${conv(conversation)}/pins`);
    return Array.isArray(r?.pins) ? r.pins : [];
  }

  async pin(conversation: string, message: string, pinned: boolean): Promise<void> {
    await this.authed<null>(pinned ? "PUT" : "DELETE", `${conv(conversation)}/pins/${encodeURIComponent(message)}`);
  }

  async addMember(conversation: string, user: string): Promise<void> {
    await this.authed<null>("POST", `${conv(conversation)}/members`, { user_id: user });
  }

  /** Remove someone; removing yourself is leaving. */
  async removeMember(conversation: string, user: string): Promise<void> {
    await this.authed<null>("DELETE", `${conv(conversation)}/members/${encodeURIComponent(user)}`);
  }

  /** A presigned request to send a file's bytes with, straight to storage. */
  upload(conversation_id: string, filename: string, content_type: string, size: number): Promise<UploadTicket> {
    return this.authed("POST", "/api/v1/uploads", { conversation_id, filename, content_type, size });
  }

  search(q: string, conversation: string | null, cursor: string | null, limit = 20): Promise<{ results: SearchResult[]; next_cursor: string | null }> {
    const p = new URLSearchParams({ q, limit: String(limit) });
    if (conversation) p.set("conversation_id", conversation);
    if (cursor) p.set("cursor", cursor);
    return this.authed("GET", `/api/v1/search?${p}`);
  }
}

function conv(id: string): string {
  return `/api/v1/conversations/${encodeURIComponent(id)}`;
}
