// @ts-check
// End-to-end, protocol v1.1 in the browser: threads, reactions, pins and group
// management, with the built client in headless Chromium against a real private stack
// (stack.mjs), like chat.test.mjs. Two people, Alice and Bob, in two browser contexts
// share a group: a thread grows on both screens at once, reactions toggle and are put
// back with the reason when the server refuses them, a pin outside the loaded history
// is brought into view, an image and a file go through storage, a search finds a
// message (its markup shown as text) and opens it, the group is renamed, gains and loses
// a member, and Bob leaves. Then (protocol v1.3) a second group gets disappearing
// messages: Alice sets them, both headers follow live, Bob (no admin) cannot change
// them, the operator's upper limit is explained, and Off clears them. Screenshots land
// in test-output/.
//
// Every step waits for what the page shows, with generous limits; no fixed sleep decides
// an outcome.

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

/** @type {Stack} */
let stack;
/** @type {import("playwright-core").Browser} */
let browser;
const tag = randomBytes(3).toString("hex");
const alice = { username: `alice-${tag}`, display: "Alice" };
const bob = { username: `bob-${tag}`, display: "Bob" };
const carol = { username: `carol-${tag}`, display: "Carol" };
/** @type {import("playwright-core").BrowserContext} */
let ctxA;
/** @type {import("playwright-core").BrowserContext} */
let ctxB;
/** @type {import("playwright-core").Page} */
let pageA;
/** @type {import("playwright-core").Page} */
let pageB;
/** The group both share, its id, and a REST token of Alice's (the page's is out of reach). */
const GROUP = "Project v11";
let groupId = "";
let aliceToken = "";
/**
 * The operator's limit for a group's own retention (v1.3). The default is no upper limit;
 * this stack has one, so the disappearing-messages test sees the server's refusal of a
 * longer one. Nothing else here sets a retention.
 */
const RETENTION_MAX_DAYS = 30;
/** Dialogs (alert) and uncaught errors: none may happen. */
const incidents = [];

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
  return page;
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The message <li> whose body is exactly `text`, in the timeline (or another list). */
function message(page, text, list = "#messages") {
  return page.locator(`${list} li.msg`).filter({ has: page.locator(".body", { hasText: new RegExp(`^${escapeRe(text)}$`) }) });
}

/** Bodies shown in a list, in order. */
function bodies(page, list = "#messages") {
  return page.locator(`${list} li.msg .body`).allTextContents();
}

/** Press one of a message's actions (they show on hover and on focus). */
async function act(page, text, action, list = "#messages") {
  const m = message(page, text, list);
  await m.hover();
  await m.locator(`button.act.${action}`).click();
}

/** The reaction chip `emoji` under the message `text` (its text is emoji then count). */
function chip(page, text, emoji, list = "#messages") {
  return message(page, text, list).locator(`button.chip[data-emoji="${emoji}"]`);
}

async function waitChip(page, text, emoji, count, pressed, list = "#messages") {
  await chip(page, text, emoji, list).and(page.locator(`[aria-pressed="${pressed}"]`)).filter({ hasText: new RegExp(`${escapeRe(String(count))}$`) }).waitFor();
}

async function signUp(page, user) {
  await page.goto(stack.baseUrl);
  await page.locator("#auth-username").waitFor();
  await page.click("#auth-switch");
  await page.fill("#auth-username", user.username);
  await page.fill("#auth-display", user.display);
  await page.fill("#auth-password", PASSWORD);
  await page.click("#auth-submit");
  await page.locator('#conn-status[data-state="online"]').waitFor();
}

async function send(page, text, composer = "#composer") {
  await page.fill(composer, text);
  await page.press(composer, "Enter");
}

/** An access token of the test's own (a session of its own; no cookie). */
async function tokenOf(user) {
  const r = await fetch(`${stack.baseUrl}/api/v1/auth`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: user.username, password: PASSWORD }),
  });
  assert.equal(r.status, 200);
  return (await r.json()).token;
}

