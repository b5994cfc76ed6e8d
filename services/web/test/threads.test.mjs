// @ts-check
// Thread summaries (src/threads.ts): replies counted once, whatever the order of acks,
// events and pages; following next_after.
import assert from "node:assert/strict";
import { test } from "node:test";
import { allReplies, mergeSummary, noteReply, repliesLabel, summary, threadState } from "../.test-build/threads.js";

test("no summary means no replies; live replies count once each", () => {
  const t = threadState(null);
  assert.equal(summary(t), null);
  assert.equal(noteReply(t, "r1", 11, "t11"), true);
  assert.equal(noteReply(t, "r1", 11, "t11"), false, "the ack and the event of one reply");
  assert.equal(noteReply(t, "r2", 12, "t12"), true);
  assert.deepEqual(summary(t), { reply_count: 2, last_reply_seq: 12, last_reply_at: "t12" });
});

test("replies the server's summary covers are not counted again", () => {
  const t = threadState({ reply_count: 3, last_reply_seq: 20, last_reply_at: "t20" });
  assert.equal(noteReply(t, "old", 18, "t18"), false);
  assert.equal(noteReply(t, "r21", 21, "t21"), true);
  assert.deepEqual(summary(t), { reply_count: 4, last_reply_seq: 21, last_reply_at: "t21" });
});

test("out of order: an own ack (seq 10) before someone's event (seq 9) counts both", () => {
  const t = threadState(null);
  noteReply(t, "mine", 10, "t10");
  noteReply(t, "theirs", 9, "t9");
  assert.deepEqual(summary(t), { reply_count: 2, last_reply_seq: 10, last_reply_at: "t10" });
});

test("a newer server summary replaces the base and drops what it covers; an older one is ignored", () => {
  const t = threadState({ reply_count: 1, last_reply_seq: 5, last_reply_at: "t5" });
  noteReply(t, "a", 6, "t6");
  noteReply(t, "b", 7, "t7");
  mergeSummary(t, { reply_count: 2, last_reply_seq: 6, last_reply_at: "t6" });
  assert.deepEqual(summary(t), { reply_count: 3, last_reply_seq: 7, last_reply_at: "t7" });
  mergeSummary(t, { reply_count: 1, last_reply_seq: 5, last_reply_at: "t5" });
  assert.equal(summary(t)?.reply_count, 3);
  mergeSummary(t, null);
  assert.equal(summary(t)?.reply_count, 3);
});

test("labels", () => {
  assert.equal(repliesLabel(1), "1 reply");
  assert.equal(repliesLabel(3), "3 replies");
});

test("allReplies follows next_after to the end, in order", async () => {
  const pages = new Map([
    [null, { root: "R", messages: [{ seq: 2 }, { seq: 3 }], next_after: 3 }],
    [3, { root: "R", messages: [{ seq: 5 }], next_after: 5 }],
    [5, { root: "R", messages: [], next_after: null }],
  ]);
  const asked = [];
  const r = await allReplies(async (after) => {
    asked.push(after);
    return pages.get(after);
  });
  assert.deepEqual(asked, [null, 3, 5]);
  assert.equal(r.root, "R");
  assert.deepEqual(r.messages.map((m) => m.seq), [2, 3, 5]);
});

test("allReplies stops when the cursor does not move forward", async () => {
  let calls = 0;
  const r = await allReplies(async () => {
    calls++;
    return { root: "R", messages: [{ seq: 1 }], next_after: 1 };
  });
  assert.equal(calls, 2);
  assert.equal(r.messages.length, 2);
});
