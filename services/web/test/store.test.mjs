// @ts-check
// The store (src/store.ts) applying v1.1 events: thread replies kept out of the timeline
// and counted once under their root, reactions idempotent and optimistic, renames,
// pins, member changes and leaving. Compiled by `npm test` into .test-build/.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Store } from "../.test-build/store.js";

const C = "conv-1";
const ME = "me";
/** Names are looked up through the API; none of these tests needs one. */
const api = { userById: async () => null };

function store() {
  const s = new Store(ME, "me", /** @type {any} */ (api));
  s.mergeList([{ conversation_id: C, kind: "group", name: "Team", members: [ME, "bob"], member_count: 2, last_message: null, last_seq: 0, read_seq: 0, unread: 0 }]);
  return s;
}

const msg = (id, seq, extra = {}) => ({
  message_id: id,
  conversation_id: C,
  seq,
  sender_id: "bob",
  kind: "text",
  body: `body ${id}`,
  reply_to: null,
  created_at: `2025-01-01T00:00:${String(seq).padStart(2, "0")}Z`,
  edited_at: null,
  deleted_at: null,
  thread_root: null,
  thread: null,
  reactions: [],
  attachments: [],
  ...extra,
});

let seq = 100;
/** An event frame of conversation C. */
const ev = (kind, fields = {}, actor = "bob") => {
  seq++;
  return { type: "event", conversation_id: C, seq, prev_seq: seq - 1, event: { kind, actor_id: actor, occurred_at: `2025-01-02T00:00:00Z`, ...fields } };
};
const sent = (id, fields = {}) => ev("message_sent", { message_id: id, sender_id: "bob", body: `body ${id}`, message_kind: "text", reply_to: null, created_at: "2025-01-02T00:00:00Z", ...fields });

const ids = (list) => list.map((m) => m.message_id);

test("thread replies stay out of the timeline, show under their root, and count once", () => {
  const s = store();
  const c = s.convs.get(C);
  s.mergePage(c, { messages: [msg("root", 1), msg("other", 2)], next_before: null });
  s.apply(sent("r1", { thread_root: "root" }));
  s.apply(sent("plain"));
  assert.deepEqual(ids(s.timeline(c)), ["root", "other", "plain"]);
  assert.deepEqual(ids(s.threadReplies(c, "root")), ["r1"]);
  assert.deepEqual(s.convs.get(C).messages.get("root").thread.extra.size, 1);

  // An own reply: pending in the thread only; its ack and its event count it once.
  s.addPending(c, "cm-1", "my reply", null, "root");
  assert.deepEqual(ids(s.timeline(c)), ["root", "other", "plain"]);
  assert.equal(s.threadReplies(c, "root").length, 2);
  s.acknowledged(c, "cm-1", "r2", 200, "2025-01-03T00:00:00Z");
  s.apply(sent("r2", { sender_id: ME, body: "my reply", thread_root: "root" }));
  const root = c.messages.get("root");
  assert.equal(root.thread.base, null);
  assert.deepEqual([...root.thread.extra.keys()].sort(), ["r1", "r2"]);
  assert.deepEqual(ids(s.threadReplies(c, "root")), ["r1", "r2"]);
});

test("a thread's root loaded for the panel stays out of the timeline until a page brings it", () => {
  const s = store();
  const c = s.convs.get(C);
  s.mergePage(c, { messages: [msg("m50", 50), msg("m51", 51)], next_before: 50 });
  s.mergeThread(c, { root: msg("old", 3, { thread: { reply_count: 1, last_reply_seq: 4, last_reply_at: "t" } }), messages: [msg("reply", 4, { thread_root: "old" })] });
  assert.deepEqual(ids(s.timeline(c)), ["m50", "m51"]);
  assert.equal(s.oldestTimelineSeq(c), 50, "older pages continue from the timeline, not from the root");
  assert.equal(c.messages.get("old").thread.base?.reply_count, 1);
  assert.equal(c.messages.get("old").thread.extra.size, 0, "the summary already covers the reply");
  s.mergePage(c, { messages: [msg("old", 3)], next_before: null });
  assert.deepEqual(ids(s.timeline(c)), ["old", "m50", "m51"]);
});

