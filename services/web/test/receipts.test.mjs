// @ts-check
// Delivered and read receipts (src/receipts.ts), compiled by `npm test` into .test-build/.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DELIVERED_BATCH_MS, Receipts } from "../.test-build/receipts.js";

const ME = "me";

/**
 * Receipts over fake conversations: `convs[id]` is where reading stands, `page.open`
 * and `page.visible` the screen, `socket.online` whether frames go out.
 */
function receipts() {
  const sent = [];
  const timers = [];
  const page = { open: /** @type {string | null} */ (null), visible: true };
  const socket = { online: true };
  /** @type {Record<string, { newestSeq: number; readSeq: number; unread: number }>} */
  const convs = {};
  const r = new Receipts({
    me: ME,
    send: (f) => {
      if (!socket.online) return false;
      sent.push(`${f.type} ${f.conversation_id} ${f.up_to_seq}`);
      return true;
    },
    openId: () => page.open,
    visible: () => page.visible,
    readState: (id) => convs[id] ?? null,
    markedRead: (id, seq) => {
      convs[id].readSeq = seq;
      convs[id].unread = 0;
    },
    later: (f, ms) => timers.push({ f, ms }),
  });
  /** A message from `sender` at `seq` arrives in `c` (the store has it, then receipts hear). */
  const arrive = (c, seq, sender = "bob") => {
    const s = (convs[c] ??= { newestSeq: -1, readSeq: -1, unread: 0 });
    s.newestSeq = Math.max(s.newestSeq, seq);
    if (sender !== ME && seq > s.readSeq) s.unread++;
    r.messageArrived(c, seq, sender);
  };
  const fire = () => timers.splice(0).forEach((t) => t.f());
  return { r, sent, timers, page, socket, convs, arrive, fire };
}

test("delivered is batched: one receipt per conversation, up to its highest seq", () => {
  const { sent, timers, arrive, fire } = receipts();
  arrive("a", 1);
  arrive("a", 2);
  arrive("b", 7);
  arrive("a", 3);
  assert.deepEqual(sent, [], "nothing before the batch timer");
  assert.equal(timers.length, 1, "one timer for the burst");
  assert.equal(timers[0].ms, DELIVERED_BATCH_MS);
  fire();
  assert.deepEqual(sent, ["delivered a 3", "delivered b 7"]);
});

test("the highest seq wins: an older message (a replay) neither lowers nor repeats a receipt", () => {
  const { sent, timers, arrive, fire } = receipts();
  arrive("a", 5);
  fire();
  arrive("a", 3);
  arrive("a", 5);
  assert.equal(timers.length, 0, "nothing new to send");
  arrive("a", 6);
  fire();
  assert.deepEqual(sent, ["delivered a 5", "delivered a 6"]);
});

test("own messages get no receipt", () => {
  const { sent, timers, page, arrive, fire } = receipts();
  page.open = "a";
  arrive("a", 1, ME);
  fire();
  assert.deepEqual(sent, []);
  assert.equal(timers.length, 0);
});

test("delivered receipts the socket could not take go when it is ready again", () => {
  const { r, sent, socket, arrive, fire } = receipts();
  socket.online = false;
  arrive("a", 4);
  fire();
  assert.deepEqual(sent, []);
  socket.online = true;
  r.socketReady();
  assert.deepEqual(sent, ["delivered a 4"]);
  r.socketReady();
  assert.deepEqual(sent, ["delivered a 4"], "sent once");
});

test("read goes at once when the conversation is open and the page visible", () => {
  const { sent, convs, page, arrive, fire } = receipts();
  page.open = "a";
  arrive("a", 9);
  assert.deepEqual(sent, ["read a 9"]);
  assert.deepEqual(convs.a, { newestSeq: 9, readSeq: 9, unread: 0 }, "recorded as read");
  fire();
  assert.deepEqual(sent, ["read a 9", "delivered a 9"]);
});

test("no read for a conversation that is not open, or while the page is hidden", () => {
  const { sent, page, arrive, fire } = receipts();
  page.open = "other";
  arrive("a", 1);
  page.open = "a";
  page.visible = false;
  arrive("a", 2);
  fire();
  assert.deepEqual(sent, ["delivered a 2"]);
});

test("the page becoming visible reads the open conversation", () => {
  const { r, sent, page, arrive, fire } = receipts();
  page.open = "a";
  page.visible = false;
  arrive("a", 3);
  fire();
  r.visibilityChanged();
  assert.deepEqual(sent, ["delivered a 3"], "still hidden: no read");
  page.visible = true;
  r.visibilityChanged();
  assert.deepEqual(sent, ["delivered a 3", "read a 3"]);
  r.visibilityChanged();
  assert.equal(sent.length, 2, "nothing unread: no second read");
});

test("read only when something is unread, and never for an empty or unknown conversation", () => {
  const { r, sent, convs } = receipts();
  convs.empty = { newestSeq: -1, readSeq: -1, unread: 0 };
  convs.done = { newestSeq: 4, readSeq: 4, unread: 0 };
  convs.behind = { newestSeq: 4, readSeq: 2, unread: 0 };
  convs.counted = { newestSeq: 4, readSeq: 4, unread: 1 };
  assert.equal(r.read("empty"), false);
  assert.equal(r.read("done"), false);
  assert.equal(r.read("unknown"), false);
  assert.equal(r.read("behind"), true);
  assert.equal(r.read("counted"), true);
  assert.deepEqual(sent, ["read behind 4", "read counted 4"]);
});

test("a read the socket refused is not recorded; the ready socket sends it", () => {
  const { r, sent, convs, page, socket, arrive } = receipts();
  page.open = "a";
  socket.online = false;
  arrive("a", 2);
  assert.deepEqual(convs.a, { newestSeq: 2, readSeq: -1, unread: 1 });
  socket.online = true;
  r.socketReady();
  assert.deepEqual(sent, ["delivered a 2", "read a 2"]);
  assert.equal(convs.a.unread, 0);
});

test("reading is being open and visible", () => {
  const { r, page } = receipts();
  assert.equal(r.isReading("a"), false);
  page.open = "a";
  assert.equal(r.isReading("a"), true);
  assert.equal(r.isReading("b"), false);
  page.visible = false;
  assert.equal(r.isReading("a"), false);
});
