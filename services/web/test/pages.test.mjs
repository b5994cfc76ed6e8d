// @ts-check
import assert from "node:assert/strict";
import { test } from "node:test";
import { allPages, MAX_PAGES } from "../.test-build/pages.js";

test("follows next until it is null, keeping the order", async () => {
  const pages = { "": { items: [1, 2], next: "a" }, a: { items: [3], next: "b" }, b: { items: [4], next: null } };
  const asked = [];
  const all = await allPages(async (cursor) => {
    asked.push(cursor);
    return pages[cursor ?? ""];
  });
  assert.deepEqual(all, [1, 2, 3, 4]);
  assert.deepEqual(asked, [null, "a", "b"]);
});

test("an answer without next (an older server) is the only page", async () => {
  const all = await allPages(async () => ({ items: ["x"], next: undefined }));
  assert.deepEqual(all, ["x"]);
});

test("a cursor that repeats or never ends does not loop forever", async () => {
  assert.deepEqual(await allPages(async () => ({ items: [1], next: "same" })), [1, 1]);
  let n = 0;
  const all = await allPages(async () => ({ items: [n], next: String(++n) }));
  assert.equal(all.length, MAX_PAGES);
});