test("reactions from events are idempotent; own ones show at once and are put back when refused", () => {
  const s = store();
  const c = s.convs.get(C);
  s.mergePage(c, { messages: [msg("m", 1, { reactions: [{ emoji: "👍", count: 1, user_ids: ["bob"] }] })], next_before: null });
  const m = c.messages.get("m");
  s.apply(ev("reaction_added", { message_id: "m", emoji: "👍", user_id: "bob" }));
  assert.equal(m.reactions[0].count, 1, "bob's add was already in the page");
  s.apply(ev("reaction_added", { message_id: "m", emoji: "🎉", user_id: "carol" }));

  s.react(c, m, "👍", "add", "cm-a");
  assert.equal(m.reactions[0].count, 2);
  // A page fetched before the reaction reached the projection keeps it shown.
  s.mergePage(c, { messages: [msg("m", 1, { reactions: [{ emoji: "👍", count: 1, user_ids: ["bob"] }] })], next_before: null });
  const again = c.messages.get("m");
  assert.deepEqual(again.reactions.map((r) => [r.emoji, r.count]), [["👍", 2]]);
  s.reactSettled("cm-a", true);
  assert.deepEqual(again.reactions.map((r) => [r.emoji, r.count]), [["👍", 1]]);
  assert.equal(s.reactOps.size, 0);

  // Acknowledged: nothing changes, and its event then changes nothing either.
  s.react(c, again, "🔥", "add", "cm-b");
  s.reactSettled("cm-b", false);
  s.apply(ev("reaction_added", { message_id: "m", emoji: "🔥", user_id: ME }, ME));
  assert.deepEqual(again.reactions.map((r) => [r.emoji, r.count]), [["👍", 1], ["🔥", 1]]);
  s.apply(ev("reaction_removed", { message_id: "m", emoji: "🔥", user_id: ME }, ME));
  assert.deepEqual(again.reactions.map((r) => r.emoji), ["👍"]);
});

test("a live message_sent of a known message keeps its reactions", () => {
  const s = store();
  const c = s.convs.get(C);
  s.mergePage(c, { messages: [msg("m", 101, { reactions: [{ emoji: "👍", count: 1, user_ids: ["bob"] }] })], next_before: null });
  s.apply(sent("m"));
  assert.equal(c.messages.get("m").reactions.length, 1);
});

test("a rename names the conversation, and the lagging list does not undo it", () => {
  const s = store();
  s.apply(ev("conversation_renamed", { name: "Launch crew" }));
  assert.equal(s.title(s.convs.get(C)), "Launch crew");
  s.mergeList([{ conversation_id: C, kind: "group", name: "Team", members: [ME, "bob"], last_message: null, last_seq: 0, read_seq: 0, unread: 0 }]);
  assert.equal(s.title(s.convs.get(C)), "Launch crew");
});

test("pins follow events; a pin of an unknown message asks for the list; a delete unpins", () => {
  const s = store();
  const c = s.convs.get(C);
  s.mergePage(c, { messages: [msg("a", 1), msg("b", 2)], next_before: null });
  s.apply(ev("message_pinned", { message_id: "a" }));
  assert.equal(c.pins, null, "not fetched yet: nothing to change");
  s.setPins(c, []);
  s.apply(ev("message_pinned", { message_id: "a" }));
  s.apply(ev("message_pinned", { message_id: "b" }));
  assert.deepEqual(c.pins.map((p) => p.message_id).sort(), ["a", "b"]);
  assert.equal(c.pins.find((p) => p.message_id === "a").message.body, "body a");
  assert.equal(c.pinsStale, false);
  s.apply(ev("message_pinned", { message_id: "unknown" }));
  assert.equal(c.pinsStale, true);
  s.apply(ev("message_unpinned", { message_id: "b" }));
  s.apply(ev("message_edited", { message_id: "a", body: "edited", edited_at: "t" }));
  assert.equal(c.pins.find((p) => p.message_id === "a").message.body, "edited");
  s.apply(ev("message_deleted", { message_id: "a", deleted_at: "t" }));
  assert.deepEqual(c.pins.map((p) => p.message_id), ["unknown"]);
});

