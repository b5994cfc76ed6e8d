// Thread summaries (protocol v1.1): the "3 replies" under a root. The server's summary
// (`thread` on the root in a history page) covers every reply up to its
// `last_reply_seq`. Replies that arrive live after it are counted here on top, each
// once, by message_id, whatever order acks and events come in. A later summary from the
// server replaces the base and drops what it already covers.
//
// No DOM here (test/threads.test.mjs).

import type { ThreadSummary } from "./protocol";

export interface ThreadState {
  /** The server's summary, or null (no replies as far as it said). */
  base: ThreadSummary | null;
  /** Replies seen here that the base does not cover: message_id -> seq and time. */
  extra: Map<string, { seq: number; at: string | null }>;
}

export function threadState(summary?: ThreadSummary | null): ThreadState {
  return { base: valid(summary) ? { ...summary } : null, extra: new Map() };
}

function valid(s: ThreadSummary | null | undefined): s is ThreadSummary {
  return !!s && Number.isFinite(s.reply_count) && Number.isFinite(s.last_reply_seq);
}

/** A reply (by id and seq) to this root arrived. Returns whether the summary changed. */
export function noteReply(t: ThreadState, replyId: string, seq: number, at: string | null): boolean {
  if (t.base && seq <= t.base.last_reply_seq) return false;
  if (t.extra.has(replyId)) return false;
  t.extra.set(replyId, { seq, at });
  return true;
}

/** A summary from the server (a page, a thread page, a replay). The newer one wins. */
export function mergeSummary(t: ThreadState, s: ThreadSummary | null | undefined): void {
  if (!valid(s)) return;
  if (t.base && s.last_reply_seq < t.base.last_reply_seq) return;
  t.base = { ...s };
  for (const [id, r] of t.extra) if (r.seq <= s.last_reply_seq) t.extra.delete(id);
}

/** The summary to show, or null when there are no replies. */
export function summary(t: ThreadState): ThreadSummary | null {
  let count = t.base?.reply_count ?? 0;
  let lastSeq = t.base?.last_reply_seq ?? -1;
  let lastAt = t.base?.last_reply_at ?? null;
  for (const r of t.extra.values()) {
    count++;
    if (r.seq > lastSeq) {
      lastSeq = r.seq;
      lastAt = r.at;
    }
  }
  return count > 0 ? { reply_count: count, last_reply_seq: lastSeq, last_reply_at: lastAt } : null;
}

export function repliesLabel(n: number): string {
  return n === 1 ? "1 reply" : `${n} replies`;
}

/** Thread pages fetched at most when following `next_after` (200 replies a page). */
export const MAX_THREAD_PAGES = 50;

/**
 * Every reply of a thread, oldest first: the first page, then `next_after` until it is
 * null (or stops moving forward).
 */
export async function allReplies<R, M extends { seq: number }>(
  fetchPage: (after: number | null) => Promise<{ root: R; messages: M[]; next_after: number | null }>,
): Promise<{ root: R; messages: M[] }> {
  const first = await fetchPage(null);
  const messages = [...first.messages];
  let after = first.next_after;
  for (let i = 1; i < MAX_THREAD_PAGES && after !== null && after !== undefined; i++) {
    const page = await fetchPage(after);
    messages.push(...page.messages);
    if (page.next_after !== null && page.next_after !== undefined && page.next_after <= after) break;
    after = page.next_after;
  }
  return { root: first.root, messages };
}
