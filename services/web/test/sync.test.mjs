// @ts-check
// The gap rule (src/sync.ts), compiled by `npm test` into .test-build/.
import assert from "node:assert/strict";
import { test } from "node:test";
import { GapTracker, SYNC_MAX_CONVERSATIONS } from "../.test-build/sync.js";

const C = "c1";
const ev = (seq, prev, extra = {}) => ({ type: "event", conversation_id: C, seq, prev_seq: prev, event: { kind: "message_sent", actor_id: "u", occurred_at: "" }, ...extra });

function tracker() {
  const applied = [];
  const syncs = [];
  const timers = [];
  const t = new GapTracker({
    apply: (e) => applied.push(e.seq),
    sendSync: (p) => {
      syncs.push(p);
      return true;
    },
    later: (f) => timers.push(f),
  });
  return { t, applied, syncs, timers };
}

test("applies what follows and drops duplicates", () => {
  const { t, applied, syncs } = tracker();
  t.track(C, 10);
  t.offer(ev(11, 10));
  t.offer(ev(11, 10));
  t.offer(ev(12, 11));
  t.offer(ev(9, 8));
  assert.deepEqual(applied, [11, 12]);
  assert.equal(t.duplicates, 2);
  assert.deepEqual(syncs, []);
});

test("a first event of an untracked conversation, or one without prev_seq, follows", () => {
  const { t, applied } = tracker();
  t.offer(ev(40, 39));
  t.offer(ev(50, null));
  assert.deepEqual(applied, [40, 50]);
});

test("a gap holds the event, syncs from the position, then applies replay and held in order", () => {
  const { t, applied, syncs } = tracker();
  t.track(C, 10);
  t.offer(ev(15, 14));
  t.offer(ev(16, 15));
  assert.deepEqual(applied, []);
  assert.deepEqual(syncs, [{ [C]: 10 }], "one sync for the gap");
  t.offer(ev(12, 10, { replayed: true }));
  t.offer(ev(14, 12, { replayed: true }));
  t.synced({ [C]: 14 });
  assert.deepEqual(applied, [12, 14, 15, 16]);
  assert.equal(t.position(C), 16);
});

test("synced moves the position over events that are not messages", () => {
  const { t, applied } = tracker();
  t.track(C, 10);
  t.offer(ev(13, 12));
  t.synced({ [C]: 12 });
  assert.deepEqual(applied, [13]);
});

test("when history still trails, it syncs again later; never moves back", () => {
  const { t, applied, syncs, timers } = tracker();
  t.track(C, 10);
  t.offer(ev(20, 19));
  t.synced({ [C]: 15 });
  assert.deepEqual(applied, []);
  assert.equal(timers.length, 1, "the second sync waits");
  timers[0]();
  assert.deepEqual(syncs, [{ [C]: 10 }, { [C]: 15 }]);
  t.synced({ [C]: 19 });
  assert.deepEqual(applied, [20]);
  t.advance(C, 5);
  assert.equal(t.position(C), 20);
});

test("a reopened socket syncs every conversation from its position", () => {
  const { t, syncs } = tracker();
  t.track("a", 3);
  t.track("b", -1);
  t.resyncAll();
  assert.deepEqual(syncs, [{ a: 3, b: -1 }]);
});

test("many conversations are synced in frames of at most the server's limit", () => {
  const { t, syncs } = tracker();
  const n = SYNC_MAX_CONVERSATIONS * 2 + 5;
  for (let i = 0; i < n; i++) t.track(`c${i}`, i);
  t.resyncAll();
  assert.deepEqual(
    syncs.map((s) => Object.keys(s).length),
    [SYNC_MAX_CONVERSATIONS, SYNC_MAX_CONVERSATIONS, 5],
  );
  assert.equal(new Set(syncs.flatMap((s) => Object.keys(s))).size, n);
});

test("a conversation the server listed in more is synced again from its new position", () => {
  const { t, syncs } = tracker();
  t.track("a", 3);
  t.track("b", 7);
  t.resyncAll();
  t.synced({ a: 40, b: 9 }, ["a"]);
  assert.deepEqual(syncs, [{ a: 3, b: 7 }, { a: 40 }]);
  // Its answer says it is complete: nothing more is sent.
  t.synced({ a: 52 }, []);
  assert.equal(syncs.length, 2);
});
