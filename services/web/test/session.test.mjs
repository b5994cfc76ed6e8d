// @ts-check
// The session (src/session.ts), compiled by `npm test` into .test-build/: when the access
// token is renewed, one refresh at a time, 401 -> refresh -> retry once, and what a
// socket close with 4001 or 4003 leads to.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError } from "../.test-build/errors.js";
import {
  CLOSE_SESSION_REVOKED,
  CLOSE_TOKEN_EXPIRED,
  REFRESH_LEAD_MS,
  REFRESH_RETRY_MS,
  Session,
} from "../.test-build/session.js";

const MIN = 60_000;

/** A fake clock: timers run when `advance` passes their time. */
function clock(start = Date.parse("2026-01-01T00:00:00Z")) {
  let now = start;
  let next = 1;
  /** @type {Map<number, { at: number; f: () => void }>} */
  const pending = new Map();
  return {
    now: () => now,
    timers: {
      set: (f, ms) => {
        pending.set(next, { at: now + ms, f });
        return next++;
      },
      clear: (id) => void pending.delete(id),
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...pending].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        pending.delete(due[0]);
        now = due[1].at;
        due[1].f();
      }
      now = end;
    },
    /** When the pending timers are due, in ms from now. */
    get due() {
      return [...pending.values()].map((t) => t.at - now);
    },
  };
}

const iso = (ms) => new Date(ms).toISOString();
const unauthenticated = () => new ApiError("unauthenticated", "token expired", 401);
const networkDown = () => new ApiError("network", "the server cannot be reached", 0);

