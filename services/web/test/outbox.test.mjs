// @ts-check
// The outbox (src/outbox.ts), compiled by `npm test` into .test-build/.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Outbox, UNAVAILABLE_RETRIES, retryDelayMs } from "../.test-build/outbox.js";

const C = "c1";
const send = (id, body = "hi") => ({ type: "send", conversation_id: C, client_msg_id: id, body });
const ack = (id, seq = 1) => ({ client_msg_id: id, message_id: `m-${id}`, seq, ts: "2025-01-01T00:00:00Z" });

/** An outbox over a fake socket (`online` says whether it takes frames) and fake timers. */
function outbox() {
  const sent = [];
  const acked = [];
  const failed = [];
  const timers = [];
  const socket = { online: true };
  const box = new Outbox({
    send: (f) => {
      if (!socket.online) return false;
      sent.push(f.client_msg_id);
      return true;
    },
    acked: (a, k) => acked.push({ id: a.frame.client_msg_id, message_id: k.message_id, undo: a.undo }),
    failed: (a, code, message) => failed.push({ id: a.frame.client_msg_id, code, message, undo: a.undo }),
    later: (f, ms) => timers.push({ f, ms }),
  });
  return { box, sent, acked, failed, timers, socket };
}

test("an action is sent at once and kept until its ack", () => {
  const { box, sent, acked } = outbox();
  box.add(send("a"));
  assert.deepEqual(sent, ["a"]);
  assert.ok(box.has("a"));
  assert.equal(box.ack(ack("a")), true);
  assert.equal(box.has("a"), false);
  assert.equal(box.size, 0);
  assert.deepEqual(acked, [{ id: "a", message_id: "m-a", undo: undefined }]);
});

test("a second ack of the same client_msg_id is ignored", () => {
  const { box, acked } = outbox();
  box.add(send("a"));
  assert.equal(box.ack(ack("a")), true);
  assert.equal(box.ack(ack("a")), false);
  assert.equal(box.ack(ack("never-sent")), false);
  assert.equal(acked.length, 1);
});

test("offline sends wait; a ready socket resends everything unacknowledged, same client_msg_id, in order", () => {
  const { box, sent, socket } = outbox();
  socket.online = false;
  box.add(send("a", "one"));
  box.add(send("b", "two"));
  assert.deepEqual(sent, [], "nothing goes while the socket is down");
  assert.equal(box.size, 2, "but both are kept");
  socket.online = true;
  box.resendAll();
  assert.deepEqual(sent, ["a", "b"]);
  box.ack(ack("a"));
  box.resendAll();
  assert.deepEqual(sent, ["a", "b", "b"], "only the unacknowledged one goes again");
});

test("a send whose ack was lost goes again with the same frame on reconnect", () => {
  const frames = [];
  const box = new Outbox({ send: (f) => (frames.push(f), true), acked: () => {}, failed: () => {}, later: () => {} });
  const f = { type: "send", conversation_id: C, client_msg_id: "a", body: "x", reply_to: "m0" };
  box.add(f);
  box.resendAll();
  assert.equal(frames.length, 2);
  assert.deepEqual(frames[1], f);
});

test("unavailable is retried up to 5 times with growing delays, then fails", () => {
  const { box, sent, failed, timers } = outbox();
  box.add(send("a"));
  for (let n = 1; n <= UNAVAILABLE_RETRIES; n++) {
    assert.equal(box.error("unavailable", "busy", "a"), true);
    assert.equal(timers.length, n, `retry ${n} is scheduled`);
    assert.equal(timers[n - 1].ms, retryDelayMs(n));
    assert.equal(failed.length, 0);
    timers[n - 1].f();
    assert.equal(sent.length, n + 1, "the timer sends the same frame again");
    assert.equal(sent[n], "a");
  }
  assert.deepEqual(
    timers.map((t) => t.ms),
    [1000, 2000, 3000, 4000, 5000],
  );
  box.error("unavailable", "still busy", "a");
  assert.equal(timers.length, UNAVAILABLE_RETRIES, "no sixth retry");
  assert.deepEqual(failed, [{ id: "a", code: "unavailable", message: "still busy", undo: undefined }]);
  assert.equal(box.has("a"), false);
});

test("an ack after an unavailable retry settles the action", () => {
  const { box, acked, failed, timers } = outbox();
  box.add(send("a"));
  box.error("unavailable", "busy", "a");
  timers[0].f();
  box.ack(ack("a"));
  assert.equal(acked.length, 1);
  assert.equal(failed.length, 0);
});

test("any other error code fails the action at once, with its undo", () => {
  const { box, failed, timers } = outbox();
  const undo = { body: "before", edited_at: null, deleted_at: null };
  box.add({ type: "edit", conversation_id: C, message_id: "m1", body: "after", client_msg_id: "e" }, undo);
  assert.equal(box.error("forbidden", "not yours", "e"), true);
  assert.deepEqual(failed, [{ id: "e", code: "forbidden", message: "not yours", undo }]);
  assert.equal(timers.length, 0);
  assert.equal(box.has("e"), false);
  box.add(send("s"));
  box.error("rate_limited", "slow down", "s");
  assert.equal(failed[1].code, "rate_limited", "rate_limited is not retried either");
});

test("errors about frames that are not in the outbox are not its business", () => {
  const { box, failed } = outbox();
  box.add(send("a"));
  assert.equal(box.error("rate_limited", "slow down", ""), false);
  assert.equal(box.error("not_member", "no", "other"), false);
  assert.equal(failed.length, 0);
  assert.ok(box.has("a"));
});

test("a failed action is not resent on reconnect (Discard then has nothing to cancel)", () => {
  const { box, sent } = outbox();
  box.add(send("a"));
  box.error("too_large", "limit of 16384 bytes", "a");
  box.resendAll();
  assert.deepEqual(sent, ["a"]);
});

test("Retry: the refused send goes again with the same client_msg_id and a fresh retry budget", () => {
  const { box, sent, failed, timers } = outbox();
  box.add(send("a"));
  for (let n = 0; n <= UNAVAILABLE_RETRIES; n++) box.error("unavailable", "busy", "a");
  assert.equal(failed.length, 1);
  box.add(send("a"));
  assert.deepEqual(sent, ["a", "a"]);
  assert.ok(box.has("a"));
  box.error("unavailable", "busy", "a");
  assert.equal(failed.length, 1, "retried again, not failed");
  assert.equal(timers.at(-1)?.ms, retryDelayMs(1), "the delays start over");
  box.ack(ack("a"));
  assert.equal(box.size, 0);
});
