// @ts-check
// Tokens live in memory only: no source file writes to localStorage or sessionStorage,
// or reads or writes cookies from script (the refresh cookie is HttpOnly anyway). The one
// storage call allowed is removing the key older versions kept the token under.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src");

function files(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(path.join(dir, d.name)) : [path.join(dir, d.name)]));
}

test("no storage writes and no script cookies in the client's sources", () => {
  const storage = /\b(sessionStorage|document\.cookie|indexedDB)\b|localStorage\.(?!removeItem\b)/;
  const found = files(src)
    .filter((f) => f.endsWith(".ts"))
    .flatMap((f) =>
      fs
        .readFileSync(f, "utf8")
        .split("\n")
        .map((line, i) => ({ f, i, line }))
        .filter(({ line }) => storage.test(line) && !line.trim().startsWith("//")),
    )
    .map(({ f, i, line }) => `${path.relative(src, f)}:${i + 1}: ${line.trim()}`);
  assert.deepEqual(found, []);
});
