// "Group settings" of the open group: rename it (1 to 100 characters), disappearing
// messages (v1.3: admins pick how long messages are kept; others see the setting), see
// its members (names from the user lookup), add someone by username, remove a member,
// and leave (asked to confirm first). The member list, name and retention follow live
// events while the dialog is open; leaving (or being removed) closes it.

import type { Api } from "../api";
import { describeErrorFor } from "../errors";
import { groupNameProblem, mayManage, mayRemove, memberOrder, normaliseUsername } from "../groups";
import { retentionChoices, retentionFromValue, retentionLabel, retentionValue } from "../retention";
import type { Conv, Store } from "../store";
import { h, replaceChildren, setText } from "./dom";

export interface GroupDialogHooks {
  rename: (c: Conv, name: string) => Promise<void>;
  /** Keep the group's messages `days` days (null: off); rejects with the server's refusal. */
  setRetention: (c: Conv, days: number | null) => Promise<void>;
  addMember: (c: Conv, userId: string) => Promise<void>;
  removeMember: (c: Conv, userId: string) => Promise<void>;
  leave: (c: Conv) => Promise<void>;
  /** Closed (not by leaving): where focus goes. */
  closed: () => void;
}

export class GroupDialog {
  readonly root: HTMLDialogElement;
  private readonly name = h("input", { id: "group-name", maxlength: 200, autocomplete: "off", "aria-describedby": "group-name-hint" });
  private readonly nameStatus = h("p", { class: "form-error", id: "group-name-error", role: "alert" });
  private readonly nameSaved = h("p", { class: "hint", id: "group-name-status", role: "status" });
  private readonly retentionField: HTMLElement;
  private readonly retentionSelect = h("select", { id: "group-retention", "aria-describedby": "group-retention-hint" });
  private readonly retentionSave = h("button", { type: "submit", id: "group-retention-save" }, "Save");
  /** What a member who is not an admin sees instead of the select. */
  private readonly retentionText = h("p", { id: "group-retention-text", hidden: true });
  private readonly retentionError = h("p", { class: "form-error", id: "group-retention-error", role: "alert" });
  private readonly retentionSaved = h("p", { class: "hint", id: "group-retention-status", role: "status" });
  /** The options the select holds now (rebuilt only when they change). */
  private retentionKey = "";
  /** The person picked something not saved yet: live renders keep their pick. */
  private retentionPicked = false;
  /** What "Saved" reports (undefined: nothing); a later change by someone else clears it. */
  private retentionSavedDays: number | null | undefined = undefined;
  private readonly membersTitle = h("h3", { id: "group-members-title" }, "Members");
  private readonly members = h("ul", { class: "member-list", id: "group-members", "aria-labelledby": "group-members-title" });
  private readonly membersMore = h("p", { class: "hint", id: "group-members-more" });
  private readonly membersError = h("p", { class: "form-error", id: "group-members-error", role: "alert" });
  private readonly addUser = h("input", { id: "group-add-user", autocomplete: "off", autocapitalize: "none", spellcheck: "false" });
  private readonly addStatus = h("p", { class: "hint", id: "group-add-status", role: "status" });
  private readonly leaveButton = h("button", { type: "button", class: "danger", id: "group-leave" }, "Leave conversation");
  private readonly confirm: HTMLElement;
  private readonly confirmText = h("p", { id: "group-leave-text" });
  private readonly stay = h("button", { type: "button", id: "group-leave-cancel" }, "Stay");
  private readonly leaveError = h("p", { class: "form-error", id: "group-leave-error", role: "alert" });
  private convId: string | null = null;
  private membersKey = "";
  private leaving = false;

