// @ts-check
// The socket's side of the session (src/socket.ts), compiled by `npm test` into
// .test-build/, over a fake WebSocket and fake browser globals: every connection opens
// with a fresh ticket and no token in the URL, a renewed token goes out in an `auth`
// frame, 4001 refreshes and reconnects at once, 4003 stops.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { Socket } from "../.test-build/socket.js";

class FakeWebSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  /** @type {FakeWebSocket[]} */
  static opened = [];
  constructor(url) {
    this.url = url;
    this.readyState = FakeWebSocket.CONNECTING;
    /** @type {unknown[]} */
    this.sent = [];
    this.closedWith = null;
    this.onopen = null;
    this.onmessage = null;
    this.onclose = null;
    this.onerror = null;
    FakeWebSocket.opened.push(this);
  }
  send(data) {
    this.sent.push(JSON.parse(data));
  }
  close(code) {
    this.closedWith = code ?? 1000;
    this.readyState = FakeWebSocket.CLOSED;
  }
  // What the server does:
  serverOpens() {
    this.readyState = FakeWebSocket.OPEN;
    this.onopen?.();
  }
  serverSends(frame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  serverCloses(code) {
    this.readyState = FakeWebSocket.CLOSED;
    this.onclose?.({ code });
  }
}

const names = ["window", "location", "navigator", "WebSocket"];
const saved = {};
let timers;

beforeEach(() => {
  FakeWebSocket.opened = [];
  timers = [];
  for (const k of names) saved[k] = Object.getOwnPropertyDescriptor(globalThis, k);
  const define = (k, v) => Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  define("window", {
    addEventListener: () => {},
    removeEventListener: () => {},
    setTimeout: (f, ms) => timers.push({ f, ms }),
    clearTimeout: () => {},
  });
  define("location", { protocol: "http:", host: "chat.test" });
  define("navigator", { onLine: true });
  define("WebSocket", FakeWebSocket);
});

afterEach(() => {
  for (const [k, d] of Object.entries(saved)) {
    if (d) Object.defineProperty(globalThis, k, d);
    else delete globalThis[k];
  }
});

const settle = () => new Promise((r) => setImmediate(r));

/** A socket whose tickets are tk-1, tk-2, ... and whose auth closes get `decision`. */
function socket(decision = "reconnect") {
  const events = { tickets: 0, ready: 0, frames: [], authClosed: [], states: [] };
  const s = new Socket(
    async () => `tk-${++events.tickets}`,
    {
      frame: (f) => events.frames.push(f),
      ready: () => events.ready++,
      state: (st) => events.states.push(st),
      authClosed: async (code) => {
        events.authClosed.push(code);
        return decision;
      },
    },
  );
  return { s, events };
}

/** Open the newest fake connection and answer its first ping. */
function serverAccepts() {
  const ws = FakeWebSocket.opened.at(-1);
  assert.ok(ws, "a connection was opened");
  ws.serverOpens();
  assert.deepEqual(ws.sent.at(-1), { type: "ping" });
  ws.serverSends({ type: "pong" });
  return ws;
}

test("the socket opens with a fresh single-use ticket, never a token", async () => {
  const { s, events } = socket();
  s.start();
  await settle();
  const ws = serverAccepts();
  assert.equal(ws.url, "ws://chat.test/api/v1/ws?ticket=tk-1");
  assert.equal(events.ready, 1);
  assert.equal(s.ready, true);
  // A dropped connection comes back with the next ticket.
  ws.serverCloses(1006);
  assert.equal(timers.length > 0, true, "a backoff timer");
  timers.at(-1).f();
  await settle();
  assert.equal(FakeWebSocket.opened.at(-1).url, "ws://chat.test/api/v1/ws?ticket=tk-2");
  for (const w of FakeWebSocket.opened) assert.doesNotMatch(w.url, /token=/);
  s.stop();
});

test("a renewed token goes out on the open socket in an auth frame; the answer is not the app's", async () => {
  const { s, events } = socket();
  s.start();
  await settle();
  const ws = serverAccepts();
  s.reauthenticate("t1");
  assert.deepEqual(ws.sent.at(-1), { type: "auth", token: "t1" });
  ws.serverSends({ type: "authenticated", expires_at: "2026-01-01T00:15:00Z" });
  assert.deepEqual(events.frames, []);
  s.stop();
});

test("closed with 4001: the session refreshes, then the socket reconnects at once with a new ticket", async () => {
  const { s, events } = socket("reconnect");
  s.start();
  await settle();
  serverAccepts();
  const timersBefore = timers.length;
  FakeWebSocket.opened.at(-1).serverCloses(4001);
  await settle();
  assert.deepEqual(events.authClosed, [4001]);
  assert.equal(FakeWebSocket.opened.length, 2, "reconnected");
  assert.equal(FakeWebSocket.opened[1].url, "ws://chat.test/api/v1/ws?ticket=tk-2");
  assert.equal(timers.length, timersBefore, "no backoff wait");
  serverAccepts();
  assert.equal(events.ready, 2, "ready again: the outbox resends and the gap rule resyncs");
  s.stop();
});

test("closed with 4003: no reconnect", async () => {
  const { s, events } = socket("signed_out");
  s.start();
  await settle();
  serverAccepts();
  const timersBefore = timers.length;
  FakeWebSocket.opened.at(-1).serverCloses(4003);
  await settle();
  assert.deepEqual(events.authClosed, [4003]);
  assert.equal(FakeWebSocket.opened.length, 1);
  assert.equal(timers.length, timersBefore, "no retry scheduled");
  assert.equal(s.ready, false);
  s.stop();
});

test("a 4001 whose refresh could not reach the server backs off and tries again", async () => {
  const { s, events } = socket("backoff");
  s.start();
  await settle();
  serverAccepts();
  FakeWebSocket.opened.at(-1).serverCloses(4001);
  await settle();
  assert.deepEqual(events.authClosed, [4001]);
  assert.equal(FakeWebSocket.opened.length, 1, "not at once");
  assert.equal(events.states.at(-1), "offline");
  timers.at(-1).f();
  await settle();
  assert.equal(FakeWebSocket.opened.length, 2, "after the wait");
  s.stop();
});

test("no ticket (the server unreachable): back off, no socket", async () => {
  const events = { states: [] };
  let fail = true;
  const s = new Socket(
    async () => {
      if (fail) throw new Error("network");
      return "tk";
    },
    { frame: () => {}, ready: () => {}, state: (st) => events.states.push(st), authClosed: async () => "backoff" },
  );
  s.start();
  await settle();
  assert.equal(FakeWebSocket.opened.length, 0);
  assert.equal(events.states.at(-1), "offline");
  fail = false;
  timers.at(-1).f();
  await settle();
  assert.equal(FakeWebSocket.opened.length, 1);
  s.stop();
});
