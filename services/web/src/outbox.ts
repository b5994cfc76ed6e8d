// The outbox: own sends, edits and deletes, kept until the server acknowledges them.
//
// Each action carries a client_msg_id. It is sent at once when the socket is ready, and
// sent again, with the same client_msg_id, every time the socket becomes ready until its
// ack comes. The gateway answers a repeated client_msg_id with the first ack, so a lost
// ack never applies an action twice; a second ack for the same id is ignored here.
// `unavailable` means "try again" (PROTOCOL.md): it is retried a few times with growing
// delays. Any other error code, or `unavailable` once the retries are used up, ends the
// action and the caller is told why.
//
// No DOM and no socket here: the caller passes how to send a frame and what to do when
// an action is confirmed or refused, so the rules are unit-tested on their own
// (test/outbox.test.mjs).

import type { ClientFrame } from "./protocol";

/** A frame the server acknowledges: a send, an edit or a delete. */
export type OutboxFrame = Extract<ClientFrame, { client_msg_id: string }>;

/** For an edit or a delete: the message as it was, to put back if the server refuses. */
export interface Undo {
  body: string | null;
  edited_at: string | null;
  deleted_at: string | null;
}

/** An action waiting for its ack. */
export interface PendingAction {
  readonly frame: OutboxFrame;
  readonly undo?: Undo;
  /** `unavailable` refusals retried so far. */
  retries: number;
}

/** What the outbox reads of an `ack` frame. */
export interface Ack {
  client_msg_id: string;
  message_id: string;
  seq: number;
  ts: string;
}

export interface OutboxOptions {
  /** Send a frame; false when the socket is not ready (the action waits for `resendAll`). */
  send: (frame: OutboxFrame) => boolean;
  /** The server confirmed an action (called once per action, for its first ack). */
  acked: (action: PendingAction, ack: Ack) => void;
  /** The server refused an action for good, with its error frame's code and message. */
  failed: (action: PendingAction, code: string, message: string) => void;
  /** Run `f` after `ms` (a seam for tests). */
  later?: (f: () => void, ms: number) => void;
}

/** How many `unavailable` refusals of one action are retried before it fails. */
export const UNAVAILABLE_RETRIES = 5;

/** The wait before the n-th retry (n from 1): 1 s, 2 s, 3 s, ... */
export function retryDelayMs(n: number): number {
  return 1000 * n;
}

export class Outbox {
  /** By client_msg_id, in the order the actions were made (resent in that order). */
  private readonly pending = new Map<string, PendingAction>();
  private readonly later: (f: () => void, ms: number) => void;

  constructor(private readonly opts: OutboxOptions) {
    this.later = opts.later ?? ((f, ms) => void setTimeout(f, ms));
  }

  get size(): number {
    return this.pending.size;
  }

  has(clientMsgId: string): boolean {
    return this.pending.has(clientMsgId);
  }

  /**
   * Keep an action until its ack, and send it now if the socket is ready. Adding a
   * client_msg_id that failed before (Retry) starts its retries afresh.
   */
  add(frame: OutboxFrame, undo?: Undo): void {
    this.pending.set(frame.client_msg_id, { frame, undo, retries: 0 });
    this.opts.send(frame);
  }

  /** The socket is ready again: every action not acknowledged yet goes again. */
  resendAll(): void {
    for (const a of this.pending.values()) this.opts.send(a.frame);
  }

  /** An `ack` frame. False when it settles nothing (a repeated ack, or not ours). */
  ack(ack: Ack): boolean {
    const action = this.pending.get(ack.client_msg_id);
    if (!action) return false;
    this.pending.delete(ack.client_msg_id);
    this.opts.acked(action, ack);
    return true;
  }

  /**
   * An `error` frame. False when `ref` names no action waiting here (errors about frames
   * that carry no client_msg_id: read, typing, sync).
   */
  error(code: string, message: string, ref: string): boolean {
    const action = this.pending.get(ref);
    if (!action) return false;
    if (code === "unavailable" && action.retries < UNAVAILABLE_RETRIES) {
      // Safe to retry with the same client_msg_id (PROTOCOL.md). The action stays in the
      // outbox meanwhile, so a reconnect before the timer also resends it; a duplicate
      // is answered with the first ack, which `ack` then ignores.
      action.retries++;
      this.later(() => this.opts.send(action.frame), retryDelayMs(action.retries));
      return true;
    }
    this.pending.delete(ref);
    this.opts.failed(action, code, message);
    return true;
  }
}