/** @param {string} method @param {string} p @param {unknown} [body] */
async function rest(method, p, body) {
  const r = await fetch(`${stack.baseUrl}${p}`, {
    method,
    headers: { Authorization: `Bearer ${aliceToken}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

/** The history projection has caught up to a message with this body (newest page). */
async function inHistory(body) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const r = await rest("GET", `/api/v1/conversations/${groupId}/messages?limit=200`);
    const m = r.json?.messages?.find((x) => x.body === body);
    if (m) return m;
    assert.ok(Date.now() < deadline, `history has "${body}"`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** Alice's conversation list (the projection, which trails the log) says `days` for `id`. */
async function listedRetention(id, days) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const r = await rest("GET", "/api/v1/conversations?limit=200");
    const c = r.json?.conversations?.find((x) => x.conversation_id === id);
    if (c && c.retention_days === days) return;
    assert.ok(Date.now() < deadline, `the list says retention_days ${days} (it says ${JSON.stringify(c?.retention_days)})`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

before(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  stack = await Stack.start({ settings: { CHAT__COMPLIANCE__CONVERSATION_RETENTION_MAX_DAYS: String(RETENTION_MAX_DAYS) } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  ctxA = await browser.newContext({ viewport: { width: 1200, height: 760 } });
  ctxB = await browser.newContext({ viewport: { width: 1200, height: 760 } });
  pageA = await newPage(ctxA, "alice");
  pageB = await newPage(ctxB, "bob");
});

after(async () => {
  try {
    if (pageA && pageB) {
      await shot(pageA, "zz-collab-last-alice").catch(() => {});
      await shot(pageB, "zz-collab-last-bob").catch(() => {});
    }
    await browser?.close();
  } finally {
    await stack?.stop();
  }
});

describe("browser client, protocol v1.1", () => {
  test("setup: three people, and a group Alice starts from the dialog", async () => {
    await signUp(pageA, alice);
    await signUp(pageB, bob);
    // Carol only needs to exist (she is added and removed later).
    const r = await fetch(`${stack.baseUrl}/api/v1/users`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: carol.username, password: PASSWORD, display_name: carol.display }),
    });
    assert.equal(r.status, 201);
    aliceToken = await tokenOf(alice);

    await pageA.click("#new-conversation");
    await pageA.check("#kind-group");
    await pageA.fill("#new-conv-users", bob.username);
    await pageA.fill("#new-conv-name", GROUP);
    await pageA.click("#new-conv-create");
    await pageA.locator("#chat-title", { hasText: GROUP }).waitFor();
    groupId = (await pageA.locator("#conv-list button.conv[aria-current='true']").getAttribute("data-id")) ?? "";
    assert.ok(groupId, "the open conversation's id");
    await send(pageA, "Thread root");
    await pageB.locator("#conv-list button.conv", { hasText: GROUP }).click();
    await message(pageB, "Thread root").waitFor();
    // A group has settings; the header has the pins button.
    await pageB.locator("#conv-settings").waitFor();
    await pageB.locator("#pins-button", { hasText: /^Pinned$/ }).waitFor();
  });

  test("threads: replies go to the panel on both screens, never the timeline; counts under the root; Esc closes", async () => {
    await act(pageB, "Thread root", "thread");
    await pageB.locator("#thread-panel[data-loaded]").waitFor();
    await message(pageB, "Thread root", "#thread-root").waitFor();
    assert.equal(await pageB.evaluate(() => document.activeElement?.id), "thread-composer", "focus goes to the thread's composer");
    await send(pageB, "first reply", "#thread-composer");
    await message(pageB, "first reply", "#thread-replies").and(pageB.locator('[data-status="sent"], [data-status="delivered"], [data-status="read"]')).waitFor();

    // Alice: the reply is counted under the root, not shown in the timeline.
    const summary = message(pageA, "Thread root").locator(".thread-summary");
    await summary.filter({ hasText: "1 reply" }).waitFor();
    assert.equal(await message(pageA, "first reply").count(), 0);
    await summary.click();
    await pageA.locator("#thread-panel[data-loaded]").waitFor();
    await message(pageA, "first reply", "#thread-replies").waitFor();
    await send(pageA, "second reply", "#thread-composer");
    // Bob has the thread open: the reply arrives there live, in order.
    await message(pageB, "second reply", "#thread-replies").waitFor();
    assert.deepEqual(await bodies(pageB, "#thread-replies"), ["first reply", "second reply"]);
    for (const page of [pageA, pageB]) {
      await message(page, "Thread root").locator(".thread-summary", { hasText: "2 replies" }).waitFor();
      assert.deepEqual(await bodies(page), ["Thread root"], "the timeline holds no reply");
    }
    await shot(pageA, "11-thread-panel");

    // Esc closes the panel; focus goes back to what opened it.
    await pageA.locator("#thread-composer").focus();
    await pageA.keyboard.press("Escape");
    await pageA.locator("#thread-panel").waitFor({ state: "hidden" });
    assert.equal(await pageA.evaluate(() => document.activeElement?.classList.contains("thread-summary")), true);
    await pageB.click("#thread-close");
    await pageB.locator("#thread-panel").waitFor({ state: "hidden" });

    // After a reload the page (threads=exclude) still leaves replies out, and the
    // server's summary says how many there are.
    await inHistory("Thread root");
    await pageA.reload();
    await pageA.locator('#conn-status[data-state="online"]').waitFor();
    await pageA.locator("#conv-list button.conv", { hasText: GROUP }).click();
    await message(pageA, "Thread root").locator(".thread-summary", { hasText: "2 replies" }).waitFor();
    assert.deepEqual(await bodies(pageA), ["Thread root"]);
    assert.deepEqual(incidents, []);
  });

  test("reactions: picker by keyboard, chips toggle on both screens, shortcodes, refusals put back with the reason", async () => {
    await send(pageA, "React to me");
    await message(pageB, "React to me").waitFor();

    // Alice: React, then the picker with the keyboard alone (focus starts on 👍).
    await act(pageA, "React to me", "react");
    await pageA.locator("#reaction-dialog[open]").waitFor();
    assert.equal(await pageA.evaluate(() => document.activeElement?.getAttribute("aria-label")), "thumbs up");
    await pageA.keyboard.press("Enter");
    await waitChip(pageA, "React to me", "👍", 1, true);
    await waitChip(pageB, "React to me", "👍", 1, false);

    // Bob presses the chip: two, pressed for him; Alice takes hers back.
    await chip(pageB, "React to me", "👍").click();
    await waitChip(pageB, "React to me", "👍", 2, true);
    await waitChip(pageA, "React to me", "👍", 2, true);
    await chip(pageA, "React to me", "👍").click();
    await waitChip(pageA, "React to me", "👍", 1, false);
    await waitChip(pageB, "React to me", "👍", 1, true);

    // Typed: something that is no emoji is refused in the picker; a shortcode of a common
    // emoji becomes it; any other shortcode is sent as it is, lower-cased.
    await act(pageB, "React to me", "react");
    await pageB.fill("#reaction-custom", "hello");
    await pageB.press("#reaction-custom", "Enter");
    await pageB.locator("#reaction-error", { hasText: "not a single emoji" }).waitFor();
    await pageB.fill("#reaction-custom", ":tada:");
    await pageB.press("#reaction-custom", "Enter");
    await waitChip(pageA, "React to me", "🎉", 1, false);
    await act(pageB, "React to me", "react");
    await pageB.fill("#reaction-custom", ":Ship_It:");
    await pageB.press("#reaction-custom", "Enter");
    await waitChip(pageA, "React to me", ":ship_it:", 1, false);
    await waitChip(pageB, "React to me", ":ship_it:", 1, true);
    // Chips keep the order of first use.
    assert.deepEqual(await message(pageA, "React to me").locator("button.chip").evaluateAll((els) => els.map((e) => e.getAttribute("data-emoji"))), ["👍", "🎉", ":ship_it:"]);
    await shot(pageA, "12-reactions");

    // Refused by the server: Bob reacts offline to a message Alice deletes meanwhile. The
    // chip shows at once, the server says not_found when he is back, and it goes away
    // with the reason.
    await send(pageA, "Soon deleted");
    await message(pageB, "Soon deleted").waitFor();
    await ctxB.setOffline(true);
    await pageB.locator('#conn-status[data-state="offline"]').waitFor();
    await act(pageB, "Soon deleted", "react");
    await pageB.keyboard.press("Enter");
    await waitChip(pageB, "Soon deleted", "👍", 1, true);
    await act(pageA, "Soon deleted", "delete");
    await pageA.click("#delete-confirm");
    await message(pageA, "This message was deleted.").waitFor();
    await ctxB.setOffline(false);
    await pageB.locator('#conn-status[data-state="online"]').waitFor();
    await pageB.locator("#composer-error", { hasText: "That message was deleted, so it cannot take reactions." }).waitFor();
    await message(pageB, "This message was deleted.").waitFor();
    assert.equal(await pageB.locator('#messages button.chip[data-emoji="👍"]').count(), 1, "only the chip of “React to me” is left");

    // The distinct-emoji limit: 50 shortcodes through the API, then a 51st from the page.
    const target = await inHistory("React to me");
    for (let i = 0; i < 47; i++) {
      const r = await rest("PUT", `/api/v1/conversations/${groupId}/messages/${target.message_id}/reactions/${encodeURIComponent(`:e${i}:`)}`);
      assert.equal(r.status, 204, JSON.stringify(r.json));
    }
    await message(pageB, "React to me").locator("button.chip").nth(49).waitFor();
    await act(pageB, "React to me", "react");
    await pageB.fill("#reaction-custom", ":one_too_many:");
    await pageB.press("#reaction-custom", "Enter");
    await pageB.locator("#composer-error", { hasText: "most different reactions it can have (50)" }).waitFor();
    assert.equal(await chip(pageB, "React to me", ":one_too_many:").count(), 0);
    // Over REST the server says the same.
    const refused = await rest("PUT", `/api/v1/conversations/${groupId}/messages/${target.message_id}/reactions/${encodeURIComponent(":one_too_many:")}`);
    assert.equal(refused.json?.error?.code, "too_many_reactions");
    assert.deepEqual(incidents, []);
  });

  test("pins: pin and unpin from both screens, live; a pin outside the loaded history is brought into view", async () => {
    await send(pageA, "Pin me");
    await message(pageB, "Pin me").waitFor();
    await act(pageA, "Pin me", "pin");
    await pageA.locator("#pins-button", { hasText: "Pinned (1)" }).waitFor();
    await pageB.locator("#pins-button", { hasText: "Pinned (1)" }).waitFor();
    await message(pageB, "Pin me").locator(".pinned-mark").waitFor();
    // The action now says Unpin.
    await message(pageA, "Pin me").hover();
    await message(pageA, "Pin me").locator("button.act.pin", { hasText: "Unpin" }).waitFor();

    // A reply in the thread can be pinned too; choosing it opens its thread.
    await message(pageA, "Thread root").locator(".thread-summary").click();
    await message(pageA, "second reply", "#thread-replies").waitFor();
    await act(pageA, "second reply", "pin", "#thread-replies");
    await pageB.locator("#pins-button", { hasText: "Pinned (2)" }).waitFor();
    await pageA.click("#thread-close");

    // 60 more messages push "Pin me" out of the newest page; Bob reloads.
    for (let i = 1; i <= 60; i++) {
      const r = await rest("POST", `/api/v1/conversations/${groupId}/messages`, { client_msg_id: `fill-${tag}-${i}`, body: `filler ${i}` });
      assert.equal(r.status, 201);
    }
    await inHistory("filler 60");
    await pageB.reload();
    await pageB.locator('#conn-status[data-state="online"]').waitFor();
    await pageB.locator("#conv-list button.conv", { hasText: GROUP }).click();
    await message(pageB, "filler 60").waitFor();
    assert.equal(await message(pageB, "Pin me").count(), 0, "not in the newest page");
    await pageB.locator("#pins-button", { hasText: "Pinned (2)" }).click();
    await pageB.locator("#pins-dialog[open]").waitFor();
    // Newest first: the reply was pinned last.
    await pageB.locator("#pins-list li").nth(1).waitFor();
    assert.match(await pageB.locator("#pins-list li").nth(0).innerText(), /second reply/);
    assert.match(await pageB.locator("#pins-list li").nth(1).innerText(), /Pin me/);
    await shot(pageB, "13-pins");
    await pageB.locator("#pins-list li").nth(1).locator("button.pin-open").click();
    await pageB.locator("#pins-dialog").waitFor({ state: "hidden" });
    await message(pageB, "Pin me").and(pageB.locator(".flash")).waitFor();
    assert.equal(await pageB.evaluate(() => document.activeElement?.closest("li.msg")?.querySelector(".body")?.textContent), "Pin me", "focus is on the message");

    await pageB.click("#pins-button");
    await pageB.locator("#pins-list li").nth(0).locator("button.pin-open").click();
    await message(pageB, "second reply", "#thread-replies").and(pageB.locator(".flash")).waitFor();
    await pageB.keyboard.press("Escape");
    await pageB.locator("#thread-panel").waitFor({ state: "hidden" });

    // Bob unpins both from the list; Alice's header follows.
    await pageB.click("#pins-button");
    await pageB.locator("#pins-list button.pin-remove").first().click();
    await pageB.locator("#pins-list li").nth(1).waitFor({ state: "detached" });
    await pageB.locator("#pins-list button.pin-remove").first().click();
    await pageB.locator("#pins-status", { hasText: "No pinned messages." }).waitFor();
    await pageB.click("#pins-close");
    await pageA.locator("#pins-button", { hasText: /^Pinned$/ }).waitFor();
    assert.deepEqual(incidents, []);
  });

  test("attachments: an image and a file, uploaded with progress, shown to the other side as an image and a link", async () => {
    // A 1x1 PNG, and a text file; the names carry markup, which must stay text.
    const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");
    const imageName = "dot <b>1</b>.png";
    await pageA.fill("#composer", "a picture");
    await pageA.setInputFiles("#attach-file", { name: imageName, mimeType: "image/png", buffer: png });
    const picture = message(pageB, "a picture");
    const img = picture.locator(`img[alt="${imageName}"]`);
    await img.waitFor();
    // It really loaded: the link works for a member, and the page may show it. (Bob's
    // pane may be scrolled up since the pins test, and images load when in view.)
    await img.scrollIntoViewIfNeeded();
    const loadedBy = Date.now() + WAIT;
    while ((await img.evaluate((el) => (el instanceof HTMLImageElement && el.complete ? el.naturalWidth : 0))) !== 1) {
      assert.ok(Date.now() < loadedBy, "the image loaded");
      await pageB.waitForTimeout(200);
    }
    assert.equal(await picture.locator(".attachments b").count(), 0);
    await pageA.locator("#upload-status").waitFor({ state: "hidden" });

    const notes = "notes <i>v1</i>.txt";
    const text = "plain text attachment\n";
    await pageA.setInputFiles("#attach-file", { name: notes, mimeType: "text/plain", buffer: Buffer.from(text) });
    // Without a caption the message says the file's name.
    const link = message(pageB, notes).locator("a.attachment.file");
    await link.locator(".file-name", { hasText: notes }).waitFor();
    const href = await link.getAttribute("href");
    assert.ok(href, "a download link");
    const got = await pageB.evaluate(async (u) => {
      const r = await fetch(u);
      return { status: r.status, body: await r.text() };
    }, href);
    assert.deepEqual(got, { status: 200, body: text });
    await shot(pageB, "16-attachments");
    assert.deepEqual(incidents, []);
  });

  test("search: results from Bob's conversations as text, choosing one opens the conversation at the message", async () => {
    const needle = `needle-${tag} in the <i>haystack</i>`;
    await send(pageA, needle);
    await message(pageB, needle).waitFor();
    // Search trails the log by a few seconds: search again until it is there.
    const hit = pageB.locator("#search-results button.search-hit", { hasText: `needle-${tag}` });
    const deadline = Date.now() + WAIT;
    await pageB.fill("#search-input", `needle-${tag}`);
    for (;;) {
      await pageB.press("#search-input", "Enter");
      await pageB.locator("#search-status", { hasText: /match|message/ }).waitFor();
      if ((await hit.count()) > 0) break;
      assert.ok(Date.now() < deadline, "the message became searchable");
      await pageB.waitForTimeout(500);
    }
    assert.equal(await pageB.locator("#search-results i").count(), 0, "highlights are text");
    await hit.first().click();
    await message(pageB, needle).and(pageB.locator(".flash")).waitFor();
    await shot(pageB, "17-search");
    await pageB.press("#search-input", "Escape").catch(() => {});
    await pageB.click("#search-clear").catch(() => {});
    assert.deepEqual(incidents, []);
  });

  test("group settings: rename, add and remove a member, leave", async () => {
    await pageA.click("#conv-settings");
    await pageA.locator("#group-dialog[open]").waitFor();
    await pageA.locator("#group-members li", { hasText: "Bob" }).waitFor();
    assert.match(await pageA.locator("#group-members li").first().innerText(), /\(you\)/);

    // Names: empty and too long are refused before asking; markup is just text.
    await pageA.fill("#group-name", "   ");
    await pageA.click("#group-rename");
    await pageA.locator("#group-name-error", { hasText: "cannot be empty" }).waitFor();
    await pageA.fill("#group-name", "x".repeat(101));
    await pageA.click("#group-rename");
    await pageA.locator("#group-name-error", { hasText: "at most 100" }).waitFor();
    const NAME = "Renamed <b>crew</b>";
    await pageA.fill("#group-name", NAME);
    await pageA.press("#group-name", "Enter");
    await pageA.locator("#group-name-status", { hasText: "Name saved." }).waitFor();
    await pageB.locator("#chat-title", { hasText: NAME }).waitFor();
    await pageB.locator("#conv-list .conv-title", { hasText: NAME }).waitFor();
    assert.equal(await pageB.locator("#chat-title b").count(), 0);

    // Add Carol by username (an unknown name is reported), then remove her.
    await pageA.fill("#group-add-user", `nobody-${tag}`);
    await pageA.press("#group-add-user", "Enter");
    await pageA.locator("#group-add-status", { hasText: `No user is called “nobody-${tag}”` }).waitFor();
    await pageA.fill("#group-add-user", carol.username);
    await pageA.press("#group-add-user", "Enter");
    await pageA.locator("#group-members li", { hasText: "Carol" }).waitFor();
    await pageB.locator("#chat-subtitle", { hasText: "Carol" }).waitFor();
    await shot(pageA, "14-group-settings");
    await pageA.locator("#group-members li", { hasText: "Carol" }).locator("button.member-remove").click();
    await pageA.locator("#group-members li", { hasText: "Carol" }).waitFor({ state: "detached" });
    await pageB.waitForFunction(() => !document.getElementById("chat-subtitle")?.textContent?.includes("Carol"));
    await pageA.click("#group-close");

    // Bob leaves: asked first (focus on Stay), then the conversation is gone for him.
    await pageB.click("#conv-settings");
    await pageB.locator("#group-dialog[open]").waitFor();
    await pageB.click("#group-leave");
    assert.equal(await pageB.evaluate(() => document.activeElement?.id), "group-leave-cancel");
    await pageB.click("#group-leave-cancel");
    await pageB.click("#group-leave");
    await pageB.click("#group-leave-confirm");
    await pageB.locator("#group-dialog").waitFor({ state: "hidden" });
    await pageB.locator("#empty-pane").waitFor();
    await pageB.locator("#conv-list button.conv", { hasText: NAME }).waitFor({ state: "detached" });
    await pageA.waitForFunction(() => !document.getElementById("chat-subtitle")?.textContent?.includes("Bob"));
    await shot(pageB, "15-after-leave");
    // Still gone after a reload, once the list (which trails the log) has caught up.
    const bobToken = await tokenOf(bob);
    const deadline = Date.now() + WAIT;
    for (;;) {
      const r = await fetch(`${stack.baseUrl}/api/v1/conversations?limit=200`, { headers: { Authorization: `Bearer ${bobToken}` } });
      const list = (await r.json()).conversations;
      if (!list.some((c) => c.conversation_id === groupId)) break;
      assert.ok(Date.now() < deadline, "the list no longer has the group");
      await new Promise((res) => setTimeout(res, 200));
    }
    await pageB.reload();
    await pageB.locator('#conn-status[data-state="online"]').waitFor();
    await pageB.locator("#conv-list .none, #conv-list button.conv").first().waitFor();
    assert.equal(await pageB.locator("#conv-list button.conv", { hasText: NAME }).count(), 0);
    assert.deepEqual(incidents, []);
  });
  test("disappearing messages: Alice sets 7 days and both headers follow live; Bob, no admin, cannot change it; the operator's limit; Off", async () => {
    // A group of its own, started while both pages are online: Bob's client meets it
    // through its conversation_created event, which names the admins (the list does not).
    const RGROUP = `Disappearing ${tag}`;
    await pageA.click("#new-conversation");
    await pageA.check("#kind-group");
    await pageA.fill("#new-conv-users", bob.username);
    await pageA.fill("#new-conv-name", RGROUP);
    await pageA.click("#new-conv-create");
    await pageA.locator("#chat-title", { hasText: RGROUP }).waitFor();
    const id = (await pageA.locator("#conv-list button.conv[aria-current='true']").getAttribute("data-id")) ?? "";
    assert.ok(id, "the new group's id");
    await send(pageA, "Said before any retention");
    await pageB.locator("#conv-list button.conv", { hasText: RGROUP }).click();
    await pageB.locator("#chat-title", { hasText: RGROUP }).waitFor();
    await message(pageB, "Said before any retention").waitFor();
    // No note while only the platform's retention applies.
    for (const page of [pageA, pageB]) assert.equal(await page.locator("#chat-retention").isVisible(), false);

    // 1. Alice (the admin) picks 7 days and saves; both headers say so, Bob's live.
    await pageA.click("#conv-settings");
    await pageA.locator("#group-dialog[open]").waitFor();
    assert.equal(await pageA.locator("#group-retention-text").isVisible(), false, "an admin gets the select");
    assert.equal(await pageA.locator("#group-retention").inputValue(), "", "Off to begin with");
    await pageA.locator("#group-retention").selectOption({ label: "7 days" });
    await pageA.click("#group-retention-save");
    await pageA.locator("#group-retention-status", { hasText: "Saved: messages disappear after 7 days." }).waitFor();
    for (const page of [pageA, pageB]) await page.locator("#chat-retention", { hasText: "Messages disappear after 7 days" }).waitFor();
    await shot(pageB, "18-retention-header");

    // 2. Bob's client knows from the creation event that only Alice is an admin: the
    // setting is text, with no select or Save.
    await pageB.click("#conv-settings");
    await pageB.locator("#group-dialog[open]").waitFor();
    await pageB.locator("#group-members li").filter({ hasNotText: "(you)" }).filter({ hasText: "· admin" }).waitFor();
    assert.doesNotMatch(await pageB.locator("#group-members li", { hasText: "(you)" }).innerText(), /admin/);
    await pageB.locator("#group-retention-text", { hasText: "Disappearing messages: 7 days. Only the group's admins can change this." }).waitFor();
    assert.equal(await pageB.locator("#group-retention").isVisible(), false, "no select for a member who is not an admin");
    assert.equal(await pageB.locator("#group-retention-save").isVisible(), false);
    await pageB.click("#group-close");
    await pageB.locator("#group-dialog").waitFor({ state: "hidden" });
    // The server refuses him too.
    const bobToken = await tokenOf(bob);
    const byBob = await fetch(`${stack.baseUrl}/api/v1/conversations/${id}/retention`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${bobToken}`, "Content-Type": "application/json" },
      body: JSON.stringify({ days: 1 }),
    });
    assert.equal(byBob.status, 403);
    assert.equal((await byBob.json()).error?.code, "forbidden");

    // 3. Beyond the operator's limit: the server's refusal, in its words, names the limits;
    // nothing changes.
    await pageA.locator("#group-retention").selectOption({ label: "90 days" });
    await pageA.click("#group-retention-save");
    await pageA.locator("#group-retention-error", { hasText: `1 to ${RETENTION_MAX_DAYS} days` }).waitFor();
    assert.equal(await pageA.locator("#group-retention-status").textContent(), "");
    await shot(pageA, "19-retention-limit");
    for (const page of [pageA, pageB]) assert.equal(await page.locator("#chat-retention").textContent(), "Messages disappear after 7 days");

    // The list says 7 days too (once the projection has it); after a reload Bob's header
    // reads it from there. A reloaded client knows no admins (the list does not name them,
    // and the sync starts after the creation event), so Bob is offered the select, and
    // saving shows the server's refusal.
    await listedRetention(id, 7);
    await pageB.reload();
    await pageB.locator('#conn-status[data-state="online"]').waitFor();
    await pageB.locator("#conv-list button.conv", { hasText: RGROUP }).click();
    await message(pageB, "Said before any retention").waitFor();
    await pageB.locator("#chat-retention", { hasText: "Messages disappear after 7 days" }).waitFor();
    await pageB.click("#conv-settings");
    await pageB.locator("#group-dialog[open]").waitFor();
    await pageB.locator("#group-retention").waitFor();
    assert.equal(await pageB.locator("#group-retention").inputValue(), "7");
    await pageB.locator("#group-retention").selectOption({ label: "1 day" });
    await pageB.click("#group-retention-save");
    await pageB.locator("#group-retention-error", { hasText: "Only a group admin can change disappearing messages." }).waitFor();
    assert.equal(await pageB.locator("#chat-retention").textContent(), "Messages disappear after 7 days");
    await pageB.click("#group-close");
    await pageB.locator("#group-dialog").waitFor({ state: "hidden" });

    // 4. Alice turns it off: the note goes from both headers, Bob's live.
    await pageA.locator("#group-retention").selectOption({ label: "Off" });
    await pageA.click("#group-retention-save");
    await pageA.locator("#group-retention-status", { hasText: "Disappearing messages are off." }).waitFor();
    assert.equal(await pageA.locator("#group-retention-error").textContent(), "");
    for (const page of [pageA, pageB]) await page.locator("#chat-retention").waitFor({ state: "hidden" });
    await listedRetention(id, null);
    await pageA.click("#group-close");
    await pageA.locator("#group-dialog").waitFor({ state: "hidden" });
    assert.deepEqual(incidents, []);
  });
});
