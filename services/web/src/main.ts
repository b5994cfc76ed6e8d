// Entry point. The access token lives in memory only, so a page load starts signed out
// and asks the server to restore the session from the HttpOnly refresh cookie; the
// sign-in form shows when there is none (or it is no longer valid).

import "./style.css";
import { Api, LEGACY_SESSION_KEY } from "./api";
import { describeError } from "./errors";
import { type EndReason, Session, type TokenAnswer, refreshRefused } from "./session";
import { setAttachmentResolver } from "./ui/attachments";
import { authView } from "./ui/auth";
import { ChatApp } from "./ui/chat";
import { h } from "./ui/dom";

const root = document.getElementById("root");
if (!root) throw new Error("no #root element");
const mount: HTMLElement = root;

const api = new Api();
// Attachments' routes need the bearer token: resolve them to presigned links.
setAttachmentResolver((route) => api.attachmentLink(route));
let app: ChatApp | null = null;
let session: Session | null = null;

/** What the sign-in form says when a session ended without the person asking. */
const ENDED_NOTICE: Record<EndReason, string | undefined> = {
  expired: "You were signed out: your session has expired. Please sign in again.",
  revoked: "You were signed out: this session was ended (signed out elsewhere, or the password was changed). Please sign in again.",
  password_changed: "Your password was changed and every session was signed out. Sign in with the new password.",
  signed_out: undefined,
};

function showAuth(notice?: string): void {
  app?.stop();
  app = null;
  const old = session;
  session = null;
  api.setSession(null);
  // Already ended when the session itself called us; ending twice is a no-op.
  old?.end("signed_out");
  document.title = "Sign in · Chat";
  mount.replaceChildren(authView(api, (answer, username) => void begin(answer, username), notice));
}

/** A session from a sign-in (username known) or a restored one (looked up by id). */
async function begin(answer: TokenAnswer, username: string | null): Promise<void> {
  const s: Session = new Session(answer, {
    refresh: () => api.refresh(),
    renewed: (token) => app?.tokenRenewed(token),
    ended: (why) => {
      if (session === s) showAuth(ENDED_NOTICE[why]);
    },
  });
  session = s;
  api.setSession(s);
  let name = username;
  if (!name) {
    try {
      name = (await api.userById(s.userId))?.username ?? null;
    } catch {
      name = null;
    }
    if (session !== s) return;
  }
  showChat(s, name ?? "(you)");
}

function showChat(s: Session, username: string): void {
  document.title = "Chat";
  app = new ChatApp(api, s, username, {
    signOut: async () => {
      await api.signOut();
      s.end("signed_out");
    },
    passwordChanged: () => s.end("password_changed"),
  });
  mount.replaceChildren(app.root);
  void app.start();
}

async function restore(): Promise<void> {
  // Older versions kept the token here; it must not outlive the upgrade.
  try {
    localStorage.removeItem(LEGACY_SESSION_KEY);
  } catch {
    /* storage disabled: nothing to remove */
  }
  mount.replaceChildren(
    h("main", { class: "auth", id: "restoring", "aria-busy": "true" }, h("p", { role: "status" }, "Signing in…")),
  );
  let answer: TokenAnswer;
  try {
    answer = await api.refresh();
  } catch (e) {
    // No cookie, or one the server no longer knows: a plain sign-in, no error to show.
    showAuth(refreshRefused(e) ? undefined : describeError(e));
    return;
  }
  await begin(answer, null);
}

void restore();
