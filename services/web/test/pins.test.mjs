// @ts-check
// A conversation's pins (src/pins.ts): newest first, one entry per message.
import assert from "node:assert/strict";
import { test } from "node:test";
import { addPin, editPinned, fromWire, isPinned, removePin } from "../.test-build/pins.js";

const msg = (id, body = id) => ({ message_id: id, conversation_id: "c", seq: 1, sender_id: "u", kind: "text", body, reply_to: null, created_at: null, edited_at: null, deleted_at: null });
const wire = (id, at) => ({ message: msg(id), pinned_by: "u", pinned_at: at });

test("the list comes newest first, without duplicates", () => {
  const pins = fromWire([wire("a", "2025-01-01T00:00:01Z"), wire("b", "2025-01-01T00:00:03Z"), wire("a", "2025-01-01T00:00:02Z")]);
  assert.deepEqual(pins.map((p) => p.message_id), ["b", "a"]);
  assert.deepEqual(fromWire(undefined), []);
});

test("a live pin goes first; pinning again moves it and keeps the message", () => {
  let pins = fromWire([wire("a", "2025-01-01T00:00:01Z")]);
  pins = addPin(pins, { message_id: "b", message: null, pinned_by: "x", pinned_at: "2025-01-01T00:00:05Z" });
  assert.deepEqual(pins.map((p) => p.message_id), ["b", "a"]);
  pins = addPin(pins, { message_id: "a", message: null, pinned_by: "y", pinned_at: "2025-01-01T00:00:09Z" });
  assert.deepEqual(pins.map((p) => p.message_id), ["a", "b"]);
  assert.equal(pins[0].message?.body, "a", "the message already known is kept");
  assert.equal(pins[0].pinned_by, "y");
  assert.equal(isPinned(pins, "a"), true);
  assert.equal(isPinned(pins, "z"), false);
  assert.equal(isPinned(null, "a"), false);
});

test("unpin removes; removing what is not there changes nothing", () => {
  let pins = fromWire([wire("a", "1"), wire("b", "2")]);
  pins = removePin(pins, "a");
  assert.deepEqual(pins.map((p) => p.message_id), ["b"]);
  assert.deepEqual(removePin(pins, "zzz").map((p) => p.message_id), ["b"]);
});

test("an edit reaches the pinned copy", () => {
  const pins = editPinned(fromWire([wire("a", "1")]), "a", "new text", "t");
  assert.equal(pins[0].message?.body, "new text");
  assert.equal(pins[0].message?.edited_at, "t");
});
