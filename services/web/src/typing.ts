// Typing indicators, both ways.
//
// Own typing (TypingSender): `start` goes at the first keystroke and again every few
// seconds while the person keeps typing, so the others' indicator does not expire.
// `stop` goes a few seconds after the last keystroke, when the composer is emptied, on
// send and on switching conversations.
//
// Others' typing (noteTyping): a `start` shows the person as typing until their `stop`,
// or until a while has passed without one (a lost `stop` must not leave them "typing"
// for ever).
//
// No DOM and no socket here: the caller passes how to send and, in tests, the clock and
// timers (test/typing.test.mjs).

export type TimerId = ReturnType<typeof setTimeout>;

export interface Timers {
  set: (f: () => void, ms: number) => TimerId;
  clear: (id: TimerId) => void;
}

const realTimers: Timers = {
  set: (f, ms) => setTimeout(f, ms),
  clear: (id) => clearTimeout(id),
};

/** While typing goes on, `start` is sent again after this long. */
export const TYPING_REFRESH_MS = 3000;
/** `stop` goes this long after the last keystroke. */
export const TYPING_IDLE_MS = 4000;
/** A `start` the server never followed with a `stop` is dropped after this. */
export const TYPING_FORGET_MS = 8000;

export interface TypingSenderOptions {
  /** Send a typing frame; false when the socket is not ready. */
  send: (conversationId: string, state: "start" | "stop") => boolean;
  now?: () => number;
  timers?: Timers;
}

export class TypingSender {
  /** The conversation a `start` was sent for (and no `stop` yet), or null. */
  private conv: string | null = null;
  private sentAt = 0;
  private idle: TimerId | null = null;
  private readonly now: () => number;
  private readonly timers: Timers;

  constructor(private readonly opts: TypingSenderOptions) {
    this.now = opts.now ?? Date.now;
    this.timers = opts.timers ?? realTimers;
  }

  /** The composer of a conversation changed; `empty` when it holds only white space. */
  input(conversationId: string, empty: boolean): void {
    if (empty) {
      this.stop();
      return;
    }
    const now = this.now();
    if (this.conv !== conversationId || now - this.sentAt > TYPING_REFRESH_MS) {
      // Not sent (socket down): the next keystroke tries again.
      if (this.opts.send(conversationId, "start")) {
        this.sentAt = now;
        this.conv = conversationId;
      }
    }
    if (this.idle !== null) this.timers.clear(this.idle);
    this.idle = this.timers.set(() => this.stop(), TYPING_IDLE_MS);
  }

  /** Typing ended (sent, emptied, idle, or another conversation opened). */
  stop(): void {
    if (this.idle !== null) this.timers.clear(this.idle);
    this.idle = null;
    if (this.conv) this.opts.send(this.conv, "stop");
    this.conv = null;
    this.sentAt = 0;
  }
}

/**
 * Someone else's `typing` frame in a conversation whose typists are `typing` (each
 * with the timer that forgets their `start`). `forgotten` runs when that timer drops
 * someone, so the view can update.
 */
export function noteTyping(
  typing: Map<string, TimerId>,
  user: string,
  state: "start" | "stop",
  forgotten: () => void,
  timers: Timers = realTimers,
): void {
  const t = typing.get(user);
  if (t !== undefined) timers.clear(t);
  typing.delete(user);
  if (state === "start") {
    typing.set(
      user,
      timers.set(() => {
        typing.delete(user);
        forgotten();
      }, TYPING_FORGET_MS),
    );
  }
}
