// @ts-check
// Search input and result text (src/search.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_QUERY, resultText, resultsLabel, searchQuery } from "../.test-build/search.js";

test("a query is 1 to 256 characters after trimming", () => {
  assert.deepEqual(searchQuery("  launch plan "), { ok: true, q: "launch plan" });
  assert.equal(searchQuery("   ").ok, false);
  assert.equal(searchQuery("é".repeat(MAX_QUERY)).ok, true);
  assert.equal(searchQuery("x".repeat(MAX_QUERY + 1)).ok, false);
});

test("result text: highlights joined, else the body; markup stays text", () => {
  const message = { body: "the whole\nbody" };
  assert.equal(resultText({ message, highlights: ["first <b>hit</b>", "second"] }), "first <b>hit</b> … second");
  assert.equal(resultText({ message, highlights: [] }), "the whole body");
  assert.equal(resultText({ message: { body: null }, highlights: [] }), "");
  assert.equal(resultText({ message, highlights: ["x".repeat(300)] }, 10).length, 10);
});

test("labels", () => {
  assert.equal(resultsLabel(0, false), "No messages match.");
  assert.equal(resultsLabel(1, false), "1 message");
  assert.equal(resultsLabel(20, true), "20 messages so far");
});
