// Message search (protocol v1.1): `GET /api/v1/search?q=`; `q` is 1 to 256 characters.
// Results carry `highlights`, plain strings shown as text.
//
// No DOM here (test/search.test.mjs).

import type { SearchResult } from "./protocol";

export const MAX_QUERY = 256;

/** The query to send, or why there is none. */
export function searchQuery(input: string): { ok: true; q: string } | { ok: false; reason: string } {
  const q = input.trim();
  if (q.length === 0) return { ok: false, reason: "Type something to search for." };
  if ([...q].length > MAX_QUERY) return { ok: false, reason: `A search is at most ${MAX_QUERY} characters.` };
  return { ok: true, q };
}

/** The text a result shows: its highlights, else the start of the body. */
export function resultText(r: SearchResult, max = 160): string {
  const parts = (Array.isArray(r.highlights) ? r.highlights : []).filter((x) => typeof x === "string" && x.trim() !== "");
  const text = parts.length ? parts.join(" … ") : (r.message?.body ?? "");
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

export function resultsLabel(n: number, more: boolean): string {
  if (n === 0) return "No messages match.";
  const base = n === 1 ? "1 message" : `${n} messages`;
  return more ? `${base} so far` : base;
}
