// The client's gap rule (README: Live delivery). Per conversation, a position P: the
// seq up to which this client has every event. An event with seq <= P is a duplicate;
// one whose prev_seq is null or <= P follows, so it is applied and P = seq; any other
// means something was missed: hold it, `sync` from P, apply what is replayed, move P to
// what `synced` says (never backwards), then look at the held events again.
//
// No DOM and no socket here: the caller passes how to apply an event and how to send a
// sync, so the rule is unit-tested on its own (test/sync.test.mjs).

import type { EventFrame } from "./protocol";

/** Conversations one `sync` frame may name (PROTOCOL.md: `gateway.sync_max_conversations`). */
export const SYNC_MAX_CONVERSATIONS = 100;

export interface GapOptions {
  apply: (e: EventFrame) => void;
  /** Send `{"type":"sync","positions":...}`; false when the socket is not open. */
  sendSync: (positions: Record<string, number>) => boolean;
  /** Run `f` after `ms` (a seam for tests). */
  later?: (f: () => void, ms: number) => void;
}

export class GapTracker {
  private readonly positions = new Map<string, number>();
  private readonly held = new Map<string, EventFrame[]>();
  /** Conversations of each sync sent and not yet answered, oldest first. */
  private readonly inFlight: string[][] = [];
  private readonly syncing = new Set<string>();
  /** Syncs in a row that did not close a conversation's gap (history still trails). */
  private readonly retries = new Map<string, number>();
  private readonly later: (f: () => void, ms: number) => void;
  duplicates = 0;
  gaps = 0;

  constructor(private readonly opts: GapOptions) {
    this.later = opts.later ?? ((f, ms) => void setTimeout(f, ms));
  }

  position(c: string): number | undefined {
    return this.positions.get(c);
  }

  /** Move P forward (never back): what a history page or the conversation list showed. */
  advance(c: string, seq: number): void {
    const p = this.positions.get(c);
    if (p === undefined || seq > p) this.positions.set(c, seq);
  }

  /** Start tracking a conversation at `seq` (-1: from its beginning), if not tracked. */
  track(c: string, seq: number): void {
    if (!this.positions.has(c)) this.positions.set(c, seq);
  }

  forget(c: string): void {
    this.positions.delete(c);
    this.held.delete(c);
    this.syncing.delete(c);
  }

  offer(e: EventFrame): void {
    const c = e.conversation_id;
    const p = this.positions.get(c);
    if (p !== undefined && e.seq <= p) {
      this.duplicates++;
      return;
    }
    const follows = p === undefined || e.prev_seq === null || e.prev_seq <= p;
    if (follows || e.replayed) {
      this.positions.set(c, e.seq);
      this.opts.apply(e);
      return;
    }
    this.gaps++;
    const list = this.held.get(c) ?? [];
    list.push(e);
    this.held.set(c, list);
    if (!this.syncing.has(c)) this.requestSync(c);
  }

  /**
   * The answer to the oldest sync in flight. `more` names the conversations whose replay
   * stopped at the server's per-frame limit: they are synced again from where it stopped.
   */
  synced(reached: Record<string, number>, more: string[] = []): void {
    const asked = this.inFlight.shift() ?? Object.keys(reached);
    for (const [c, seq] of Object.entries(reached)) this.advance(c, seq);
    for (const c of asked) {
      this.syncing.delete(c);
      const held = (this.held.get(c) ?? []).sort((a, b) => a.seq - b.seq);
      this.held.delete(c);
      const before = this.gaps;
      for (const e of held) this.offer(e);
      if (this.gaps === before) this.retries.delete(c);
    }
    const again: Record<string, number> = {};
    for (const c of more) {
      const p = this.positions.get(c);
      if (p !== undefined && !this.syncing.has(c)) again[c] = p;
    }
    this.syncMany(again);
  }

  /** Everything tracked, for the sync sent when a socket (re)opens. */
  all(): Record<string, number> {
    return Object.fromEntries(this.positions);
  }

  /** A (re)opened socket: earlier syncs died with the old one; sync everything now. */
  resyncAll(): void {
    this.inFlight.length = 0;
    this.syncing.clear();
    this.syncMany(this.all());
  }

  /** Sync these conversations from these positions, in frames the server accepts. */
  syncMany(positions: Record<string, number>): void {
    const cs = Object.keys(positions);
    for (let i = 0; i < cs.length; i += SYNC_MAX_CONVERSATIONS) {
      const chunk = cs.slice(i, i + SYNC_MAX_CONVERSATIONS);
      if (!this.opts.sendSync(Object.fromEntries(chunk.map((c) => [c, positions[c]])))) return;
      this.inFlight.push(chunk);
      for (const c of chunk) this.syncing.add(c);
    }
  }

  private requestSync(c: string): void {
    this.syncing.add(c);
    const n = this.retries.get(c) ?? 0;
    this.retries.set(c, n + 1);
    const send = () => {
      const p = this.positions.get(c) ?? -1;
      if (this.opts.sendSync({ [c]: p })) this.inFlight.push([c]);
      // Not sent: the socket is down and its reopening syncs everything.
    };
    // The first sync goes at once; when history still trails the live event that
    // showed the gap, the next ones wait a little longer each time.
    if (n === 0) send();
    else this.later(send, Math.min(2000, 150 * 2 ** (n - 1)));
  }
}
