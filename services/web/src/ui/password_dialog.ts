// "Change password": the current password and a new one. The server then ends every
// session of the account, this one too, so success goes back to the sign-in form.

import type { Api } from "../api";
import { ApiError, describeError } from "../errors";
import { h, setText } from "./dom";

export interface PasswordDialogHooks {
  /** The request is about to go: the socket's 4003 that follows is expected. */
  changing: () => void;
  /** The password changed and every session ended: sign in again. */
  changed: () => void;
  /** Refused or not answered: the session goes on (if it still can). */
  notChanged: () => void;
}

export class PasswordDialog {
  readonly root: HTMLDialogElement;
  private readonly current = h("input", {
    id: "password-current",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });

  constructor(api: Api, hooks: PasswordDialogHooks) {
    const current = this.current;
    const next = h("input", {
      id: "password-new",
      type: "password",
      autocomplete: "new-password",
      required: true,
      minlength: 8,
      "aria-describedby": "password-new-hint",
    });
    const error = h("p", { class: "form-error", role: "alert", id: "password-error" });
    const save = h("button", { type: "submit", class: "primary", id: "password-save" }, "Change password");
    const cancel = h("button", { type: "button", id: "password-cancel" }, "Cancel");
    const form = h(
      "form",
      { method: "dialog", class: "dialog-form", novalidate: true },
      h("h2", { id: "password-title" }, "Change password"),
      h("p", { id: "password-text" }, "You will be signed out everywhere, this page too, and sign in again with the new password."),
      h("div", { class: "field" }, h("label", { for: "password-current" }, "Current password"), current),
      h(
        "div",
        { class: "field" },
        h("label", { for: "password-new" }, "New password"),
        next,
        h("span", { class: "hint", id: "password-new-hint" }, "At least 8 characters"),
      ),
      error,
      h("div", { class: "buttons" }, cancel, save),
    );
    const dialog = h("dialog", { id: "password-dialog", "aria-labelledby": "password-title", "aria-describedby": "password-text" }, form);
    this.root = dialog;
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      current.value = "";
      next.value = "";
      setText(error, "");
      document.getElementById("change-password")?.focus();
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!current.value || !next.value) {
        setText(error, "Enter your current password and a new one.");
        (current.value ? next : current).focus();
        return;
      }
      save.disabled = true;
      setText(error, "");
      hooks.changing();
      try {
        await api.changePassword(current.value, next.value);
        dialog.close();
        hooks.changed();
      } catch (e) {
        hooks.notChanged();
        // 403 bad_credentials here is the current password, not the username.
        const wrongCurrent = e instanceof ApiError && e.code === "bad_credentials";
        setText(error, wrongCurrent ? "The current password is wrong." : describeError(e));
        (wrongCurrent ? current : next).focus();
      } finally {
        save.disabled = false;
      }
    });
  }

  show(): void {
    this.root.showModal();
    this.current.focus();
  }
}
