// "Add a reaction": a few common emoji as buttons (arrow keys, Home and End move between
// them; Enter or Space picks), and a box for any other emoji or a :shortcode:, checked
// against the contract's rule before anything is sent (src/emoji.ts). A native modal
// <dialog>, so focus stays inside and Esc closes it; focus goes back to the button that
// opened it.

import { COMMON_REACTIONS, parseReaction } from "../emoji";
import { h, setText } from "./dom";

export class ReactionPicker {
  readonly root: HTMLDialogElement;
  private readonly grid: HTMLElement;
  private readonly input = h("input", {
    id: "reaction-custom",
    autocomplete: "off",
    autocapitalize: "none",
    spellcheck: "false",
    "aria-describedby": "reaction-custom-hint",
  });
  private readonly error = h("p", { class: "form-error", id: "reaction-error", role: "alert" });
  private chosen: ((emoji: string) => void) | null = null;
  private opener: HTMLElement | null = null;

  constructor() {
    const buttons = COMMON_REACTIONS.map((r, i) =>
      h("button", { type: "button", class: "pick", "data-emoji": r.emoji, "aria-label": r.name, title: r.name, tabindex: i === 0 ? 0 : -1 }, r.emoji),
    );
    this.grid = h("div", { class: "picks", role: "group", "aria-label": "Common reactions" }, buttons);
    this.grid.addEventListener("click", (ev) => {
      const b = (ev.target as Element).closest<HTMLButtonElement>("button.pick");
      if (b?.dataset.emoji) this.pick(b.dataset.emoji);
    });
    this.grid.addEventListener("keydown", (ev) => this.move(ev, buttons));
    const add = h("button", { type: "submit", class: "primary", id: "reaction-add" }, "Add");
    const cancel = h("button", { type: "button", id: "reaction-cancel" }, "Cancel");
    const form = h(
      "form",
      { class: "dialog-form", method: "dialog" },
      h("h2", { id: "reaction-title" }, "Add a reaction"),
      this.grid,
      h(
        "div",
        { class: "field" },
        h("label", { for: "reaction-custom" }, "Or type an emoji or a :shortcode:"),
        h("div", { class: "inline" }, this.input, add),
        h("span", { class: "hint", id: "reaction-custom-hint" }, "One emoji, or a name between colons like :tada: (a to z, 0 to 9, _, + and -)."),
      ),
      this.error,
      h("div", { class: "buttons" }, cancel),
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const parsed = parseReaction(this.input.value);
      if (!parsed.ok) {
        setText(this.error, parsed.reason);
        this.input.focus();
        return;
      }
      this.pick(parsed.emoji);
    });
    cancel.addEventListener("click", () => this.root.close());
    this.root = h("dialog", { id: "reaction-dialog", class: "reaction-dialog", "aria-labelledby": "reaction-title" }, form);
    this.root.addEventListener("close", () => {
      this.chosen = null;
      this.input.value = "";
      setText(this.error, "");
      const back = this.opener;
      this.opener = null;
      if (back?.isConnected) back.focus();
    });
  }

  /** Ask for a reaction; `chosen` gets it once (nothing when the picker is closed). */
  ask(opener: HTMLElement | null, chosen: (emoji: string) => void): void {
    this.chosen = chosen;
    this.opener = opener;
    this.root.showModal();
    this.grid.querySelector<HTMLButtonElement>('button.pick[tabindex="0"]')?.focus();
  }

  private pick(emoji: string): void {
    const f = this.chosen;
    this.root.close();
    f?.(emoji);
  }

  /** One tab stop for the row of emoji; the arrow keys, Home and End move within it. */
  private move(ev: KeyboardEvent, buttons: HTMLButtonElement[]): void {
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (at < 0) return;
    const last = buttons.length - 1;
    const next =
      ev.key === "ArrowRight" || ev.key === "ArrowDown"
        ? Math.min(last, at + 1)
        : ev.key === "ArrowLeft" || ev.key === "ArrowUp"
          ? Math.max(0, at - 1)
          : ev.key === "Home"
            ? 0
            : ev.key === "End"
              ? last
              : null;
    if (next === null) return;
    ev.preventDefault();
    for (const [i, b] of buttons.entries()) b.tabIndex = i === next ? 0 : -1;
    buttons[next].focus();
  }
}
