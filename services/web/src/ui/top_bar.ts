// The bar across the top of the signed-in screen: the connection state (a status live
// region, with "Reconnect now" while a retry is waiting), who is signed in, Change
// password, Sign out.

import type { ConnState } from "../socket";
import { h, setText } from "./dom";

export interface TopBarHooks {
  reconnectNow: () => void;
  signOut: () => void;
  changePassword: () => void;
}

export class TopBar {
  readonly root: HTMLElement;
  private readonly status = h("p", { class: "conn", id: "conn-status", role: "status", "data-state": "connecting" });
  private readonly reconnect = h("button", { type: "button", class: "link", id: "reconnect-now" }, "Reconnect now");

  constructor(username: string, hooks: TopBarHooks) {
    this.reconnect.addEventListener("click", () => hooks.reconnectNow());
    const signOut = h("button", { type: "button", id: "sign-out" }, "Sign out");
    signOut.addEventListener("click", () => hooks.signOut());
    const password = h("button", { type: "button", class: "link", id: "change-password" }, "Change password");
    password.addEventListener("click", () => hooks.changePassword());
    this.root = h(
      "header",
      { class: "topbar" },
      h("h1", { class: "brand" }, "Chat"),
      h("div", { class: "conn-wrap" }, this.status, this.reconnect),
      h("p", { class: "me" }, "Signed in as ", h("strong", { id: "me" }, username)),
      password,
      signOut,
    );
  }

  showConnection(s: ConnState, retryIn: number | null): void {
    this.status.dataset.state = s;
    const text =
      s === "online"
        ? "Connected"
        : s === "connecting"
          ? "Connecting…"
          : navigator.onLine
            ? `Offline. Reconnecting${retryIn ? ` in ${Math.ceil(retryIn / 1000)} s` : ""}… Messages you send are kept and go out when you are back.`
            : "You are offline. Messages you send are kept and go out when you are back.";
    setText(this.status, text);
    // Reconnecting by hand helps only while the browser has a network to try.
    this.reconnect.hidden = s !== "offline" || !navigator.onLine;
  }

  /** A notice where people look when no conversation is open; the next state replaces it. */
  notice(text: string): void {
    setText(this.status, text);
  }
}
