// @ts-check
// Reaction state (src/reactions.ts): a set of users per emoji, ordered by first use,
// applied idempotently.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_DISTINCT_REACTIONS, addReaction, applyReaction, chips, fromWire, removeReaction, toggleOp, wouldExceed } from "../.test-build/reactions.js";

const view = (list, me = "me") => chips(list, me).map((c) => `${c.emoji}${c.count}${c.mine ? "*" : ""}`);

test("adding is idempotent per user and keeps the order of first use", () => {
  const list = [];
  assert.equal(addReaction(list, "👍", "a"), true);
  assert.equal(addReaction(list, "🎉", "b"), true);
  assert.equal(addReaction(list, "👍", "me"), true);
  assert.equal(addReaction(list, "👍", "me"), false, "a second add changes nothing");
  assert.deepEqual(view(list), ["👍2*", "🎉1"]);
});

test("removing takes one user back; the chip goes when nobody is left; removing again changes nothing", () => {
  const list = fromWire([
    { emoji: "👍", count: 2, user_ids: ["a", "me"] },
    { emoji: ":ok:", count: 1, user_ids: ["me"] },
  ]);
  assert.equal(removeReaction(list, "👍", "me"), true);
  assert.equal(removeReaction(list, "👍", "me"), false);
  assert.equal(removeReaction(list, ":ok:", "me"), true);
  assert.deepEqual(view(list), ["👍1"]);
  assert.equal(removeReaction(list, "🎉", "me"), false);
  // Re-adding an emoji that went away puts it at the end (it is used first again now).
  addReaction(list, ":ok:", "a");
  addReaction(list, "🔥", "a");
  assert.deepEqual(view(list), ["👍1", ":ok:1", "🔥1"]);
});

test("a replayed add after a page that already had it changes nothing", () => {
  const list = fromWire([{ emoji: "👍", count: 1, user_ids: ["a"] }]);
  assert.equal(applyReaction(list, "add", "👍", "a"), false);
  assert.equal(applyReaction(list, "remove", "🎉", "a"), false);
  assert.deepEqual(view(list), ["👍1"]);
});

test("beyond the first 100 listed users, counts still move", () => {
  const ids = Array.from({ length: 100 }, (_, i) => `u${i}`);
  const list = fromWire([{ emoji: "👍", count: 150, user_ids: ids }]);
  assert.equal(addReaction(list, "👍", "stranger"), true);
  assert.equal(list[0].count, 151);
  assert.equal(removeReaction(list, "👍", "unlisted"), true);
  assert.equal(list[0].count, 150);
  assert.equal(removeReaction(list, "👍", "u1"), true);
  assert.equal(list[0].count, 149);
});

test("fromWire drops junk: duplicates, empty entries, a count below the users listed", () => {
  const list = fromWire([
    { emoji: "👍", count: 0, user_ids: [] },
    { emoji: "🎉", count: 1, user_ids: ["a", "b"] },
    { emoji: "🎉", count: 5, user_ids: ["c"] },
  ]);
  assert.deepEqual(view(list), ["🎉2"]);
  assert.deepEqual(fromWire(undefined), []);
  assert.deepEqual(fromWire(null), []);
});

test("a chip toggles: add when not mine, remove when mine", () => {
  const list = fromWire([{ emoji: "👍", count: 1, user_ids: ["me"] }]);
  assert.equal(toggleOp(list, "👍", "me"), "remove");
  assert.equal(toggleOp(list, "🎉", "me"), "add");
  assert.equal(toggleOp(list, "👍", "other"), "add");
});

test("the distinct-emoji limit: a new emoji beyond 50 would exceed, a known one would not", () => {
  const list = [];
  for (let i = 0; i < MAX_DISTINCT_REACTIONS; i++) addReaction(list, `:e${i}:`, "a");
  assert.equal(wouldExceed(list, ":new:"), true);
  assert.equal(wouldExceed(list, ":e3:"), false);
  assert.equal(wouldExceed(list.slice(1), ":new:"), false);
});
