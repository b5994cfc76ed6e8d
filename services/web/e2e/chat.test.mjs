// @ts-check
// End-to-end: the built client in headless Chromium (Debian's, driven by playwright-core)
// against a real private stack (stack.mjs). Two people in two browser contexts sign up,
// chat, see each other typing and read ticks; one goes offline while the other sends
// five messages and, back online, sees them all once and in order; markup in a message
// shows as text. The session: the refresh token only in an HttpOnly cookie, nothing in
// storage, tickets (never tokens) in socket URLs, a reload restores the session, signing
// out in one tab signs out the others, a password change ends every session.
// Screenshots of the main screens land in test-output/.
//
// Nothing here sleeps for a fixed time to decide an outcome: every step waits for what
// the page shows, with generous limits.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { Stack, outDir } from "./stack.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const WAIT = 30_000;
const PASSWORD = "correct horse battery";
const XSS = "<img src=x onerror=alert(1)>";

/** @type {Stack} */
let stack;
/** @type {import("playwright-core").Browser} */
let browser;
const tag = randomBytes(3).toString("hex");
const alice = { username: `alice-${tag}`, display: "Alice" };
const bob = { username: `bob-${tag}`, display: "Bob" };
/** @type {import("playwright-core").BrowserContext} */
let ctxA;
/** @type {import("playwright-core").BrowserContext} */
let ctxB;
/** @type {import("playwright-core").Page} */
let pageA;
/** @type {import("playwright-core").Page} */
let pageB;
/** Anything a page ran that it should not have: dialogs (alert) and uncaught errors. */
const incidents = [];
/** Every WebSocket URL any page opened. */
const socketUrls = [];

async function shot(page, name) {
  await page.screenshot({ path: path.join(outDir, `${name}.png`) });
}

/** @param {import("playwright-core").BrowserContext} ctx @param {string} who */
async function newPage(ctx, who) {
  const page = await ctx.newPage();
  page.setDefaultTimeout(WAIT);
  page.on("dialog", (d) => {
    incidents.push(`${who}: dialog ${d.type()} "${d.message()}"`);
    void d.dismiss();
  });
  page.on("pageerror", (e) => incidents.push(`${who}: page error ${e.message}`));
  page.on("websocket", (ws) => socketUrls.push(ws.url()));
  return page;
}

/** Bodies of the messages in the open conversation, in the order shown. */
function bodies(page) {
  return page.locator("#messages li.msg .body").allTextContents();
}

/** The message <li> whose body is exactly `text`. */
function message(page, text) {
  return page.locator("#messages li.msg").filter({ has: page.locator(".body", { hasText: new RegExp(`^${escapeRe(text)}$`) }) });
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** @param {import("playwright-core").Page} page @param {string} text @param {string} status */
async function waitStatus(page, text, status) {
  await message(page, text).and(page.locator(`[data-status="${status}"]`)).waitFor({ timeout: WAIT });
}

async function signUp(page, user) {
  await page.goto(stack.baseUrl);
  await page.locator("#auth-username").waitFor();
  await page.click("#auth-switch");
  await page.fill("#auth-username", user.username);
  await page.fill("#auth-display", user.display);
  await page.fill("#auth-password", PASSWORD);
  await page.click("#auth-submit");
  await page.locator("#app-view").waitFor();
  await page.locator('#conn-status[data-state="online"]').waitFor();
}

/** An access token for REST calls from the test itself (no cookie: it is in the body). */
async function apiToken(user, password = PASSWORD) {
  const r = await fetch(`${stack.baseUrl}/api/v1/auth`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: user.username, password }),
  });
  assert.equal(r.status, 200);
  return (await r.json()).token;
}

