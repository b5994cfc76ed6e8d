// The composer under the messages: the text box and Send, the bar that says what is
// being replied to or edited, the keyboard help and the error line. Enter sends,
// Shift+Enter adds a line, ↑ in an empty box edits your last message, Esc cancels a
// reply or an edit. Typing here drives the own typing indicator (src/typing.ts).
// The thread panel has a second one (ids prefixed `thread-`), which sends into the
// thread and edits the thread's messages.

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
  /** Attach a file (the main composer only): the chosen file, to upload and send. */
  attach?: (c: Conv, file: File) => void;
}

export interface ComposerOptions {
  /** Prefix of every element id ("" for the main composer, "thread-" in the thread panel). */
  idPrefix: string;
  /** The text box's label. */
  label: string;
  placeholder: string;
  /** The own messages ↑ may edit, oldest first. */
  editable: (c: Conv) => Msg[];
}

const MAIN: Omit<ComposerOptions, "editable"> = { idPrefix: "", label: "Message", placeholder: "Write a message" };

export class Composer {
  /** The block under the messages (`.composer-wrap`). */
  readonly root: HTMLElement;
  private readonly input: HTMLTextAreaElement;
  private readonly contextBar: HTMLElement;
  private readonly error: HTMLElement;
  private readonly upload: HTMLElement;
  private readonly opts: ComposerOptions;
  private replyTo: Msg | null = null;
  private editing: Msg | null = null;

  constructor(
    private readonly store: Store,
    private readonly typing: TypingSender,
    private readonly hooks: ComposerHooks,
    options: Partial<ComposerOptions> = {},
  ) {
    this.opts = { ...MAIN, editable: (c) => store.timeline(c), ...options };
    const id = (name: string) => `${this.opts.idPrefix}${name}`;
    this.input = h("textarea", {
      id: id("composer"),
      rows: 1,
      placeholder: this.opts.placeholder,
      "aria-describedby": id("composer-help"),
      maxlength: MAX_BODY_BYTES,
    });
    this.contextBar = h("div", { class: "context-bar", id: id("context-bar"), hidden: true });
    this.error = h("p", { class: "form-error", id: id("composer-error"), role: "alert" });
    this.upload = h("div", { class: "upload-progress", id: id("upload-status"), role: "status", hidden: true });
    const sendButton = h("button", { type: "submit", class: "primary", id: id("send") }, "Send");
    let attach: HTMLElement | null = null;
    if (hooks.attach) {
      // The button is the control people use; the input only opens the file chooser.
      const file = h("input", { type: "file", id: id("attach-file"), class: "sr-only", tabindex: -1, "aria-hidden": "true" });
      const button = h("button", { type: "button", id: id("attach"), "aria-label": "Attach a file" }, "Attach");
      button.addEventListener("click", () => file.click());
      file.addEventListener("change", () => {
        const c = this.store.openConv();
        const f = file.files?.[0];
        file.value = "";
        if (c && f) hooks.attach?.(c, f);
      });
      attach = h("span", { class: "attach-wrap" }, file, button);
    }
    const form = h(
      "form",
      { class: "composer", id: id("composer-form"), "aria-label": this.opts.idPrefix ? "Reply in the thread" : "Send a message" },
      h("label", { for: id("composer"), class: "sr-only" }, this.opts.label),
      attach,
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
      this.upload,
      form,
      h(
        "p",
        { class: "help", id: id("composer-help") },
        this.opts.idPrefix
          ? "Enter sends to the thread, Shift+Enter adds a line, ↑ edits your last reply, Esc closes the thread."
          : "Enter sends, Shift+Enter adds a line, ↑ edits your last message, Esc cancels.",
      ),
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

  /** The text box's content (a file's caption). */
  text(): string {
    return this.input.value;
  }

  clearText(): void {
    this.input.value = "";
    this.autosize();
  }

  /** "Uploading name… 40%", a progress bar and Cancel; `fraction` null hides it. */
  showUpload(name: string, fraction: number | null, cancel?: () => void): void {
    if (fraction === null) {
      this.upload.hidden = true;
      replaceChildren(this.upload);
      return;
    }
    const pct = Math.round(fraction * 100);
    let bar = this.upload.querySelector("progress");
    if (!bar || this.upload.dataset.name !== name) {
      this.upload.dataset.name = name;
      bar = h("progress", { max: 100, value: pct, "aria-label": `Uploading ${name}` });
      const stop = h("button", { type: "button", class: "link", id: `${this.opts.idPrefix}upload-cancel` }, "Cancel");
      stop.addEventListener("click", () => cancel?.());
      replaceChildren(this.upload, h("span", { class: "upload-text" }), bar, stop);
    }
    bar.value = pct;
    setText(this.upload.querySelector(".upload-text")!, `Uploading ${name}… ${pct}%`);
    this.upload.hidden = false;
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
    const cancel = h("button", { type: "button", class: "link", id: `${this.opts.idPrefix}cancel-context` }, "Cancel");
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
      const mine = c ? this.opts.editable(c).filter((m) => m.sender_id === this.store.me && !m.local && !m.deleted_at) : [];
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
