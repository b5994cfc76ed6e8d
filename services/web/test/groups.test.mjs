// @ts-check
// Group rules the client checks first (src/groups.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { groupNameProblem, mayManage, mayRemove, memberOrder, normaliseUsername } from "../.test-build/groups.js";

test("a group name is 1 to 100 printable characters", () => {
  assert.equal(groupNameProblem("Launch"), null);
  assert.equal(groupNameProblem("x".repeat(100)), null);
  assert.equal(groupNameProblem("🎉".repeat(100)), null, "characters, not UTF-16 units");
  assert.match(groupNameProblem("") ?? "", /empty/);
  assert.match(groupNameProblem("   ") ?? "", /empty/);
  assert.match(groupNameProblem("x".repeat(101)) ?? "", /100/);
  assert.match(groupNameProblem("a\u0007b") ?? "", /control/);
});

test("usernames as typed", () => {
  assert.equal(normaliseUsername("  @Bob "), "bob");
});

test("members: me first, then by name", () => {
  const names = { a: "Zed", b: "Amy", me: "Me" };
  assert.deepEqual(memberOrder(["a", "b", "me", "a"], "me", (id) => names[id]), ["me", "b", "a"]);
});

test("anyone may leave; removing others needs admin, or unknown admins", () => {
  assert.equal(mayRemove("me", "me", new Set()), true);
  assert.equal(mayRemove("me", "x", new Set(["other"])), false);
  assert.equal(mayRemove("me", "x", new Set(["me"])), true);
  assert.equal(mayRemove("me", "x", null), true);
});

test("admin settings (disappearing messages): admins, or unknown admins (the server decides)", () => {
  assert.equal(mayManage("me", new Set(["me", "x"])), true);
  assert.equal(mayManage("me", new Set(["x"])), false);
  assert.equal(mayManage("me", null), true);
});