/** The error `p` rejects with (a handler attached now, so no rejection goes unhandled). */
const failure = (p) =>
  p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${v}`);
    },
    (e) => e,
  );

/** Let promise callbacks run. */
const settle = () => new Promise((r) => setImmediate(r));

/**
 * A session over a fake refresh call: each call to refresh() waits until the test
 * answers it with `answer(token, ttl)` or `fail(error)`.
 */
function session({ ttl = 15 * MIN } = {}) {
  const c = clock();
  /** @type {{ resolve: (v: unknown) => void; reject: (e: unknown) => void }[]} */
  const calls = [];
  const renewed = [];
  const ended = [];
  const s = new Session(
    { token: "t0", user_id: "u1", expires_at: iso(c.now() + ttl) },
    {
      refresh: () => new Promise((resolve, reject) => calls.push({ resolve, reject })),
      renewed: (t) => renewed.push(t),
      ended: (why) => ended.push(why),
      now: c.now,
      timers: c.timers,
    },
  );
  return {
    s,
    c,
    calls,
    renewed,
    ended,
    /** Answer the oldest open refresh call. */
    async answer(token, answerTtl = ttl) {
      const call = calls.shift();
      assert.ok(call, "a refresh call is waiting");
      call.resolve({ token, user_id: "u1", expires_at: iso(c.now() + answerTtl) });
      await settle();
    },
    async fail(error) {
      const call = calls.shift();
      assert.ok(call, "a refresh call is waiting");
      call.reject(error);
      await settle();
    },
  };
}

test("the access token is renewed a minute before it expires, and again after that", async () => {
  const t = session({ ttl: 15 * MIN });
  assert.equal(t.s.token, "t0");
  assert.deepEqual(t.c.due, [15 * MIN - REFRESH_LEAD_MS], "one timer, a minute early");
  t.c.advance(14 * MIN - 1);
  assert.equal(t.calls.length, 0, "not before");
  t.c.advance(1);
  assert.equal(t.calls.length, 1, "refreshed at 14 minutes");
  await t.answer("t1");
  assert.equal(t.s.token, "t1");
  assert.deepEqual(t.renewed, ["t1"], "the new token is handed on (to the socket)");
  assert.deepEqual(t.c.due, [14 * MIN], "the next refresh is timed from the new expiry");
  t.c.advance(14 * MIN);
  assert.equal(t.calls.length, 1);
  await t.answer("t2");
  assert.equal(t.s.token, "t2");
  assert.deepEqual(t.ended, []);
});

test("a token shorter-lived than two minutes is renewed at half its lifetime", () => {
  const t = session({ ttl: 40_000 });
  assert.deepEqual(t.c.due, [20_000]);
});

test("only one refresh is in flight: every caller gets its answer", async () => {
  const t = session();
  const a = t.s.refresh();
  const b = t.s.refresh();
  t.c.advance(15 * MIN); // the timer comes due while the refresh runs: it was cancelled
  assert.equal(t.calls.length, 1);
  await t.answer("t1");
  assert.deepEqual(await Promise.all([a, b]), ["t1", "t1"]);
  assert.deepEqual(t.c.due, [14 * MIN], "and one timer afterwards");
});

test("many calls refused at once with 401 share one refresh, then each retries once", async () => {
  const t = session();
  const used = [];
  const call = (name) => (token) => {
    used.push(`${name}:${token}`);
    return token === "t0" ? Promise.reject(unauthenticated()) : Promise.resolve(`${name} ok`);
  };
  const results = Promise.all([t.s.authed(call("a")), t.s.authed(call("b")), t.s.authed(call("c"))]);
  await settle();
  assert.equal(t.calls.length, 1, "one refresh for three 401s");
  await t.answer("t1");
  assert.deepEqual(await results, ["a ok", "b ok", "c ok"]);
  assert.deepEqual(used.sort(), ["a:t0", "a:t1", "b:t0", "b:t1", "c:t0", "c:t1"], "each sent twice: old token, then new");
});

test("a call refused after another one already renewed the token retries without a refresh", async () => {
  const t = session();
  /** @type {(e: unknown) => void} */
  let refuseSlow = () => {};
  const slow = t.s.authed((token) => (token === "t0" ? new Promise((_, reject) => (refuseSlow = reject)) : Promise.resolve(`slow:${token}`)));
  const fast = t.s.authed((token) => (token === "t0" ? Promise.reject(unauthenticated()) : Promise.resolve(`fast:${token}`)));
  await settle();
  await t.answer("t1");
  assert.equal(await fast, "fast:t1");
  refuseSlow(unauthenticated());
  assert.equal(await slow, "slow:t1");
  assert.equal(t.calls.length, 0, "no second refresh");
});

test("a retry refused again ends the session; other errors are not retried", async () => {
  const t = session();
  const refusedTwice = failure(t.s.authed(() => Promise.reject(unauthenticated())));
  await settle();
  await t.answer("t1");
  assert.equal((await refusedTwice).status, 401);
  assert.deepEqual(t.ended, ["expired"]);

  const u = session();
  let tries = 0;
  const notFound = u.s.authed(() => {
    tries++;
    return Promise.reject(new ApiError("not_found", "no", 404));
  });
  await assert.rejects(notFound, (e) => e instanceof ApiError && e.status === 404);
  assert.equal(tries, 1);
  assert.equal(u.calls.length, 0);
  assert.deepEqual(u.ended, []);
});

test("a refused refresh signs out: the 401 call fails and the session ends once", async () => {
  const t = session();
  const call = failure(t.s.authed(() => Promise.reject(unauthenticated())));
  const other = failure(t.s.refresh());
  await settle();
  await t.fail(unauthenticated());
  assert.equal((await call).status, 401);
  assert.equal((await other).status, 401);
  assert.deepEqual(t.ended, ["expired"]);
  assert.equal(t.s.ended, true);
  assert.equal(t.s.token, "", "the token is dropped from memory");
  assert.deepEqual(t.c.due, [], "no timer left");
  await assert.rejects(t.s.refresh(), "nothing is refreshed after the end");
  assert.equal(t.calls.length, 0);
});

test("a refresh that cannot reach the server keeps the session and tries again, backing off", async () => {
  const t = session();
  const r = failure(t.s.refresh());
  await t.fail(networkDown());
  assert.equal((await r).code, "network");
  assert.deepEqual(t.ended, []);
  assert.equal(t.s.token, "t0", "the old token is kept while it lasts");
  assert.deepEqual(t.c.due, [REFRESH_RETRY_MS]);
  t.c.advance(REFRESH_RETRY_MS);
  await t.fail(networkDown());
  assert.deepEqual(t.c.due, [2 * REFRESH_RETRY_MS], "doubled");
  t.c.advance(2 * REFRESH_RETRY_MS);
  await t.answer("t1");
  assert.equal(t.s.token, "t1");
  assert.deepEqual(t.c.due, [14 * MIN], "back to the normal schedule");
});

test("socket closed with 4001: refresh, then reconnect", async () => {
  const t = session();
  const next = t.s.socketClosed(CLOSE_TOKEN_EXPIRED);
  await settle();
  assert.equal(t.calls.length, 1);
  await t.answer("t1");
  assert.equal(await next, "reconnect");
  assert.equal(t.s.token, "t1", "the next ticket is asked for with the new token");
  assert.deepEqual(t.ended, []);
});

test("socket closed with 4001 and the refresh refused: signed out", async () => {
  const t = session();
  const next = t.s.socketClosed(CLOSE_TOKEN_EXPIRED);
  await settle();
  await t.fail(unauthenticated());
  assert.equal(await next, "signed_out");
  assert.deepEqual(t.ended, ["expired"]);
});

test("socket closed with 4001 while the server is unreachable: back off, still signed in", async () => {
  const t = session();
  const next = t.s.socketClosed(CLOSE_TOKEN_EXPIRED);
  await settle();
  await t.fail(networkDown());
  assert.equal(await next, "backoff");
  assert.deepEqual(t.ended, []);
});

test("socket closed with 4003: signed out at once, with no refresh", async () => {
  const t = session();
  assert.equal(await t.s.socketClosed(CLOSE_SESSION_REVOKED), "signed_out");
  assert.equal(t.calls.length, 0);
  assert.deepEqual(t.ended, ["revoked"]);
  assert.deepEqual(t.c.due, []);
  assert.equal(await t.s.socketClosed(CLOSE_TOKEN_EXPIRED), "signed_out", "an ended session stays ended");
  assert.deepEqual(t.ended, ["revoked"], "ended is reported once");
});

test("other closes are the socket's own business: back off", async () => {
  const t = session();
  for (const code of [1000, 1006, 1011, 4000]) assert.equal(await t.s.socketClosed(code), "backoff");
  assert.equal(t.calls.length, 0);
  assert.deepEqual(t.ended, []);
});

test("a refresh answered after the session ended does not bring it back", async () => {
  const t = session();
  const r = failure(t.s.refresh());
  t.s.end("signed_out");
  await t.answer("t1");
  assert.equal((await r).status, 401);
  assert.equal(t.s.token, "");
  assert.deepEqual(t.renewed, []);
  assert.deepEqual(t.c.due, []);
  assert.deepEqual(t.ended, ["signed_out"]);
});
