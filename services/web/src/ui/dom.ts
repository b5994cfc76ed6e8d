// The one way this client builds DOM. Children given as strings become text nodes and
// attributes are set one by one, so nothing a user typed is ever parsed as HTML: there
// is no innerHTML anywhere in the client (test/no-html.test.mjs checks that).

type Child = Node | string | number | null | undefined | false;

export type Attrs = {
  [name: string]: string | number | boolean | null | undefined | EventListener;
};

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

/** Replace all children of `el`. */
export function replaceChildren(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  append(el, children);
}

/** Set text only when it changed (keeps screen readers and selection calm). */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

export function toggle(el: Element, attr: string, on: boolean): void {
  if (on) el.setAttribute(attr, "");
  else el.removeAttribute(attr);
}
