// @ts-check
// Message bodies are text, never HTML: the client never hands a string to the HTML
// parser. This guards against anyone adding such a call later.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src");

function files(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(path.join(dir, d.name)) : [path.join(dir, d.name)]));
}

test("no HTML sinks in the client's sources", () => {
  const sinks = /\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment|DOMParser)\b/;
  const found = files(src)
    .filter((f) => f.endsWith(".ts"))
    .flatMap((f) =>
      fs
        .readFileSync(f, "utf8")
        .split("\n")
        .map((line, i) => ({ f, i, line }))
        .filter(({ line }) => sinks.test(line) && !line.trim().startsWith("//")),
    )
    .map(({ f, i, line }) => `${path.relative(src, f)}:${i + 1}: ${line.trim()}`);
  assert.deepEqual(found, []);
});
