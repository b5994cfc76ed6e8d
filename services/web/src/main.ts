// Entry point: the sign-in screen, or the chat when a session is stored.

import "./style.css";
import { Api, type Session, loadSession, saveSession } from "./api";
import { authView } from "./ui/auth";
import { ChatApp } from "./ui/chat";

const root = document.getElementById("root");
if (!root) throw new Error("no #root element");
const mount: HTMLElement = root;

const api = new Api();
let app: ChatApp | null = null;

function showAuth(notice?: string): void {
  app?.stop();
  app = null;
  saveSession(null);
  api.setToken(null);
  document.title = "Sign in · Chat";
  mount.replaceChildren(authView(api, showChat, notice));
}

function showChat(s: Session): void {
  saveSession(s);
  api.setToken(s.token);
  document.title = "Chat";
  app = new ChatApp(api, s, (notice) => showAuth(notice));
  mount.replaceChildren(app.root);
  void app.start();
  // Sign out when the token is refused (expired, or the secret rotated).
  api.onUnauthenticated = () => showAuth("Your session has ended. Please sign in again.");
  const expiresIn = Date.parse(s.expires_at) - Date.now();
  if (expiresIn > 0 && expiresIn < 2 ** 31) {
    setTimeout(() => {
      if (app) showAuth("Your session has ended. Please sign in again.");
    }, expiresIn);
  }
}

const stored = loadSession();
if (stored) showChat(stored);
else showAuth();