async function userId(token, username) {
  const r = await fetch(`${stack.baseUrl}/api/v1/users?username=${encodeURIComponent(username)}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200);
  return (await r.json()).users[0].user_id;
}

/** What the page keeps in localStorage and sessionStorage, as [key, value] pairs. */
function stored(page) {
  return page.evaluate(() =>
    [localStorage, sessionStorage].flatMap((s) => Array.from({ length: s.length }, (_, i) => [s.key(i), s.getItem(s.key(i) ?? "")])),
  );
}

async function send(page, text) {
  await page.fill("#composer", text);
  await page.press("#composer", "Enter");
}

before(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  stack = await Stack.start();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  ctxA = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  ctxB = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  pageA = await newPage(ctxA, "alice");
  pageB = await newPage(ctxB, "bob");
});

after(async () => {
  try {
    if (pageA && pageB) {
      // The last state of both screens, for whoever reads a failure.
      await shot(pageA, "zz-last-alice").catch(() => {});
      await shot(pageB, "zz-last-bob").catch(() => {});
    }
    await browser?.close();
  } finally {
    await stack?.stop();
  }
});

describe("browser client", () => {
  test("the gateway serves the client and keeps the API first", async () => {
    const index = await fetch(`${stack.baseUrl}/some/client/route`);
    assert.equal(index.status, 200);
    assert.match(await index.text(), /<div id="root">/);
    assert.match(index.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    const api = await fetch(`${stack.baseUrl}/api/v1/nope`);
    assert.equal(api.status, 404);
    assert.equal((await api.json()).error.code, "not_found");
    const health = await fetch(`${stack.baseUrl}/healthz`);
    assert.equal((await health.json()).status, "ok");
  });

  test("sign up, sign in, and clear errors for what the server refuses", async () => {
    await pageA.goto(stack.baseUrl);
    await pageA.locator("#auth-username").waitFor();
    await shot(pageA, "01-sign-in");
    await signUp(pageA, alice);

    // Bob: a taken username, then his own; a wrong password, then the right one.
    await pageB.goto(stack.baseUrl);
    await pageB.click("#auth-switch");
    await pageB.fill("#auth-username", alice.username);
    await pageB.fill("#auth-password", PASSWORD);
    await pageB.click("#auth-submit");
    await pageB.locator("#auth-error", { hasText: "That username is taken" }).waitFor();
    await signUp(pageB, bob);
    await pageB.click("#sign-out");
    await pageB.locator("#auth-username").waitFor();
    // Signed out on the server: a reload does not bring the session back.
    await pageB.reload();
    await pageB.locator("#auth-username").waitFor();
    assert.equal(await pageB.locator("#auth-error").innerText(), "");
    await pageB.fill("#auth-username", bob.username);
    await pageB.fill("#auth-password", "not the password");
    await pageB.click("#auth-submit");
    await pageB.locator("#auth-error", { hasText: "Wrong username or password." }).waitFor();
    await pageB.fill("#auth-password", PASSWORD);
    await pageB.press("#auth-password", "Enter");
    await pageB.locator('#conn-status[data-state="online"]').waitFor();
    assert.equal(await pageB.textContent("#me"), bob.username);
  });

  test("two people chat: list, unread badge, typing, delivered and read ticks, reply, edit, delete", async () => {
    // Alice starts a direct conversation; an unknown username is refused clearly.
    await pageA.click("#new-conversation");
    await pageA.fill("#new-conv-users", `nobody-${tag}`);
    await pageA.click("#new-conv-create");
    await pageA.locator("#new-conv-error", { hasText: `No user is called “nobody-${tag}”` }).waitFor();
    await pageA.fill("#new-conv-users", bob.username);
    await pageA.click("#new-conv-create");
    await pageA.locator("#chat-title", { hasText: "Bob" }).waitFor();
    await send(pageA, "Hello Bob");
    await waitStatus(pageA, "Hello Bob", "delivered");

    // Bob's list: the conversation, its last message, one unread, Alice online.
    const item = pageB.locator("#conv-list button.conv").filter({ hasText: "Alice" });
    await item.locator(".conv-preview", { hasText: "Hello Bob" }).waitFor();
    await item.locator(".badge", { hasText: /^1$/ }).waitFor();
    await item.locator(".dot.online").waitFor();
    await shot(pageB, "02-conversation-list");

    // Bob opens it with the keyboard alone: Tab to the list, Enter.
    await pageB.locator("body").focus();
    for (let i = 0; i < 12; i++) {
      await pageB.keyboard.press("Tab");
      if (await pageB.evaluate(() => document.activeElement?.classList.contains("conv") ?? false)) break;
    }
    assert.equal(await pageB.evaluate(() => document.activeElement?.textContent?.includes("Alice")), true, "Tab reaches the conversation");
    await pageB.keyboard.press("Enter");
    await message(pageB, "Hello Bob").waitFor();
    await pageB.locator("#chat-subtitle", { hasText: "online" }).waitFor();
    await waitStatus(pageA, "Hello Bob", "read");
    await item.locator(".badge").waitFor({ state: "hidden" });

    // Bob types (focus is in the composer after opening): Alice sees it, then the message.
    assert.equal(await pageB.evaluate(() => document.activeElement?.id), "composer");
    await pageB.keyboard.type("Hi Alice, how are you?", { delay: 30 });
    await pageA.locator("#typing", { hasText: "Bob is typing…" }).waitFor();
    await shot(pageA, "03-chat-typing-and-ticks");
    await pageB.keyboard.press("Enter");
    await message(pageA, "Hi Alice, how are you?").waitFor();
    await pageA.waitForFunction(() => document.getElementById("typing")?.textContent === "");
    await waitStatus(pageB, "Hi Alice, how are you?", "read");

    // Alice replies to Bob's message.
    const bobs = message(pageA, "Hi Alice, how are you?");
    await bobs.hover();
    await bobs.locator("button.reply").click();
    await pageA.locator("#context-bar", { hasText: "Replying to Bob" }).waitFor();
    await pageA.keyboard.type("Fine, thanks!");
    await pageA.keyboard.press("Enter");
    const reply = message(pageB, "Fine, thanks!");
    await reply.locator(".quote", { hasText: "Hi Alice, how are you?" }).waitFor();

    // Alice edits her first message and deletes a mistake.
    const hello = message(pageA, "Hello Bob");
    await hello.hover();
    await hello.locator("button.edit").click();
    await pageA.fill("#composer", "Hello Bob, good morning");
    await pageA.press("#composer", "Enter");
    await message(pageB, "Hello Bob, good morning").locator(".edited").waitFor();
    await send(pageA, "wrong chat, sorry");
    await message(pageB, "wrong chat, sorry").waitFor();
    const oops = message(pageA, "wrong chat, sorry");
    await waitStatus(pageA, "wrong chat, sorry", "read");
    await oops.hover();
    await oops.locator("button.delete").click();
    await pageA.click("#delete-confirm");
    await message(pageB, "This message was deleted.").waitFor();
    assert.equal(await message(pageB, "wrong chat, sorry").count(), 0);
    await shot(pageB, "03b-chat-reply-edit-delete");
    assert.deepEqual(incidents, []);
  });

  test("a message of markup shows as text and runs nothing", async () => {
    await send(pageA, XSS);
    await message(pageB, XSS).waitFor();
    await waitStatus(pageA, XSS, "read");
    assert.equal(await message(pageB, XSS).locator(".body").textContent(), XSS);
    assert.equal(await pageB.locator("#messages img").count(), 0);
    assert.equal(await pageA.locator("#messages img").count(), 0);
    // Also in the other places a body appears: the list preview and a reply quote.
    await pageA.locator("#conv-list .conv-preview", { hasText: XSS }).waitFor();
    const x = message(pageB, XSS);
    await x.hover();
    await x.locator("button.reply").click();
    await pageB.keyboard.type("that is just text");
    await pageB.keyboard.press("Enter");
    await message(pageA, "that is just text").locator(".quote", { hasText: XSS }).waitFor();
    await shot(pageB, "04-markup-shown-as-text");
    assert.deepEqual(incidents, [], "no dialog opened and no script error");
  });

  test("offline and back: five messages arrive once, in order; a message sent offline goes once", async () => {
    await ctxB.setOffline(true);
    await pageB.locator('#conn-status[data-state="offline"]').waitFor();
    // Offline, Bob cannot know whether Alice is still there: no stale "online".
    await pageB.locator('#chat-subtitle[data-presence="unknown"]').waitFor({ state: "attached" });
    assert.equal(await pageB.locator("#chat-subtitle").innerText(), "");

    // Bob writes while offline: it waits as pending.
    await send(pageB, "sent while offline");
    await waitStatus(pageB, "sent while offline", "pending");

    const five = [1, 2, 3, 4, 5].map((i) => `offline ${i}`);
    for (const text of five) await send(pageA, text);
    for (const text of five) await waitStatus(pageA, text, "sent");
    await shot(pageB, "05a-offline");

    await ctxB.setOffline(false);
    await pageB.locator('#conn-status[data-state="online"]').waitFor();
    await pageB.locator('#chat-subtitle[data-presence="online"]').waitFor();
    // Bob has the conversation open, so he reads them: Alice sees the last one read.
    await waitStatus(pageA, "offline 5", "read");
    await waitStatus(pageB, "sent while offline", "read");
    await message(pageA, "sent while offline").waitFor();

    const seenByBob = (await bodies(pageB)).filter((b) => b.startsWith("offline "));
    assert.deepEqual(seenByBob, five, "each of the five exactly once, in order");
    assert.equal(await message(pageA, "sent while offline").count(), 1);
    assert.equal(await message(pageB, "sent while offline").count(), 1);
    // And Bob's whole timeline is in seq order with no message twice.
    const seqs = await pageB.locator("#messages li.msg[data-seq]").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-seq"))));
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
    assert.equal(new Set(seqs).size, seqs.length);
    await shot(pageB, "05-offline-reconnect");
  });

  test("history scrolls back to the first message", async () => {
    // A group with 120 messages sent through the API, then Alice reloads: the page
    // holds the newest 50, and scrolling up loads the rest.
    // The page's token is out of reach (memory only): the test signs in on its own.
    const token = await apiToken(alice);
    const bobId = await userId(token, bob.username);
    const auth = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
    const created = await fetch(`${stack.baseUrl}/api/v1/conversations`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ kind: "group", name: "Long history", members: [bobId] }),
    });
    assert.equal(created.status, 201);
    const { conversation_id } = await created.json();
    for (let i = 1; i <= 120; i++) {
      const r = await fetch(`${stack.baseUrl}/api/v1/conversations/${conversation_id}/messages`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ client_msg_id: `h-${i}`, body: `history ${i}` }),
      });
      assert.equal(r.status, 201);
    }
    // The history projection has them all (it trails the log a little).
    const deadline = Date.now() + WAIT;
    for (;;) {
      const r = await fetch(`${stack.baseUrl}/api/v1/conversations/${conversation_id}/messages?limit=1`, { headers: auth });
      const page = await r.json();
      if (page.messages[0]?.body === "history 120") break;
      assert.ok(Date.now() < deadline, "history projection caught up");
      await new Promise((res) => setTimeout(res, 200));
    }

    // The reload restores the session from the refresh cookie.
    await pageA.reload();
    await pageA.locator('#conn-status[data-state="online"]').waitFor();
    await pageA.locator("#conv-list button.conv", { hasText: "Long history" }).click();
    await message(pageA, "history 120").waitFor();
    assert.ok((await bodies(pageA)).length < 120, "only the newest page at first");
    // Scroll up until the first message is there.
    const first = message(pageA, "history 1");
    const scrollDeadline = Date.now() + 60_000;
    while ((await first.count()) === 0) {
      assert.ok(Date.now() < scrollDeadline, "scrolling up reaches the first message");
      await pageA.locator("#messages").evaluate((el) => el.scrollTo(0, 0));
      await pageA.waitForTimeout(150);
    }
    await pageA.locator("#load-older", { hasText: "This is the beginning of the conversation." }).waitFor();
    const all = await bodies(pageA);
    assert.deepEqual(
      all,
      Array.from({ length: 120 }, (_, i) => `history ${i + 1}`),
    );
    // Loading a page keeps the reader's place; show the start for the screenshot.
    await pageA.locator("#messages").evaluate((el) => el.scrollTo(0, 0));
    await shot(pageA, "06-history-scrolled-to-start");
  });

  test("the refresh token is an HttpOnly cookie; no token in storage or socket URLs; a reload restores the session", async () => {
    const cookies = await ctxA.cookies(`${stack.baseUrl}/api/v1/auth/refresh`);
    const refresh = cookies.find((c) => c.name === "chat_refresh");
    assert.ok(refresh, `the refresh cookie is set: ${cookies.map((c) => c.name).join(", ")}`);
    assert.equal(refresh.httpOnly, true);
    assert.equal(refresh.sameSite, "Strict");
    assert.equal(refresh.path, "/api/v1/auth");
    // Scripts on the page see none of it, and nothing is kept in storage.
    assert.doesNotMatch(await pageA.evaluate(() => document.cookie), /chat_refresh/);
    assert.deepEqual(await stored(pageA), []);
    assert.deepEqual(await stored(pageB), []);

    // A token an older version left in localStorage is removed on load; the session
    // comes back from the cookie.
    await pageA.evaluate(() => localStorage.setItem("chat.session", JSON.stringify({ token: "left-over" })));
    await pageA.reload();
    await pageA.locator('#conn-status[data-state="online"]').waitFor();
    assert.equal(await pageA.textContent("#me"), alice.username);
    assert.deepEqual(await stored(pageA), []);

    // The refresh needs the CSRF header: the cookie alone (what a cross-site form could
    // send) gets nothing.
    const withoutHeader = await pageA.evaluate(async () => {
      const r = await fetch("/api/v1/auth/refresh", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
      return { status: r.status, body: await r.text() };
    });
    assert.ok(withoutHeader.status >= 400 && withoutHeader.status < 500, JSON.stringify(withoutHeader));
    assert.doesNotMatch(withoutHeader.body, /"token"/);

    assert.ok(socketUrls.length > 0, "sockets were opened");
    for (const url of socketUrls) {
      assert.match(url, /\/api\/v1\/ws\?ticket=[^&]+$/);
      assert.doesNotMatch(url, /token=/);
    }
  });

  test("signing out in one tab signs out the others, with a clear message", async () => {
    // A second tab of Bob's: same browser, same cookie, its own session restore.
    const pageB2 = await newPage(ctxB, "bob-2");
    await pageB2.goto(stack.baseUrl);
    await pageB2.locator('#conn-status[data-state="online"]').waitFor();
    assert.equal(await pageB2.textContent("#me"), bob.username);

    await pageB.click("#sign-out");
    await pageB.locator("#auth-username").waitFor();
    // The other tab's socket is closed (session revoked) and it says so.
    await pageB2.locator("#auth-error", { hasText: "You were signed out" }).waitFor();
    await shot(pageB2, "07-signed-out-elsewhere");
    await pageB2.reload();
    await pageB2.locator("#auth-username").waitFor();
    await pageB2.close();
    assert.deepEqual(incidents, []);
  });

  test("a password change signs out every session; the new password works", async () => {
    const NEW_PASSWORD = "a brand new passphrase";
    const otherToken = await apiToken(alice);
    await pageA.click("#change-password");
    await pageA.locator("#password-dialog").waitFor();
    await pageA.fill("#password-current", "not my password");
    await pageA.fill("#password-new", NEW_PASSWORD);
    await pageA.click("#password-save");
    await pageA.locator("#password-error", { hasText: "The current password is wrong." }).waitFor();
    await pageA.fill("#password-current", PASSWORD);
    await pageA.fill("#password-new", NEW_PASSWORD);
    await pageA.press("#password-new", "Enter");
    await pageA.locator("#auth-error", { hasText: "Your password was changed" }).waitFor();
    // Another session of Alice's (the test's own token) ended too.
    const refused = await fetch(`${stack.baseUrl}/api/v1/conversations`, { headers: { Authorization: `Bearer ${otherToken}` } });
    assert.equal(refused.status, 401);
    await pageA.fill("#auth-username", alice.username);
    await pageA.fill("#auth-password", NEW_PASSWORD);
    await pageA.press("#auth-password", "Enter");
    await pageA.locator('#conn-status[data-state="online"]').waitFor();
    assert.deepEqual(incidents, []);
  });
});
