// What may be a reaction (protocol v1.1): one Unicode emoji (a single extended grapheme
// cluster that is an emoji) or a `:shortcode:` of 1 to 32 characters [a-z0-9_+-].
// The server decides (`invalid_emoji`); checking here first lets the picker explain the
// rule at once instead of after a round trip.
//
// No DOM here (test/emoji.test.mjs).

/** The reactions the picker offers without typing, each with a name for screen readers. */
export const COMMON_REACTIONS: readonly { emoji: string; name: string; codes: readonly string[] }[] = [
  { emoji: "👍", name: "thumbs up", codes: ["+1", "thumbsup"] },
  { emoji: "❤️", name: "red heart", codes: ["heart"] },
  { emoji: "😂", name: "face with tears of joy", codes: ["joy"] },
  { emoji: "🎉", name: "party popper", codes: ["tada"] },
  { emoji: "😮", name: "face with open mouth", codes: ["open_mouth"] },
  { emoji: "😢", name: "crying face", codes: ["cry"] },
  { emoji: "🙏", name: "folded hands", codes: ["pray"] },
  { emoji: "👀", name: "eyes", codes: ["eyes"] },
  { emoji: "✅", name: "check mark", codes: ["white_check_mark"] },
  { emoji: "🔥", name: "fire", codes: ["fire"] },
];

const SHORTCODE = /^:[a-z0-9_+-]{1,32}:$/;

// A shortcode of an emoji the picker offers becomes that emoji, so ":+1:" and the
// 👍 button add the same reaction rather than two different ones.
const KNOWN_CODES = new Map<string, string>(COMMON_REACTIONS.flatMap((r) => r.codes.map((c) => [`:${c}:`, r.emoji] as [string, string])));

// Emoji proper (pictographs, including text-default ones like ❤ and ©), a flag (two
// regional indicators) or a keycap (digit, # or * with U+20E3).
const EMOJI = /\p{Extended_Pictographic}|^\p{Regional_Indicator}{2}$|^[0-9#*]\uFE0F?\u20E3$/u;

let segmenter: Intl.Segmenter | null = null;

function graphemes(s: string): number {
  segmenter ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
  let n = 0;
  for (const _ of segmenter.segment(s)) n++;
  return n;
}

export function isShortcode(s: string): boolean {
  return SHORTCODE.test(s);
}

/** One extended grapheme cluster that is an emoji. */
export function isEmoji(s: string): boolean {
  return s.length > 0 && graphemes(s) === 1 && EMOJI.test(s);
}

/** What the contract accepts as a reaction's `emoji`, exactly as given. */
export function isValidReaction(s: string): boolean {
  return isShortcode(s) || isEmoji(s);
}

/** The accessible name of a reaction: the picker's name for a common one, else itself. */
export function reactionName(emoji: string): string {
  return COMMON_REACTIONS.find((r) => r.emoji === emoji)?.name ?? emoji;
}

export type ParsedReaction = { ok: true; emoji: string } | { ok: false; reason: string };

/**
 * What someone typed into the picker: surrounding space is dropped, a shortcode is
 * lower-cased, and a shortcode of a common emoji becomes that emoji.
 */
export function parseReaction(input: string): ParsedReaction {
  const t = input.trim();
  if (t === "") return { ok: false, reason: "Type an emoji or a :shortcode:." };
  if (t.startsWith(":") && t.length > 1) {
    const code = t.toLowerCase();
    const known = KNOWN_CODES.get(code);
    if (known) return { ok: true, emoji: known };
    if (isShortcode(code)) return { ok: true, emoji: code };
    return { ok: false, reason: "A :shortcode: is 1 to 32 letters a to z, digits, _, + or - between two colons." };
  }
  if (isEmoji(t)) return { ok: true, emoji: t };
  return { ok: false, reason: "That is not a single emoji. Type one emoji, or a :shortcode: like :tada:." };
}
