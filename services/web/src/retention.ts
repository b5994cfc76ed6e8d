// Per-conversation retention, "disappearing messages" (protocol v1.3): a group's admins
// set how many days its messages are kept (`PUT .../retention`); the server erases older
// ones once a day (crypto-shredding) and then appends `conversation_content_expired`
// with the instant before which everything of the conversation is gone.
//
// No DOM here (test/retention.test.mjs).

/** The durations the settings offer, in days (Off is null). */
export const RETENTION_CHOICES: readonly number[] = [1, 7, 30, 90, 365];

/**
 * A retention from the wire: a whole number of days, or null for none. Anything else
 * (absent on a server older than v1.3, malformed) is `undefined`, so a caller can tell
 * "cleared" from "not said".
 */
export function retentionFromWire(v: unknown): number | null | undefined {
  if (v === null) return null;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
  return undefined;
}

/** What the select offers: Off, the usual durations, and the current one if it is another. */
export function retentionChoices(current: number | null): (number | null)[] {
  const days = [...RETENTION_CHOICES];
  if (current !== null && !days.includes(current)) days.push(current);
  days.sort((a, b) => a - b);
  return [null, ...days];
}

/** "Off", "1 day", "7 days". */
export function retentionLabel(days: number | null): string {
  if (days === null) return "Off";
  return days === 1 ? "1 day" : `${days} days`;
}

/** The header's note: "" when the group keeps messages (only the platform's retention applies). */
export function retentionNote(days: number | null): string {
  return days === null ? "" : `Messages disappear after ${retentionLabel(days)}`;
}

/** A select's value for `days` ("" is Off), and back. */
export function retentionValue(days: number | null): string {
  return days === null ? "" : String(days);
}

export function retentionFromValue(value: string): number | null {
  if (value === "") return null;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : null;
}

/**
 * Whether a message created at `createdAt` is older than `before` (both RFC 3339). The
 * server writes up to nanoseconds and `Date` keeps milliseconds, so equal milliseconds
 * are settled by the digits beyond them. An unknown or unreadable time is not older: a
 * message is only marked erased when it certainly is.
 */
export function createdBefore(createdAt: string | null | undefined, before: string): boolean {
  if (!createdAt) return false;
  const a = Date.parse(createdAt);
  const b = Date.parse(before);
  if (Number.isNaN(a) || Number.isNaN(b)) return false;
  if (a !== b) return a < b;
  return subMillis(createdAt) < subMillis(before);
}

/** The fraction of a second beyond the milliseconds, in nanoseconds (0 to 999999). */
function subMillis(t: string): number {
  const digits = /\.(\d+)/.exec(t)?.[1] ?? "";
  return Number(`${digits.slice(3, 9)}000000`.slice(0, 6));
}
