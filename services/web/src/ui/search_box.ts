// Message search in the sidebar (`GET /api/v1/search`): a search field (optionally only
// in the open conversation), then results newest first, each with where and when it was
// said and its highlights, as text. Choosing one opens the conversation at the message.
// "More results" follows `next_cursor`; Esc in the field or "Clear" ends the search.

import type { Api } from "../api";
import { describeError } from "../errors";
import type { Message, SearchResult } from "../protocol";
import { resultText, resultsLabel, searchQuery } from "../search";
import type { Store } from "../store";
import { h, replaceChildren, setText } from "./dom";
import { shortTime } from "./format";

export interface SearchHooks {
  openAt: (m: Message) => void;
}

export class SearchBox {
  readonly root: HTMLElement;
  private readonly input = h("input", { type: "search", id: "search-input", autocomplete: "off", maxlength: 300, placeholder: "Search messages" });
  private readonly here = h("input", { type: "checkbox", id: "search-here" });
  private readonly hereLabel: HTMLElement;
  private readonly status = h("p", { class: "hint", id: "search-status", role: "status" });
  private readonly list = h("ul", { class: "search-results", id: "search-results", "aria-label": "Search results", hidden: true });
  private readonly more = h("button", { type: "button", class: "link", id: "search-more", hidden: true }, "More results");
  private readonly clear = h("button", { type: "button", class: "link", id: "search-clear", hidden: true }, "Clear");
  private results: SearchResult[] = [];
  private query: { q: string; conversation: string | null; cursor: string | null } | null = null;
  private token = 0;

  constructor(
    private readonly api: Api,
    private readonly store: Store,
    private readonly hooks: SearchHooks,
  ) {
    this.hereLabel = h("label", { for: "search-here", class: "search-here" }, this.here, " Only in the open conversation");
    const go = h("button", { type: "submit", id: "search-go" }, "Search");
    const form = h(
      "form",
      { role: "search", class: "search", id: "search-form", "aria-label": "Search messages" },
      h("label", { for: "search-input", class: "sr-only" }, "Search messages"),
      h("div", { class: "inline" }, this.input, go),
      this.hereLabel,
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.search();
    });
    this.input.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && (this.query || this.input.value)) {
        ev.preventDefault();
        this.reset();
      }
    });
    this.more.addEventListener("click", () => void this.page());
    this.clear.addEventListener("click", () => {
      this.reset();
      this.input.focus();
    });
    this.list.addEventListener("click", (ev) => {
      const b = (ev.target as Element).closest<HTMLButtonElement>("button.search-hit");
      const r = b ? this.results[Number(b.dataset.index)] : undefined;
      if (r) this.hooks.openAt(r.message);
    });
    this.root = h("div", { class: "search-wrap" }, form, this.status, this.list, h("div", { class: "search-foot" }, this.more, this.clear));
  }

  /** The "only here" box makes sense only while a conversation is open. */
  render(): void {
    this.hereLabel.hidden = this.store.openId === null;
  }

  private reset(): void {
    this.token++;
    this.query = null;
    this.results = [];
    this.input.value = "";
    replaceChildren(this.list);
    this.list.hidden = true;
    this.more.hidden = true;
    this.clear.hidden = true;
    setText(this.status, "");
  }

  private async search(): Promise<void> {
    const parsed = searchQuery(this.input.value);
    if (!parsed.ok) {
      setText(this.status, parsed.reason);
      return;
    }
    this.query = { q: parsed.q, conversation: this.here.checked && !this.hereLabel.hidden ? this.store.openId : null, cursor: null };
    this.results = [];
    replaceChildren(this.list);
    await this.page();
  }

  private async page(): Promise<void> {
    const query = this.query;
    if (!query) return;
    const token = ++this.token;
    setText(this.status, "Searching…");
    this.more.hidden = true;
    this.clear.hidden = false;
    try {
      const r = await this.api.search(query.q, query.conversation, query.cursor);
      if (token !== this.token) return;
      const start = this.results.length;
      this.results.push(...(r.results ?? []));
      query.cursor = r.next_cursor ?? null;
      this.list.append(...(r.results ?? []).map((x, i) => this.row(x, start + i)));
      this.list.hidden = this.results.length === 0;
      this.more.hidden = query.cursor === null;
      setText(this.status, resultsLabel(this.results.length, query.cursor !== null));
    } catch (e) {
      if (token !== this.token) return;
      setText(this.status, `Search failed: ${describeError(e)}`);
    }
  }

  private row(r: SearchResult, index: number): HTMLLIElement {
    const m = r.message;
    const c = this.store.convs.get(m.conversation_id);
    const where = c ? this.store.title(c) : "A conversation";
    const who = this.store.shortName(m.sender_id);
    const text = resultText(r);
    return h(
      "li",
      {},
      h(
        "button",
        { type: "button", class: "search-hit", "data-index": index, "data-message-id": m.message_id, "aria-label": `${who} in ${where}, ${shortTime(m.created_at)}: ${text}. Open` },
        h("span", { class: "search-where" }, `${where} · ${who} · ${shortTime(m.created_at)}`),
        // Highlights are plain strings: text, never markup.
        h("span", { class: "search-text" }, text),
      ),
    );
  }
}
