// @ts-check
// What may be a reaction (src/emoji.ts), compiled by `npm test` into .test-build/: one
// emoji (one grapheme cluster) or a :shortcode: of 1 to 32 [a-z0-9_+-], as the contract says.
import assert from "node:assert/strict";
import { test } from "node:test";
import { COMMON_REACTIONS, isEmoji, isShortcode, isValidReaction, parseReaction, reactionName } from "../.test-build/emoji.js";

test("single emoji are accepted, including sequences that are one grapheme", () => {
  for (const e of ["👍", "❤️", "❤", "🎉", "👍🏽", "👩‍👩‍👧", "🏳️‍🌈", "🇫🇷", "1️⃣", "#️⃣", "✅", "©️"]) {
    assert.equal(isEmoji(e), true, e);
    assert.equal(isValidReaction(e), true, e);
  }
});

test("text, two emoji, digits and spaces are not a reaction", () => {
  for (const e of ["", "a", "ab", "1", "#", "👍👍", "👍 ", " 👍", "🇫", ":)", "<img>", "👍a"]) {
    assert.equal(isValidReaction(e), false, JSON.stringify(e));
  }
});

test("shortcodes: 1 to 32 of a-z 0-9 _ + - between colons", () => {
  for (const c of [":a:", ":+1:", ":party_parrot:", ":thumbs-up:", `:${"x".repeat(32)}:`]) assert.equal(isShortcode(c), true, c);
  for (const c of ["::", ":A:", ":a b:", ":a", "a:", `:${"x".repeat(33)}:`, ":é:", ":a:b:", ":<b>:"]) assert.equal(isShortcode(c), false, c);
});

test("what people type: trimmed, shortcodes lower-cased, known ones become their emoji", () => {
  assert.deepEqual(parseReaction("  🎉 "), { ok: true, emoji: "🎉" });
  assert.deepEqual(parseReaction(":Party_Parrot:"), { ok: true, emoji: ":party_parrot:" });
  assert.deepEqual(parseReaction(":+1:"), { ok: true, emoji: "👍" });
  assert.deepEqual(parseReaction(":tada:"), { ok: true, emoji: "🎉" });
  for (const bad of ["", "   ", "hello", "👍👍", ":no spaces:", ":" + "y".repeat(40) + ":", ":"]) {
    const r = parseReaction(bad);
    assert.equal(r.ok, false, bad);
    assert.ok(r.reason.length > 10, "a sentence says why");
  }
});

test("the common set is valid and named", () => {
  assert.ok(COMMON_REACTIONS.length >= 6);
  for (const r of COMMON_REACTIONS) {
    assert.equal(isEmoji(r.emoji), true, r.emoji);
    assert.equal(reactionName(r.emoji), r.name);
  }
  assert.equal(reactionName(":custom:"), ":custom:");
});
