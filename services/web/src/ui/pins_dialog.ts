// "Pinned messages" of the open conversation, newest first: who wrote each, its text,
// who pinned it and when. Choosing one closes the dialog and brings the message into
// view (loading older pages, or opening its thread, when needed); Unpin takes it off.
// The list follows live pin events while the dialog is open.

import type { Conv, Store } from "../store";
import type { Pin } from "../pins";
import { h, replaceChildren, setText } from "./dom";
import { longTime, shortTime, snippet } from "./format";

export interface PinsDialogHooks {
  show: (pin: Pin) => void;
  unpin: (pin: Pin) => void;
  /** Closed without choosing a pin: where focus goes. */
  closed: () => void;
}

export class PinsDialog {
  readonly root: HTMLDialogElement;
  private readonly list = h("ul", { class: "pins-list", id: "pins-list", "aria-label": "Pinned messages" });
  private readonly status = h("p", { class: "hint", id: "pins-status", role: "status" });
  private readonly error = h("p", { class: "form-error", id: "pins-error", role: "alert" });
  private key = "";
  /** A pin was chosen: focus goes to its message, not back to the "Pinned" button. */
  private picked = false;

  constructor(
    private readonly store: Store,
    private readonly hooks: PinsDialogHooks,
  ) {
    const close = h("button", { type: "button", id: "pins-close" }, "Close");
    close.addEventListener("click", () => this.root.close());
    this.root = h(
      "dialog",
      { id: "pins-dialog", class: "wide-dialog", "aria-labelledby": "pins-title" },
      h("h2", { id: "pins-title" }, "Pinned messages"),
      this.status,
      this.list,
      this.error,
      h("div", { class: "buttons" }, close),
    );
    this.root.addEventListener("close", () => {
      setText(this.error, "");
      if (!this.picked) hooks.closed();
      this.picked = false;
    });
  }

  show(): void {
    this.key = "";
    this.root.showModal();
    this.render();
    (this.list.querySelector<HTMLButtonElement>("button.pin-open") ?? this.root.querySelector<HTMLButtonElement>("#pins-close"))?.focus();
  }

  showError(text: string): void {
    setText(this.error, text);
  }

  render(): void {
    if (!this.root.open) return;
    const c = this.store.openConv();
    if (!c) {
      this.root.close();
      return;
    }
    const pins = c.pins;
    setText(this.status, pins === null ? "Loading…" : pins.length === 0 ? "No pinned messages." : pins.length === 1 ? "1 pinned message" : `${pins.length} pinned messages`);
    // Rebuilt only when something shown changed, so focus stays on its button.
    const rows = (pins ?? []).map((p) => this.row(c, p));
    const key = JSON.stringify(rows.map((r) => r.key));
    if (key === this.key) return;
    const focused = document.activeElement instanceof HTMLElement && this.list.contains(document.activeElement) ? document.activeElement : null;
    const focusId = focused?.closest<HTMLElement>("li")?.dataset.messageId;
    const focusClass = focused?.classList.contains("pin-remove") ? "pin-remove" : "pin-open";
    this.key = key;
    replaceChildren(
      this.list,
      rows.map((r) => r.el),
    );
    if (focusId) {
      const again = [...this.list.children].find((li) => (li as HTMLElement).dataset.messageId === focusId);
      (again?.querySelector<HTMLButtonElement>(`.${focusClass}`) ?? this.list.querySelector<HTMLButtonElement>("button.pin-open"))?.focus();
    }
  }

  private row(c: Conv, p: Pin): { key: unknown[]; el: HTMLLIElement } {
    const live = c.messages.get(p.message_id);
    const m = live ?? p.message;
    const sender = m ? this.store.shortName(m.sender_id) : "…";
    const text = m ? (m.deleted_at ? "This message was deleted." : m.erased ? "This message was erased." : snippet(m.body, 140)) : "Loading…";
    const by = this.store.shortName(p.pinned_by);
    const open = h(
      "button",
      { type: "button", class: "pin-open", "aria-label": `${sender}: ${text}. Pinned by ${by}, ${longTime(p.pinned_at)}. Show it` },
      h("span", { class: "pin-sender" }, sender),
      h("span", { class: "pin-body" }, text),
      h("span", { class: "pin-meta" }, `Pinned by ${by}${p.pinned_at ? ` · ${shortTime(p.pinned_at)}` : ""}`),
    );
    open.addEventListener("click", () => {
      this.picked = true;
      this.root.close();
      this.hooks.show(p);
    });
    const unpin = h("button", { type: "button", class: "pin-remove", "aria-label": `Unpin ${sender}'s message` }, "Unpin");
    unpin.addEventListener("click", () => this.hooks.unpin(p));
    return {
      key: [p.message_id, sender, text, by, p.pinned_at],
      el: h("li", { "data-message-id": p.message_id }, open, unpin),
    };
  }
}