test("members: added and removed by events; a large group's count moves for unlisted members", () => {
  const s = store();
  const c = s.convs.get(C);
  s.apply(ev("member_added", { user_id: "carol" }));
  assert.deepEqual(c.members, [ME, "bob", "carol"]);
  assert.equal(c.memberCount, 3);
  s.apply(ev("member_removed", { user_id: "bob" }));
  assert.deepEqual(c.members, [ME, "carol"]);
  assert.equal(c.memberCount, 2);
  c.memberCount = 40;
  s.apply(ev("member_removed", { user_id: "not-listed" }));
  assert.equal(c.memberCount, 39);
});

test("leaving: the conversation goes, the lagging list does not bring it back, being added again does", () => {
  const s = store();
  const c = s.convs.get(C);
  s.openId = C;
  s.leave(c);
  assert.equal(s.convs.has(C), false);
  assert.equal(s.openId, null);
  s.mergeList([{ conversation_id: C, kind: "group", name: "Team", members: [ME, "bob"], last_message: null, last_seq: 0, read_seq: 0, unread: 0 }]);
  assert.equal(s.convs.has(C), false);
  s.apply(ev("member_removed", { user_id: ME }));
  assert.equal(s.unknownSeen.has(C), false, "the own removal's event is the tail of leaving");
  s.apply(ev("member_added", { user_id: ME }));
  assert.equal(s.left.has(C), false);
  assert.equal(s.unknownSeen.has(C), true, "the list is fetched to show it again");
  s.mergeList([{ conversation_id: C, kind: "group", name: "Team", members: [ME, "bob"], last_message: null, last_seq: 0, read_seq: 0, unread: 0 }]);
  assert.equal(s.convs.has(C), true);
});

test("removed by someone else: gone like leaving", () => {
  const s = store();
  s.apply(ev("member_removed", { user_id: ME }));
  assert.equal(s.convs.has(C), false);
  assert.equal(s.left.has(C), true);
});

test("v1.2: a page that says a message is erased empties it, whatever was known before", () => {
  const s = store();
  const c = s.convs.get(C);
  s.apply(sent("e", { attachments: [{ attachment_id: "a", filename: "f.pdf", content_type: "application/pdf", size_bytes: 3, url: "u" }] }));
  assert.equal(c.messages.get("e").body, "body e");
  s.mergePage(c, { messages: [msg("e", seq, { body: null, attachments: [], erased: true })], next_before: null });
  const m = c.messages.get("e");
  assert.equal(m.erased, true);
  assert.equal(m.body, null);
  assert.deepEqual(m.attachments, []);
});

test("v1.2: a replayed message_sent that is erased arrives empty", () => {
  const s = store();
  const c = s.convs.get(C);
  s.apply(sent("r", { body: null, erased: true, attachments: [] }));
  const m = c.messages.get("r");
  assert.equal(m.erased, true);
  assert.equal(m.body, null);
});

test("v1.3: retention from the list, then retention_set, which a lagging list does not undo", () => {
  const s = store();
  const c = s.convs.get(C);
  assert.equal(c.retentionDays, null, "a list without retention_days (older server) means none");
  const listed = (days) => ({ conversation_id: C, kind: "group", name: "Team", members: [ME, "bob"], last_message: null, last_seq: 0, read_seq: 0, unread: 0, retention_days: days });
  s.mergeList([listed(30)]);
  assert.equal(c.retentionDays, 30, "before any event, the list says what it is");

  s.apply(ev("retention_set", { days: 7 }));
  assert.equal(c.retentionDays, 7);
  s.mergeList([listed(30)]);
  assert.equal(c.retentionDays, 7, "the list trails the log: the event is newer");

  s.apply(ev("retention_set", { days: null }));
  assert.equal(c.retentionDays, null, "turned off");
  s.mergeList([listed(7)]);
  assert.equal(c.retentionDays, null);

  s.apply(ev("retention_set", { days: "soon" }));
  s.apply(ev("retention_set", {}));
  assert.equal(c.retentionDays, null, "a malformed or missing days is ignored, not read as a value");
  s.apply(ev("retention_set", { days: 90 }));
  assert.equal(c.retentionDays, 90);

  // A conversation first listed with it.
  const t = new Store(ME, "me", /** @type {any} */ (api));
  t.mergeList([listed(365)]);
  assert.equal(t.convs.get(C).retentionDays, 365);
});

