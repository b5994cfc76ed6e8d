// The composer under the messages: the text box and Send, the bar that says what is
// being replied to or edited, the keyboard help and the error line. Enter sends,
// Shift+Enter adds a line, ↑ in an empty box edits your last message, Esc cancels a
// reply or an edit. Typing here drives the own typing indicator (src/typing.ts).

import { describe } from "../errors";
import type { Conv, Msg, Store } from "../store";
import type { TypingSender } from "../typing";
import { h, replaceChildren, setText } from "./dom";
import { snippet } from "./format";

/** The server's limit on a body, in UTF-8 bytes. */
const MAX_BODY_BYTES = 16384;

export interface ComposerHooks {
  /** Send a new message (a reply when `replyTo` is set). */
  send: (c: Conv, body: string, replyTo: Msg | null) => void;
  /** Save an edit of an own message. */
  edit: (c: Conv, m: Msg, body: string) => void;
  /** After a send or an edit: show it at once, scrolled to the end. */
  submitted: () => void;
}

export class Composer {
  /** The block under the messages (`.composer-wrap`). */
  readonly root: HTMLElement;
  private readonly input = h("textarea", {
    id: "composer",
    rows: 1,
    placeholder: "Write a message",
    "aria-describedby": "composer-help",
    maxlength: MAX_BODY_BYTES,
  });
  private readonly contextBar = h("div", { class: "context-bar", id: "context-bar", hidden: true });
  private readonly error = h("p", { class: "form-error", id: "composer-error", role: "alert" });
  private replyTo: Msg | null = null;
  private editing: Msg | null = null;

  constructor(
    private readonly store: Store,
    private readonly typing: TypingSender,
    private readonly hooks: ComposerHooks,
  ) {
    const sendButton = h("button", { type: "submit", class: "primary", id: "send" }, "Send");
    const form = h(
      "form",
      { class: "composer", id: "composer-form", "aria-label": "Send a message" },
      h("label", { for: "composer", class: "sr-only" }, "Message"),
      this.input,
      sendButton,
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (ev) => this.key(ev));
    this.input.addEventListener("input", () => this.typed());
    this.root = h(
      "div",
      { class: "composer-wrap" },
      this.contextBar,
      form,
      h("p", { class: "help", id: "composer-help" }, "Enter sends, Shift+Enter adds a line, ↑ edits your last message, Esc cancels."),
      this.error,
    );
  }

  focus(): void {
    this.input.focus();
  }

  /** Another conversation is opened: stop typing here, drop a reply or edit and the text. */
  reset(): void {
    this.typing.stop();
    this.cancelContext();
    setText(this.error, "");
    this.input.value = "";
  }

  /** Show a problem on the error line (it is also a live region). */
  showError(text: string): void {
    setText(this.error, text);
  }

  startReply(m: Msg): void {
    this.editing = null;
    this.replyTo = m;
    this.showContext();
    this.input.focus();
  }

  startEdit(m: Msg): void {
    this.replyTo = null;
    this.editing = m;
    this.input.value = m.body ?? "";
    this.autosize();
    this.showContext();
    this.input.focus();
    this.input.setSelectionRange(this.input.value.length, this.input.value.length);
  }

  private submit(): void {
    const c = this.store.openConv();
    if (!c) return;
    const body = this.input.value;
    if (!body.trim()) {
      setText(this.error, "Write something first.");
      return;
    }
    if (new TextEncoder().encode(body).length > MAX_BODY_BYTES) {
      setText(this.error, describe("too_large", `limit of ${MAX_BODY_BYTES} bytes`));
      return;
    }
    setText(this.error, "");
    if (this.editing) {
      const m = this.editing;
      this.cancelContext();
      if (m.body !== body) this.hooks.edit(c, m, body);
    } else {
      this.hooks.send(c, body, this.replyTo);
      this.cancelContext();
    }
    this.input.value = "";
    this.autosize();
    this.typing.stop();
    this.hooks.submitted();
  }

  private cancelContext(): void {
    const wasEditing = this.editing !== null;
    this.replyTo = null;
    this.editing = null;
    this.contextBar.hidden = true;
    replaceChildren(this.contextBar);
    // The box held the message being edited, not something new.
    if (wasEditing) this.input.value = "";
  }

  private showContext(): void {
    const m = this.replyTo ?? this.editing;
    if (!m) return;
    const cancel = h("button", { type: "button", class: "link", id: "cancel-context" }, "Cancel");
    cancel.addEventListener("click", () => {
      this.cancelContext();
      this.input.focus();
    });
    const what = this.replyTo ? `Replying to ${this.store.shortName(m.sender_id)}: ` : "Editing your message: ";
    replaceChildren(this.contextBar, h("span", { class: "context-text" }, what, h("q", {}, snippet(m.body, 60))), cancel);
    this.contextBar.hidden = false;
  }

  private key(ev: KeyboardEvent): void {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      this.submit();
    } else if (ev.key === "Escape" && (this.replyTo || this.editing)) {
      ev.preventDefault();
      this.cancelContext();
    } else if (ev.key === "ArrowUp" && this.input.value === "" && !this.editing) {
      const c = this.store.openConv();
      const mine = c ? this.store.timeline(c).filter((m) => m.sender_id === this.store.me && !m.local && !m.deleted_at) : [];
      const last = mine[mine.length - 1];
      if (last) {
        ev.preventDefault();
        this.startEdit(last);
      }
    }
  }

  private typed(): void {
    this.autosize();
    const c = this.store.openConv();
    // An edit is not news to the others: no typing indicator for it.
    if (!c || this.editing) return;
    this.typing.input(c.id, this.input.value.trim() === "");
  }

  /** Grow with the text, up to a limit (then it scrolls). */
  private autosize(): void {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 200)}px`;
  }
}