  constructor(
    private readonly api: Api,
    private readonly store: Store,
    private readonly hooks: GroupDialogHooks,
  ) {
    const save = h("button", { type: "submit", id: "group-rename" }, "Save name");
    const renameForm = h(
      "form",
      { class: "dialog-form", id: "group-rename-form" },
      h(
        "div",
        { class: "field" },
        h("label", { for: "group-name" }, "Group name"),
        h("div", { class: "inline" }, this.name, save),
        h("span", { class: "hint", id: "group-name-hint" }, "1 to 100 characters. Everyone in the group sees the new name."),
      ),
      this.nameStatus,
      this.nameSaved,
    );
    renameForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.rename(save);
    });

    this.retentionField = h(
      "div",
      { class: "field", id: "group-retention-field" },
      h("label", { for: "group-retention" }, "Disappearing messages"),
      h("div", { class: "inline" }, this.retentionSelect, this.retentionSave),
      h(
        "span",
        { class: "hint", id: "group-retention-hint" },
        "Messages older than this are erased for everyone in the group. The server erases them once a day, so they may stay up to a day or two longer.",
      ),
    );
    const retentionForm = h(
      "form",
      { class: "dialog-form", id: "group-retention-form" },
      this.retentionField,
      this.retentionText,
      this.retentionError,
      this.retentionSaved,
    );
    this.retentionSelect.addEventListener("change", () => {
      this.retentionPicked = true;
      setText(this.retentionSaved, "");
    });
    retentionForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.saveRetention();
    });

    const add = h("button", { type: "submit", id: "group-add" }, "Add");
    const addForm = h(
      "form",
      { class: "dialog-form", id: "group-add-form" },
      h("div", { class: "field" }, h("label", { for: "group-add-user" }, "Add a member by username"), h("div", { class: "inline" }, this.addUser, add)),
      this.addStatus,
    );
    addForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.add(add);
    });

    const leaveNow = h("button", { type: "button", class: "danger", id: "group-leave-confirm" }, "Leave");
    this.confirm = h(
      "div",
      { class: "confirm", id: "group-leave-confirm-box", role: "group", "aria-labelledby": "group-leave-text", hidden: true },
      this.confirmText,
      h("div", { class: "buttons" }, this.stay, leaveNow),
    );
    this.leaveButton.addEventListener("click", () => {
      const c = this.conv();
      if (!c) return;
      setText(this.confirmText, `Leave “${this.store.title(c)}”? You will no longer see its messages, and someone in it has to add you back.`);
      this.confirm.hidden = false;
      this.leaveButton.hidden = true;
      // Focus on the safe choice, so Enter does not leave by accident.
      this.stay.focus();
    });
    this.stay.addEventListener("click", () => {
      this.confirm.hidden = true;
      this.leaveButton.hidden = false;
      this.leaveButton.focus();
    });
    leaveNow.addEventListener("click", () => void this.leave(leaveNow));

    const close = h("button", { type: "button", id: "group-close" }, "Close");
    close.addEventListener("click", () => this.root.close());
    this.root = h(
      "dialog",
      { id: "group-dialog", class: "wide-dialog", "aria-labelledby": "group-title" },
      h("h2", { id: "group-title" }, "Group settings"),
      renameForm,
      retentionForm,
      h("section", { class: "members", "aria-labelledby": "group-members-title" }, this.membersTitle, this.members, this.membersMore, this.membersError, addForm),
      h("section", { class: "leave", "aria-label": "Leave" }, this.leaveButton, this.confirm, this.leaveError),
      h("div", { class: "buttons" }, close),
    );
    this.members.addEventListener("click", (ev) => {
      const b = (ev.target as Element).closest<HTMLButtonElement>("button.member-remove");
      if (b?.dataset.userId) void this.remove(b, b.dataset.userId);
    });
    this.root.addEventListener("close", () => {
      const left = this.leaving;
      this.convId = null;
      this.leaving = false;
      if (!left) this.hooks.closed();
    });
  }

  show(c: Conv): void {
    this.convId = c.id;
    this.membersKey = "";
    this.retentionKey = "";
    this.retentionPicked = false;
    this.retentionSavedDays = undefined;
    this.name.value = c.name ?? "";
    for (const el of [this.nameStatus, this.nameSaved, this.retentionError, this.retentionSaved, this.membersError, this.addStatus, this.leaveError]) setText(el, "");
    this.addUser.value = "";
    this.confirm.hidden = true;
    this.leaveButton.hidden = false;
    this.root.showModal();
    this.render();
    this.name.focus();
  }

  private conv(): Conv | null {
    return this.convId ? (this.store.convs.get(this.convId) ?? null) : null;
  }

  /** Follow live changes; a conversation that is gone (left, removed) closes the dialog. */
  render(): void {
    if (!this.root.open) return;
    const c = this.conv();
    if (!c || this.store.openId !== c.id) {
      this.root.close();
      return;
    }
    this.renderRetention(c);
    const ids = memberOrder(c.members, this.store.me, (id) => this.store.name(id));
    setText(this.membersTitle, `Members (${c.memberCount})`);
    setText(this.membersMore, c.memberCount > ids.length ? `and ${c.memberCount - ids.length} more not listed here` : "");
    const rows = ids.map((id) => ({ id, name: this.store.name(id), remove: id !== this.store.me && mayRemove(this.store.me, id, c.admins), admin: c.admins?.has(id) ?? false }));
    const key = JSON.stringify(rows);
    if (key === this.membersKey) return;
    this.membersKey = key;
    const focusedId = document.activeElement instanceof HTMLElement && this.members.contains(document.activeElement) ? document.activeElement.dataset.userId : undefined;
    replaceChildren(
      this.members,
      rows.map((r) =>
        h(
          "li",
          { "data-user-id": r.id },
          h("span", { class: "member-name" }, r.name, r.id === this.store.me ? " (you)" : "", r.admin ? " · admin" : ""),
          r.remove ? h("button", { type: "button", class: "member-remove link", "data-user-id": r.id, "aria-label": `Remove ${r.name}` }, "Remove") : null,
        ),
      ),
    );
    if (focusedId) {
      (this.members.querySelector<HTMLButtonElement>(`button[data-user-id="${CSS.escape(focusedId)}"]`) ?? this.addUser).focus();
    }
  }

  /** Admins (or everyone, while the admins are not known here) get the select; others the setting as text. */
  private renderRetention(c: Conv): void {
    const admin = mayManage(this.store.me, c.admins);
    this.retentionField.hidden = !admin;
    this.retentionText.hidden = admin;
    if (this.retentionSavedDays !== undefined && this.retentionSavedDays !== c.retentionDays) {
      this.retentionSavedDays = undefined;
      setText(this.retentionSaved, "");
    }
    setText(this.retentionText, `Disappearing messages: ${retentionLabel(c.retentionDays)}. Only the group's admins can change this.`);
    const choices = retentionChoices(c.retentionDays);
    const values = choices.map(retentionValue);
    const key = values.join(",");
    // A pick not saved yet stays while it is still offered; otherwise the current setting shows.
    const picked = this.retentionSelect.value;
    const keep = this.retentionPicked && this.retentionSelect.selectedIndex >= 0 && values.includes(picked);
    if (!keep) this.retentionPicked = false;
    const want = keep ? picked : retentionValue(c.retentionDays);
    if (key !== this.retentionKey) {
      this.retentionKey = key;
      replaceChildren(
        this.retentionSelect,
        choices.map((d) => h("option", { value: retentionValue(d) }, retentionLabel(d))),
      );
    }
    if (this.retentionSelect.value !== want) this.retentionSelect.value = want;
  }

  private async saveRetention(): Promise<void> {
    const c = this.conv();
    if (!c) return;
    const days = retentionFromValue(this.retentionSelect.value);
    setText(this.retentionError, "");
    setText(this.retentionSaved, "");
    this.retentionSavedDays = undefined;
    this.retentionSave.disabled = true;
    try {
      await this.hooks.setRetention(c, days);
      this.retentionPicked = false;
      this.retentionSavedDays = days;
      setText(this.retentionSaved, days === null ? "Disappearing messages are off." : `Saved: messages disappear after ${retentionLabel(days)}.`);
    } catch (e) {
      // invalid_retention carries the operator's limits in the server's own words.
      setText(this.retentionError, describeErrorFor("retention", e));
      this.retentionSelect.focus();
    } finally {
      this.retentionSave.disabled = false;
    }
  }

  private async rename(save: HTMLButtonElement): Promise<void> {
    const c = this.conv();
    if (!c) return;
    setText(this.nameSaved, "");
    const problem = groupNameProblem(this.name.value);
    if (problem) {
      setText(this.nameStatus, problem);
      this.name.focus();
      return;
    }
    setText(this.nameStatus, "");
    save.disabled = true;
    try {
      await this.hooks.rename(c, this.name.value.trim());
      setText(this.nameSaved, "Name saved.");
    } catch (e) {
      setText(this.nameStatus, describeErrorFor("rename", e));
      this.name.focus();
    } finally {
      save.disabled = false;
    }
  }

  private async add(button: HTMLButtonElement): Promise<void> {
    const c = this.conv();
    if (!c) return;
    const username = normaliseUsername(this.addUser.value);
    if (!username) {
      setText(this.addStatus, "Enter a username.");
      this.addUser.focus();
      return;
    }
    button.disabled = true;
    setText(this.addStatus, "Adding…");
    try {
      const u = await this.api.findUser(username);
      if (!u) {
        setText(this.addStatus, `No user is called “${username}”.`);
        this.addUser.focus();
        return;
      }
      if (c.members.includes(u.user_id)) {
        setText(this.addStatus, `${u.display_name ?? u.username} is already a member.`);
        return;
      }
      this.store.learnUser(u.user_id, u.username, u.display_name);
      await this.hooks.addMember(c, u.user_id);
      this.addUser.value = "";
      setText(this.addStatus, `Added ${this.store.name(u.user_id)}.`);
    } catch (e) {
      setText(this.addStatus, describeErrorFor("add_member", e));
      this.addUser.focus();
    } finally {
      button.disabled = false;
    }
  }

  private async remove(button: HTMLButtonElement, userId: string): Promise<void> {
    const c = this.conv();
    if (!c) return;
    button.disabled = true;
    setText(this.membersError, "");
    try {
      await this.hooks.removeMember(c, userId);
    } catch (e) {
      setText(this.membersError, describeErrorFor("remove_member", e));
      button.disabled = false;
    }
  }

  private async leave(button: HTMLButtonElement): Promise<void> {
    const c = this.conv();
    if (!c) return;
    button.disabled = true;
    setText(this.leaveError, "");
    try {
      this.leaving = true;
      await this.hooks.leave(c);
      if (this.root.open) this.root.close();
    } catch (e) {
      this.leaving = false;
      setText(this.leaveError, describeErrorFor("leave", e));
    } finally {
      button.disabled = false;
    }
  }
}
