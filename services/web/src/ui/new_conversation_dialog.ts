// "New conversation": direct (one username) or group (several, with an optional name).
// Each username is looked up first, so an unknown one is reported by name before
// anything is created.

import type { Api } from "../api";
import { ApiError, describeError } from "../errors";
import type { Store } from "../store";
import { h, setText } from "./dom";

export interface NewConversationHooks {
  /** The server created it: make it known here (list, gap rule, presence). */
  created: (conversationId: string, kind: "direct" | "group", name: string | null, members: string[]) => void;
  open: (conversationId: string) => Promise<void>;
}

export class NewConversationDialog {
  readonly root: HTMLDialogElement;
  private readonly users = h("input", {
    id: "new-conv-users",
    autocomplete: "off",
    autocapitalize: "none",
    spellcheck: "false",
    required: true,
    "aria-describedby": "new-conv-users-hint",
  });

  constructor(
    private readonly api: Api,
    private readonly store: Store,
    private readonly hooks: NewConversationHooks,
  ) {
    const users = this.users;
    const error = h("p", { class: "form-error", role: "alert", id: "new-conv-error" });
    const direct = h("input", { type: "radio", name: "kind", value: "direct", id: "kind-direct", checked: true });
    const group = h("input", { type: "radio", name: "kind", value: "group", id: "kind-group" });
    const usersHint = h("span", { class: "hint", id: "new-conv-users-hint" }, "One username for a direct conversation; several, separated by commas, for a group.");
    const name = h("input", { id: "new-conv-name", maxlength: 100 });
    const nameField = h("div", { class: "field", hidden: true }, h("label", { for: "new-conv-name" }, "Group name"), name);
    const create = h("button", { type: "submit", class: "primary", id: "new-conv-create" }, "Start conversation");
    const cancel = h("button", { type: "button", id: "new-conv-cancel" }, "Cancel");
    const syncKind = () => {
      nameField.hidden = !group.checked;
    };
    direct.addEventListener("change", syncKind);
    group.addEventListener("change", syncKind);
    const form = h(
      "form",
      { method: "dialog", class: "dialog-form" },
      h("h2", { id: "new-conv-title" }, "New conversation"),
      h(
        "fieldset",
        { class: "kind" },
        h("legend", {}, "Kind"),
        h("label", { for: "kind-direct" }, direct, " Direct"),
        h("label", { for: "kind-group" }, group, " Group"),
      ),
      h("div", { class: "field" }, h("label", { for: "new-conv-users" }, "Usernames"), users, usersHint),
      nameField,
      error,
      h("div", { class: "buttons" }, cancel, create),
    );
    const dialog = h("dialog", { id: "new-conv-dialog", "aria-labelledby": "new-conv-title" }, form);
    this.root = dialog;
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      setText(error, "");
      document.getElementById("new-conversation")?.focus();
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const names = users.value
        .split(/[\s,]+/)
        .map((n) => n.trim().toLowerCase().replace(/^@/, ""))
        .filter((n) => n.length > 0);
      const kind = group.checked ? "group" : "direct";
      if (names.length === 0) {
        setText(error, "Enter at least one username.");
        users.focus();
        return;
      }
      if (kind === "direct" && names.length !== 1) {
        setText(error, "A direct conversation is with exactly one person. Choose Group for more.");
        users.focus();
        return;
      }
      create.disabled = true;
      setText(error, "");
      try {
        const ids: string[] = [];
        for (const n of names) {
          if (n === this.store.myName) {
            if (kind === "direct") throw new Error("You cannot start a direct conversation with yourself.");
            continue;
          }
          const u = await this.api.findUser(n);
          if (!u) throw new Error(`No user is called “${n}”.`);
          this.store.learnUser(u.user_id, u.username, u.display_name);
          ids.push(u.user_id);
        }
        const r = await this.api.createConversation(kind, ids, kind === "group" ? name.value.trim() || undefined : undefined);
        if (!this.store.convs.has(r.conversation_id)) {
          this.hooks.created(r.conversation_id, kind, kind === "group" ? name.value.trim() || null : null, [this.store.me, ...ids]);
        }
        users.value = "";
        name.value = "";
        dialog.close();
        await this.hooks.open(r.conversation_id);
      } catch (e) {
        // Our own sentences (unknown name, yourself) as they are; the server's, described.
        setText(error, e instanceof ApiError || !(e instanceof Error) ? describeError(e) : e.message);
        users.focus();
      } finally {
        create.disabled = false;
      }
    });
  }

  show(): void {
    this.root.showModal();
    this.users.focus();
  }
}
