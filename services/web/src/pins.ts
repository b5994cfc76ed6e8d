// A conversation's pins (protocol v1.1): newest first, at most one entry per message.
// `GET .../pins` gives the whole list; the live `message_pinned` and `message_unpinned`
// events change it. A pin event names only the message, so when that message is not
// known here the entry has no message yet and the list is fetched again.
//
// No DOM here (test/pins.test.mjs).

import type { Message, WirePin } from "./protocol";

/** Pins a conversation may have (the server refuses more). */
export const MAX_PINS = 100;

export interface Pin {
  message_id: string;
  /** The message as the pins list (or this client) knows it; null until fetched. */
  message: Message | null;
  pinned_by: string;
  pinned_at: string;
}

export function fromWire(list: readonly WirePin[] | null | undefined): Pin[] {
  const out: Pin[] = [];
  for (const p of list ?? []) {
    if (!p?.message?.message_id || out.some((x) => x.message_id === p.message.message_id)) continue;
    out.push({ message_id: p.message.message_id, message: p.message, pinned_by: p.pinned_by, pinned_at: p.pinned_at });
  }
  return sortPins(out);
}

/** Newest first; a pin without a time (never from the server) goes first. */
export function sortPins(pins: Pin[]): Pin[] {
  return pins.sort((a, b) => (b.pinned_at || "\uffff").localeCompare(a.pinned_at || "\uffff"));
}

/** Pinned (again): the entry moves to the front with the new pinner and time. */
export function addPin(pins: readonly Pin[], pin: Pin): Pin[] {
  const old = pins.find((p) => p.message_id === pin.message_id);
  const entry = { ...pin, message: pin.message ?? old?.message ?? null };
  return sortPins([entry, ...pins.filter((p) => p.message_id !== pin.message_id)]);
}

export function removePin(pins: readonly Pin[], messageId: string): Pin[] {
  return pins.filter((p) => p.message_id !== messageId);
}

export function isPinned(pins: readonly Pin[] | null, messageId: string): boolean {
  return !!pins && pins.some((p) => p.message_id === messageId);
}

/** Keep a pinned message's copy up to date with an edit. */
export function editPinned(pins: readonly Pin[], messageId: string, body: string | null, editedAt: string | null): Pin[] {
  return pins.map((p) => (p.message_id === messageId && p.message ? { ...p, message: { ...p.message, body, edited_at: editedAt } } : p));
}

/** Pinned copies of messages whose content was erased (retention) lose it too. */
export function erasePinned(pins: readonly Pin[], erased: (m: Message) => boolean): Pin[] {
  return pins.map((p) => (p.message && erased(p.message) ? { ...p, message: { ...p.message, body: null, attachments: [], erased: true } } : p));
}
