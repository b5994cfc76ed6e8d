// "Delete message?": deleting removes a message for everyone, so it is confirmed first.

import type { Msg } from "../store";
import { h } from "./dom";

export interface DeleteDialogHooks {
  confirmed: (m: Msg) => void;
  /** Closed either way: focus goes back to where people write. */
  closed: () => void;
}

export class DeleteDialog {
  readonly root: HTMLDialogElement;
  private readonly cancel = h("button", { type: "button", id: "delete-cancel" }, "Cancel");
  /** The message the open dialog asks about. */
  private message: Msg | null = null;

  constructor(hooks: DeleteDialogHooks) {
    const confirm = h("button", { type: "button", class: "danger", id: "delete-confirm" }, "Delete");
    const dialog = h(
      "dialog",
      { id: "delete-dialog", "aria-labelledby": "delete-title", "aria-describedby": "delete-text" },
      h("h2", { id: "delete-title" }, "Delete message?"),
      h("p", { id: "delete-text" }, "It will be removed for everyone in the conversation."),
      h("div", { class: "buttons" }, this.cancel, confirm),
    );
    this.root = dialog;
    this.cancel.addEventListener("click", () => dialog.close());
    confirm.addEventListener("click", () => {
      const m = this.message;
      dialog.close();
      if (m) hooks.confirmed(m);
    });
    dialog.addEventListener("close", () => {
      this.message = null;
      hooks.closed();
    });
  }

  /** Ask about `m`; Cancel has the focus, so Enter does not delete by accident. */
  ask(m: Msg): void {
    this.message = m;
    this.root.showModal();
    this.cancel.focus();
  }
}
