// @ts-check
// Sending a file's bytes with a presigned request (src/uploads.ts), over a fake XHR.
import assert from "node:assert/strict";
import { test } from "node:test";
import { attachmentKind, contentTypeOf, putFile, settableHeader } from "../.test-build/uploads.js";

function fakeXhr(status = 200) {
  const x = {
    opened: null,
    headers: {},
    sent: null,
    status: 0,
    upload: { onprogress: null },
    onload: null,
    onerror: null,
    onabort: null,
    open(m, u) {
      this.opened = [m, u];
    },
    setRequestHeader(k, v) {
      this.headers[k] = v;
    },
    send(b) {
      this.sent = b;
    },
    abort() {
      this.onabort?.();
    },
    finish() {
      this.status = status;
      this.onload?.();
    },
  };
  return x;
}

test("the presigned method, URL and headers are used; the browser's own headers are left to it", async () => {
  const x = fakeXhr(200);
  const progress = [];
  const up = putFile(() => x, { url: "https://store.example/b/k?sig=1", method: "PUT", headers: { "Content-Type": "image/png", "Content-Length": "3", "x-amz-acl": "private", Host: "store.example" } }, "abc", (f) => progress.push(f));
  assert.deepEqual(x.opened, ["PUT", "https://store.example/b/k?sig=1"]);
  assert.deepEqual(x.headers, { "Content-Type": "image/png", "x-amz-acl": "private" });
  assert.equal(x.sent, "abc");
  x.upload.onprogress({ loaded: 1, total: 4, lengthComputable: true });
  x.upload.onprogress({ loaded: 9, total: 0, lengthComputable: false });
  x.finish();
  await up.done;
  assert.deepEqual(progress, [0, 0.25, 1]);
});

test("a refusal, a network error and a cancel reject with a code", async () => {
  const refused = fakeXhr(403);
  const a = putFile(() => refused, { url: "u", method: "PUT", headers: {} }, "x", () => {});
  refused.finish();
  await assert.rejects(a.done, (e) => e.code === "upload_failed" && /403/.test(e.message));

  const broken = fakeXhr();
  const b = putFile(() => broken, { url: "u", method: "PUT", headers: {} }, "x", () => {});
  broken.onerror();
  await assert.rejects(b.done, (e) => e.code === "upload_failed");

  const c = putFile(() => fakeXhr(), { url: "u", method: "PUT", headers: {} }, "x", () => {});
  c.cancel();
  await assert.rejects(c.done, (e) => e.code === "upload_cancelled");
});

test("kinds and content types", () => {
  assert.equal(attachmentKind("image/png"), "image");
  assert.equal(attachmentKind("IMAGE/JPEG"), "image");
  assert.equal(attachmentKind("application/pdf"), "file");
  assert.equal(contentTypeOf({ type: "" }), "application/octet-stream");
  assert.equal(contentTypeOf({ type: "text/plain" }), "text/plain");
  assert.equal(settableHeader("Sec-Fetch-Mode"), false);
  assert.equal(settableHeader("Proxy-Authorization"), false);
  assert.equal(settableHeader("x-amz-meta-name"), true);
});
