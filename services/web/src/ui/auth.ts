// Sign in and sign up: one form, two modes.

import type { Api } from "../api";
import type { TokenAnswer } from "../session";
import { describeError } from "../errors";
import { h, setText } from "./dom";

export function authView(api: Api, done: (answer: TokenAnswer, username: string) => void, notice?: string): HTMLElement {
  let mode: "signin" | "signup" = "signin";

  const error = h("p", { class: "form-error", role: "alert", id: "auth-error" });
  if (notice) setText(error, notice);
  const username = h("input", {
    id: "auth-username",
    name: "username",
    autocomplete: "username",
    required: true,
    minlength: 3,
    maxlength: 32,
    autocapitalize: "none",
    spellcheck: "false",
    "aria-describedby": "auth-username-hint",
  });
  const usernameHint = h("span", { class: "hint", id: "auth-username-hint" }, "3 to 32 characters: a–z, 0–9, '.', '_' or '-'");
  const display = h("input", { id: "auth-display", name: "display_name", autocomplete: "name", maxlength: 64 });
  const password = h("input", {
    id: "auth-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
    minlength: 8,
    "aria-describedby": "auth-password-hint",
  });
  const passwordHint = h("span", { class: "hint", id: "auth-password-hint" }, "At least 8 characters");
  const displayField = h("div", { class: "field", hidden: true }, h("label", { for: "auth-display" }, "Display name (optional)"), display);
  const submit = h("button", { type: "submit", class: "primary", id: "auth-submit" }, "Sign in");
  const heading = h("h2", { id: "auth-heading" }, "Sign in");
  const switchText = h("span", {}, "No account yet?");
  const switchButton = h("button", { type: "button", class: "link", id: "auth-switch" }, "Create an account");

  const setMode = (m: typeof mode) => {
    mode = m;
    const up = m === "signup";
    setText(heading, up ? "Create an account" : "Sign in");
    setText(submit, up ? "Create account" : "Sign in");
    setText(switchText, up ? "Already have an account?" : "No account yet?");
    setText(switchButton, up ? "Sign in instead" : "Create an account");
    displayField.hidden = !up;
    usernameHint.hidden = !up;
    passwordHint.hidden = !up;
    password.setAttribute("autocomplete", up ? "new-password" : "current-password");
    setText(error, "");
    username.focus();
  };
  switchButton.addEventListener("click", () => setMode(mode === "signin" ? "signup" : "signin"));
  usernameHint.hidden = true;
  passwordHint.hidden = true;

  const form = h(
    "form",
    { class: "auth-form", "aria-labelledby": "auth-heading", novalidate: true },
    heading,
    h("div", { class: "field" }, h("label", { for: "auth-username" }, "Username"), username, usernameHint),
    displayField,
    h("div", { class: "field" }, h("label", { for: "auth-password" }, "Password"), password, passwordHint),
    error,
    submit,
    h("p", { class: "switch" }, switchText, " ", switchButton),
  );

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = username.value.trim().toLowerCase();
    if (!name || !password.value) {
      setText(error, "Enter a username and a password.");
      (name ? password : username).focus();
      return;
    }
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    setText(error, "");
    try {
      if (mode === "signup") await api.signUp(name, password.value, display.value.trim());
      const r = await api.signIn(name, password.value);
      done(r, name);
    } catch (e) {
      setText(error, describeError(e));
      password.focus();
      password.select();
    } finally {
      submit.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });

  const view = h(
    "main",
    { class: "auth", id: "auth-view" },
    h("div", { class: "auth-card" }, h("h1", { class: "brand" }, "Chat"), h("p", { class: "tagline" }, "Sign in to talk with your team."), form),
  );
  queueMicrotask(() => username.focus());
  return view;
}
