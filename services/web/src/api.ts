// REST calls of PROTOCOL.md, same origin as the page (the gateway serves both).

import { ApiError } from "./errors";
import { allPages } from "./pages";
import type { ConversationSummary, Page, Presence, UserInfo } from "./protocol";

export interface Session {
  token: string;
  user_id: string;
  username: string;
  expires_at: string;
}

const SESSION_KEY = "chat.session";

export function loadSession(): Session | null {
  try {
    const raw = localStorage.getItem(SESSION_KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    if (!s.token || !s.user_id || Date.parse(s.expires_at) <= Date.now() + 60_000) return null;
    return s;
  } catch {
    return null;
  }
}

export function saveSession(s: Session | null): void {
  if (s) localStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else localStorage.removeItem(SESSION_KEY);
}

async function call<T>(method: string, path: string, token: string | null, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp: Response;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
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
  /** Called when a request is refused for a missing or expired token. */
  onUnauthenticated: () => void = () => {};

  constructor(private token: string | null = null) {}

  setToken(t: string | null): void {
    this.token = t;
  }

  private async authed<T>(method: string, path: string, body?: unknown): Promise<T> {
    try {
      return await call<T>(method, path, this.token, body);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) this.onUnauthenticated();
      throw e;
    }
  }

  signUp(username: string, password: string, display_name: string): Promise<{ user_id: string }> {
    return call("POST", "/api/v1/users", null, { username, password, display_name: display_name || username });
  }

  signIn(username: string, password: string): Promise<{ token: string; user_id: string; expires_at: string }> {
    return call("POST", "/api/v1/auth", null, { username, password });
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

  messages(conversation: string, before: number | null, limit = 50): Promise<Page> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (before !== null) q.set("before", String(before));
    return this.authed("GET", `/api/v1/conversations/${encodeURIComponent(conversation)}/messages?${q}`);
  }
}
