// @ts-check
// The REST side of the session (src/api.ts with src/session.ts), compiled by `npm test`
// into .test-build/, over a fake fetch and fake storage: cookie-mode sign-in, the refresh
// request (cookie, CSRF header, no token), Bearer on everything else, 401 -> refresh ->
// retry once, and no token written to storage or put in a URL.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { Api } from "../.test-build/api.js";
import { Session } from "../.test-build/session.js";

/** Storage that records every write. */
function fakeStorage(writes) {
  const data = new Map();
  return {
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => {
      writes.push([k, String(v)]);
      data.set(k, String(v));
    },
    removeItem: (k) => void data.delete(k),
    clear: () => data.clear(),
    key: (i) => [...data.keys()][i] ?? null,
    get length() {
      return data.size;
    },
  };
}

const saved = {};
/** @type {{ method: string; path: string; headers: Record<string, string>; body: unknown; credentials: string | undefined }[]} */
let requests;
let writes;
/** path -> answers in order (the last one repeats): [status, body] */
let routes;

beforeEach(() => {
  requests = [];
  writes = [];
  routes = new Map();
  for (const k of ["fetch", "localStorage", "sessionStorage"]) saved[k] = Object.getOwnPropertyDescriptor(globalThis, k);
  const define = (k, v) => Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  define("localStorage", fakeStorage(writes));
  define("sessionStorage", fakeStorage(writes));
  define("fetch", async (path, init) => {
    const headers = { ...init.headers };
    requests.push({ method: init.method, path, headers, body: init.body ? JSON.parse(init.body) : undefined, credentials: init.credentials });
    const answers = routes.get(`${init.method} ${path}`);
    assert.ok(answers, `unexpected ${init.method} ${path}`);
    const [status, body] = answers.length > 1 ? answers.shift() : answers[0];
    return new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  });
});

afterEach(() => {
  for (const [k, d] of Object.entries(saved)) {
    if (d) Object.defineProperty(globalThis, k, d);
    else delete globalThis[k];
  }
});

const later = new Date(Date.now() + 15 * 60_000).toISOString();
const tokenAnswer = (token) => [200, { token, user_id: "u1", expires_at: later, refresh_expires_at: later }];
const refused = [401, { error: { code: "unauthenticated", message: "token expired" } }];

/** A signed-in Api: sign-in answered with token `t0`, a session that never fires its timer. */
async function signedIn(ended = []) {
  routes.set("POST /api/v1/auth", [tokenAnswer("t0")]);
  const api = new Api();
  const answer = await api.signIn("alice", "secret password");
  const s = new Session(answer, {
    refresh: () => api.refresh(),
    ended: (why) => ended.push(why),
    timers: { set: () => 0, clear: () => {} },
  });
  api.setSession(s);
  return { api, s };
}

test("sign-in asks for a cookie session; the refresh carries the cookie and the CSRF header, never a token", async () => {
  const { api } = await signedIn();
  assert.deepEqual(requests[0].body, { username: "alice", password: "secret password", session: "cookie" });
  assert.equal(requests[0].headers.Authorization, undefined);

  routes.set("POST /api/v1/auth/refresh", [tokenAnswer("t1")]);
  const r = await api.refresh();
  assert.equal(r.token, "t1");
  const refresh = requests[1];
  assert.deepEqual(refresh.body, {}, "an empty body: the refresh token is the cookie");
  assert.equal(refresh.headers["X-Chat-CSRF"], "1");
  assert.equal(refresh.headers.Authorization, undefined);
  assert.equal(refresh.credentials, "same-origin", "the browser sends the cookie");
});

test("REST calls and the socket ticket carry the access token as Bearer", async () => {
  const { api } = await signedIn();
  routes.set("POST /api/v1/ws/ticket", [[200, { ticket: "tk-1", expires_at: later }]]);
  assert.equal(await api.wsTicket(), "tk-1");
  assert.equal(requests.at(-1).headers.Authorization, "Bearer t0");
  routes.set("GET /api/v1/users?user_id=u1", [[200, { users: [{ user_id: "u1", username: "alice" }] }]]);
  assert.equal((await api.userById("u1"))?.username, "alice");
  assert.equal(requests.at(-1).headers.Authorization, "Bearer t0");
});

