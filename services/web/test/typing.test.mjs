// @ts-check
// Typing-indicator timing (src/typing.ts), compiled by `npm test` into .test-build/.
import assert from "node:assert/strict";
import { test } from "node:test";
import { TYPING_FORGET_MS, TYPING_IDLE_MS, TYPING_REFRESH_MS, TypingSender, noteTyping } from "../.test-build/typing.js";

/** A fake clock: timers run when `advance` passes their time. */
function clock() {
  let now = 0;
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
    get pending() {
      return pending.size;
    },
  };
}

function sender() {
  const sent = [];
  const k = clock();
  const online = { on: true };
  const t = new TypingSender({
    send: (c, state) => {
      if (!online.on) return false;
      sent.push(`${state} ${c}`);
      return true;
    },
    now: k.now,
    timers: k.timers,
  });
  return { t, sent, k, online };
}

test("start at the first keystroke, again only after the refresh interval", () => {
  const { t, sent, k } = sender();
  t.input("a", false);
  k.advance(1000);
  t.input("a", false);
  k.advance(TYPING_REFRESH_MS - 1000);
  t.input("a", false);
  assert.deepEqual(sent, ["start a"], "not more often than every 3 s");
  k.advance(1);
  t.input("a", false);
  assert.deepEqual(sent, ["start a", "start a"]);
});

test("stop goes after the idle time since the last keystroke", () => {
  const { t, sent, k } = sender();
  t.input("a", false);
  k.advance(TYPING_IDLE_MS - 1);
  t.input("a", false);
  k.advance(TYPING_IDLE_MS - 1);
  assert.deepEqual(sent, ["start a", "start a"]);
  k.advance(1);
  assert.deepEqual(sent, ["start a", "start a", "stop a"]);
  assert.equal(k.pending, 0);
});

test("emptying the composer, sending or switching stops at once, and only once", () => {
  const { t, sent, k } = sender();
  t.input("a", false);
  t.input("a", true);
  assert.deepEqual(sent, ["start a", "stop a"]);
  t.stop();
  k.advance(TYPING_IDLE_MS);
  assert.deepEqual(sent, ["start a", "stop a"], "no second stop");
  t.input("b", false);
  t.stop();
  assert.deepEqual(sent, ["start a", "stop a", "start b", "stop b"]);
});

test("a start the socket refused is tried again at the next keystroke", () => {
  const { t, sent, online } = sender();
  online.on = false;
  t.input("a", false);
  t.stop();
  online.on = true;
  t.input("a", false);
  assert.deepEqual(sent, ["start a"], "no stop for a start that never went");
});

test("others: start shows someone typing, stop or the forget timer hides them", () => {
  const k = clock();
  const typing = new Map();
  let forgotten = 0;
  const note = (user, state) => noteTyping(typing, user, state, () => forgotten++, k.timers);
  note("bob", "start");
  note("eve", "start");
  assert.deepEqual([...typing.keys()], ["bob", "eve"]);
  note("bob", "stop");
  assert.deepEqual([...typing.keys()], ["eve"]);
  k.advance(TYPING_FORGET_MS - 1);
  note("eve", "start");
  k.advance(TYPING_FORGET_MS - 1);
  assert.deepEqual([...typing.keys()], ["eve"], "a new start restarts the timer");
  k.advance(1);
  assert.deepEqual([...typing.keys()], []);
  assert.equal(forgotten, 1);
  assert.equal(k.pending, 0);
});