test("v1.3: the own change (204) holds against a lagging list, like its event", () => {
  const s = store();
  const c = s.convs.get(C);
  s.retentionSet(c, 14);
  s.mergeList([{ conversation_id: C, kind: "group", name: "Team", members: [ME, "bob"], last_message: null, last_seq: 0, read_seq: 0, unread: 0, retention_days: null }]);
  assert.equal(c.retentionDays, 14);
});

test("v1.3: conversation_content_expired erases only this conversation's messages sent before `before`", () => {
  const s = store();
  const c = s.convs.get(C);
  s.mergeList([{ conversation_id: "conv-2", kind: "group", name: "Other", members: [ME, "bob"], last_message: null, last_seq: 0, read_seq: 0, unread: 0 }]);
  const other = s.convs.get("conv-2");
  const att = [{ attachment_id: "a", filename: "f.pdf", content_type: "application/pdf", size: 3, url: "u" }];
  s.mergePage(c, {
    messages: [
      msg("old", 1, { created_at: "2025-01-01T00:00:01Z", attachments: att }),
      msg("nanos", 2, { created_at: "2025-01-01T23:59:59.999999999Z" }),
      msg("edge", 3, { created_at: "2025-01-02T00:00:00Z" }),
      msg("new", 4, { created_at: "2025-01-03T10:00:00.5+02:00" }),
      msg("undated", 5, { created_at: null }),
    ],
    next_before: null,
  });
  s.mergeThread(c, { root: msg("old", 1, { created_at: "2025-01-01T00:00:01Z" }), messages: [msg("reply-old", 6, { thread_root: "old", created_at: "2025-01-01T12:00:00Z" })] });
  s.mergePage(other, { messages: [{ ...msg("elsewhere", 1, { created_at: "2025-01-01T00:00:01Z" }), conversation_id: "conv-2" }], next_before: null });
  s.setPins(c, [{ message: msg("old", 1, { created_at: "2025-01-01T00:00:01Z" }), pinned_by: "bob", pinned_at: "t" }, { message: msg("new", 4, { created_at: "2025-01-03T10:00:00Z" }), pinned_by: "bob", pinned_at: "t" }]);
  c.last = { message_id: "old", sender_id: "bob", body: "body old", created_at: "2025-01-01T00:00:01Z" };
  const pending = s.addPending(c, "cm-p", "not sent yet", null);

  s.apply(ev("conversation_content_expired", { before: "2025-01-02T00:00:00Z" }, "operator"));

  const erased = (id) => {
    const m = c.messages.get(id);
    return m.erased === true && m.body === null && m.attachments.length === 0;
  };
  assert.ok(erased("old"));
  assert.ok(erased("nanos"), "nanoseconds below `before` count, though Date keeps milliseconds");
  assert.ok(erased("reply-old"), "thread replies too");
  assert.equal(c.messages.get("edge").erased, undefined, "sent at `before` exactly: kept");
  assert.equal(c.messages.get("edge").body, "body edge");
  assert.equal(c.messages.get("new").body, "body new");
  assert.equal(c.messages.get("undated").body, "body undated", "an unknown time is not erased");
  assert.equal(pending.body, "not sent yet");
  assert.equal(other.messages.get("elsewhere").body, "body elsewhere", "another conversation is untouched");
  assert.equal(other.messages.get("elsewhere").erased, undefined);
  assert.deepEqual(c.last, { message_id: "old", sender_id: "bob", body: null, created_at: "2025-01-01T00:00:01Z", erased: true });
  const pins = Object.fromEntries(c.pins.map((p) => [p.message_id, p.message]));
  assert.equal(pins.old.erased, true);
  assert.equal(pins.old.body, null);
  assert.equal(pins.new.body, "body new");

  // A later page agrees (erased), and a replay of an old message_sent does not bring the text back.
  s.apply(sent("old", { created_at: "2025-01-01T00:00:01Z", body: null, erased: true, attachments: [] }));
  assert.ok(erased("old"));

  // An event without `before` changes nothing.
  s.apply(ev("conversation_content_expired", {}, "operator"));
  assert.equal(c.messages.get("new").body, "body new");
});