test("a 401 refreshes once and retries once with the new token", async () => {
  const { api, s } = await signedIn();
  routes.set("POST /api/v1/ws/ticket", [refused, [200, { ticket: "tk-2", expires_at: later }]]);
  routes.set("POST /api/v1/auth/refresh", [tokenAnswer("t1")]);
  assert.equal(await api.wsTicket(), "tk-2");
  assert.deepEqual(
    requests.slice(1).map((r) => `${r.path} ${r.headers.Authorization ?? "-"}`),
    ["/api/v1/ws/ticket Bearer t0", "/api/v1/auth/refresh -", "/api/v1/ws/ticket Bearer t1"],
  );
  assert.equal(s.token, "t1");
});

test("a refused refresh ends the session and the call fails", async () => {
  const ended = [];
  const { api, s } = await signedIn(ended);
  routes.set("POST /api/v1/ws/ticket", [refused]);
  routes.set("POST /api/v1/auth/refresh", [refused]);
  await assert.rejects(api.wsTicket(), (e) => e.status === 401);
  assert.deepEqual(ended, ["expired"]);
  assert.equal(s.ended, true);
  assert.equal(requests.filter((r) => r.path === "/api/v1/ws/ticket").length, 1, "no retry without a new token");
});

test("sign-out and a password change", async () => {
  const { api } = await signedIn();
  routes.set("POST /api/v1/auth/sign-out", [[204]]);
  await api.signOut();
  await api.signOut(true);
  const [one, all] = requests.slice(-2);
  assert.deepEqual(one.body, {});
  assert.deepEqual(all.body, { everywhere: true });
  assert.equal(one.headers.Authorization, "Bearer t0");
  assert.equal(one.headers["X-Chat-CSRF"], "1");

  routes.set("PUT /api/v1/users/me/password", [[403, { error: { code: "bad_credentials", message: "wrong password" } }], [204]]);
  await assert.rejects(api.changePassword("wrong", "new password 1"), (e) => e.code === "bad_credentials" && e.status === 403);
  await api.changePassword("secret password", "new password 1");
  assert.deepEqual(requests.at(-1).body, { current_password: "secret password", new_password: "new password 1" });
  assert.equal(requests.filter((r) => r.path === "/api/v1/auth/refresh").length, 0, "403 is not a reason to refresh");
});

test("v1.3: setRetention puts {days} (a number, or null to turn it off); a refusal keeps the server's message", async () => {
  const { api } = await signedIn();
  const path = "/api/v1/conversations/c%2F1/retention";
  routes.set(`PUT ${path}`, [[204], [204], [400, { error: { code: "invalid_retention", message: "retention must be 7 to 90 days" } }]]);
  await api.setRetention("c/1", 30);
  assert.deepEqual(requests.at(-1).body, { days: 30 });
  assert.equal(requests.at(-1).headers.Authorization, "Bearer t0");
  await api.setRetention("c/1", null);
  assert.deepEqual(requests.at(-1).body, { days: null });
  await assert.rejects(api.setRetention("c/1", 1), (e) => e.code === "invalid_retention" && e.status === 400 && e.message === "retention must be 7 to 90 days");
});

test("no token is written to storage or put in a URL", async () => {
  const { api } = await signedIn();
  routes.set("POST /api/v1/ws/ticket", [refused, [200, { ticket: "tk", expires_at: later }]]);
  routes.set("POST /api/v1/auth/refresh", [tokenAnswer("t1")]);
  routes.set("POST /api/v1/auth/sign-out", [[204]]);
  await api.wsTicket();
  await api.signOut();
  assert.deepEqual(writes, [], "nothing at all is stored");
  for (const r of requests) assert.doesNotMatch(r.path, /t0|t1|token=/, r.path);
});
