// The receipts this client sends about messages from other people.
//
// delivered: every message from someone else that reaches this client, live or replayed,
// moves its conversation's wanted delivered position forward (never back). A burst of
// messages makes one receipt per conversation, not one per message: the first arrival
// starts a short timer, and when it fires each conversation whose wanted position is
// past what was already sent gets one receipt, up to its highest seq. A receipt the
// socket could not take waits for the socket to be ready again.
//
// read: the person has seen a conversation when it is open and the page is visible. A
// read receipt, up to the conversation's newest message, is sent when a message from
// someone else arrives in it, when the page becomes visible again, when it is opened
// and when the socket is ready again; only if something is unread.
//
// Own messages never get a receipt from here: sending moves the sender's own pointers.
//
// No DOM and no socket here: the caller passes how to send, what is open, whether the
// page is visible and where reading stands, so the rules are unit-tested on their own
// (test/receipts.test.mjs).

import type { ClientFrame } from "./protocol";

export type ReceiptFrame = Extract<ClientFrame, { type: "read" | "delivered" }>;

/** Where the signed-in user's reading of one conversation stands. */
export interface ReadState {
  /** The highest seq of a message this client has in it; -1 when it has none. */
  newestSeq: number;
  /** The signed-in user's read position. */
  readSeq: number;
  unread: number;
}

export interface ReceiptOptions {
  /** The signed-in user: messages from them get no receipt. */
  me: string;
  /** Send a receipt; false when the socket is not ready. */
  send: (frame: ReceiptFrame) => boolean;
  /** The conversation open on screen, or null. */
  openId: () => string | null;
  /** Whether the page is visible (document.visibilityState). */
  visible: () => boolean;
  /** Where reading stands in a conversation; null when the conversation is not known. */
  readState: (conversationId: string) => ReadState | null;
  /** A read receipt up to `seq` went out: record it (read position, unread count). */
  markedRead: (conversationId: string, seq: number) => void;
  /** Run `f` after `ms` (a seam for tests). */
  later?: (f: () => void, ms: number) => void;
}

/** How long delivered receipts wait to be batched. */
export const DELIVERED_BATCH_MS = 100;

export class Receipts {
  /** Per conversation: the highest seq from someone else that reached this client. */
  private readonly deliveredWanted = new Map<string, number>();
  /** Per conversation: the highest seq a delivered receipt was sent for. */
  private readonly deliveredSent = new Map<string, number>();
  private flushQueued = false;
  private readonly later: (f: () => void, ms: number) => void;

  constructor(private readonly opts: ReceiptOptions) {
    this.later = opts.later ?? ((f, ms) => void setTimeout(f, ms));
  }

  /** A message (live or replayed) at `seq` from `sender` was applied. */
  messageArrived(conversationId: string, seq: number, sender: string): void {
    if (sender === this.opts.me) return;
    this.wantDelivered(conversationId, seq);
    if (this.isReading(conversationId)) this.read(conversationId);
  }

  /** Whether the person is looking at the conversation now. */
  isReading(conversationId: string): boolean {
    return this.opts.openId() === conversationId && this.opts.visible();
  }

  /**
   * Send a read receipt up to the newest message if anything is unread. The caller
   * decides the person sees it (opening it counts). True when a receipt went out.
   */
  read(conversationId: string): boolean {
    const s = this.opts.readState(conversationId);
    if (!s || s.newestSeq < 0) return false;
    if (s.newestSeq <= s.readSeq && s.unread <= 0) return false;
    if (!this.opts.send({ type: "read", conversation_id: conversationId, up_to_seq: s.newestSeq })) return false;
    this.opts.markedRead(conversationId, s.newestSeq);
    return true;
  }

  /** The page's visibility changed: a visible page reads the open conversation. */
  visibilityChanged(): void {
    if (!this.opts.visible()) return;
    const open = this.opts.openId();
    if (open !== null) this.read(open);
  }

  /**
   * The socket is ready (again): send the delivered receipts it could not take, and
   * read the open conversation (a read refused while offline goes now). Unlike a live
   * arrival, this does not check that the page is visible.
   */
  socketReady(): void {
    this.flushDelivered();
    const open = this.opts.openId();
    if (open !== null) this.read(open);
  }

  private wantDelivered(conversationId: string, seq: number): void {
    if (seq <= (this.deliveredWanted.get(conversationId) ?? -1)) return;
    this.deliveredWanted.set(conversationId, seq);
    if (this.flushQueued) return;
    this.flushQueued = true;
    this.later(() => {
      this.flushQueued = false;
      this.flushDelivered();
    }, DELIVERED_BATCH_MS);
  }

  /** Send, per conversation, what is wanted and not sent yet. */
  private flushDelivered(): void {
    for (const [c, seq] of this.deliveredWanted) {
      if (seq > (this.deliveredSent.get(c) ?? -1) && this.opts.send({ type: "delivered", conversation_id: c, up_to_seq: seq })) {
        this.deliveredSent.set(c, seq);
      }
    }
  }
}
