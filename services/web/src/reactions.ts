// Reactions on one message: per emoji, the set of people who reacted, ordered by first
// use (protocol v1.1). Applying is idempotent, because the same change can reach the
// client more than once (a live event after a history page that already had it, a
// replay, the own optimistic change and then its event): adding someone who is already
// there, or removing someone who is not, changes nothing.
//
// A message's `reactions` lists at most the first 100 `user_ids` of an emoji while
// `count` says how many there are. Beyond those, who reacted is unknown here: an add
// from an unknown user counts one more and a remove from one counts one less.
//
// No DOM here (test/reactions.test.mjs).

import type { WireReaction } from "./protocol";

/** Distinct emoji one message may carry (`too_many_reactions` beyond). */
export const MAX_DISTINCT_REACTIONS = 50;

export interface Reaction {
  emoji: string;
  count: number;
  users: Set<string>;
}

/** A chip under a message. */
export interface Chip {
  emoji: string;
  count: number;
  /** The signed-in user reacted with this emoji. */
  mine: boolean;
  /** Who reacted, as far as known (the first 100). */
  users: string[];
}

export function fromWire(list: readonly WireReaction[] | null | undefined): Reaction[] {
  const out: Reaction[] = [];
  for (const r of list ?? []) {
    if (!r || typeof r.emoji !== "string") continue;
    const users = new Set(Array.isArray(r.user_ids) ? r.user_ids : []);
    const count = Math.max(Number.isFinite(r.count) ? r.count : 0, users.size);
    if (count > 0 && !out.some((x) => x.emoji === r.emoji)) out.push({ emoji: r.emoji, count, users });
  }
  return out;
}

/** `user` reacted with `emoji`. Returns whether anything changed. */
export function addReaction(list: Reaction[], emoji: string, user: string): boolean {
  const r = list.find((x) => x.emoji === emoji);
  if (!r) {
    list.push({ emoji, count: 1, users: new Set([user]) });
    return true;
  }
  if (r.users.has(user)) return false;
  r.users.add(user);
  r.count++;
  return true;
}

/** `user` took back `emoji`. Returns whether anything changed. */
export function removeReaction(list: Reaction[], emoji: string, user: string): boolean {
  const i = list.findIndex((x) => x.emoji === emoji);
  if (i < 0) return false;
  const r = list[i];
  if (r.users.has(user)) r.users.delete(user);
  else if (r.count > r.users.size) {
    // Someone beyond the listed first 100.
  } else return false;
  r.count--;
  if (r.count <= 0) list.splice(i, 1);
  return true;
}

export function hasReacted(list: readonly Reaction[], emoji: string, user: string): boolean {
  return list.some((x) => x.emoji === emoji && x.users.has(user));
}

/** What pressing a chip (or picking an emoji) does: take it back if it is mine, else add. */
export function toggleOp(list: readonly Reaction[], emoji: string, me: string): "add" | "remove" {
  return hasReacted(list, emoji, me) ? "remove" : "add";
}

/** Adding this emoji would go over the distinct-emoji limit. */
export function wouldExceed(list: readonly Reaction[], emoji: string): boolean {
  return !list.some((x) => x.emoji === emoji) && list.length >= MAX_DISTINCT_REACTIONS;
}

export function chips(list: readonly Reaction[], me: string): Chip[] {
  return list.map((r) => ({ emoji: r.emoji, count: r.count, mine: r.users.has(me), users: [...r.users] }));
}

/** Apply an add or remove. */
export function applyReaction(list: Reaction[], op: "add" | "remove", emoji: string, user: string): boolean {
  return op === "add" ? addReaction(list, emoji, user) : removeReaction(list, emoji, user);
}
