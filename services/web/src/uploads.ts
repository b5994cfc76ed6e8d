// Attachments (protocol v1.1): `POST /api/v1/uploads` answers a presigned request, and
// the client sends the file's bytes with it straight to storage, with XMLHttpRequest
// because fetch cannot report upload progress. The message is sent afterwards with
// `kind` "image" or "file" and `attachments: [upload_id]`.
//
// No DOM here: the caller passes how to make the request object (test/uploads.test.mjs).

import type { UploadTicket } from "./protocol";

/** What `putFile` needs of an XMLHttpRequest. */
export interface XhrLike {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: unknown): void;
  abort(): void;
  readonly status: number;
  upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}

/** Why an upload did not finish. */
export class UploadError extends Error {
  constructor(
    readonly code: "upload_failed" | "upload_cancelled",
    message: string,
  ) {
    super(message);
  }
}

// Headers a browser sets itself and refuses from script (the Fetch standard's forbidden
// request headers). A presigned request may list some (Content-Length, Host); the
// browser sends the right values anyway.
const FORBIDDEN = new Set([
  "accept-charset",
  "accept-encoding",
  "access-control-request-headers",
  "access-control-request-method",
  "connection",
  "content-length",
  "cookie",
  "cookie2",
  "date",
  "dnt",
  "expect",
  "host",
  "keep-alive",
  "origin",
  "referer",
  "set-cookie",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "via",
]);

export function settableHeader(name: string): boolean {
  const n = name.toLowerCase();
  return !FORBIDDEN.has(n) && !n.startsWith("proxy-") && !n.startsWith("sec-");
}

/** The message kind for a file of this content type. */
export function attachmentKind(contentType: string): "image" | "file" {
  return /^image\//i.test(contentType) ? "image" : "file";
}

/** The content type to declare: the browser's guess, or a generic one. */
export function contentTypeOf(file: { type: string }): string {
  return file.type || "application/octet-stream";
}

/**
 * Send `body` with the presigned request. `onProgress` gets 0..1 as bytes go out.
 * `done` resolves on a 2xx answer and rejects with an UploadError otherwise.
 */
export function putFile(
  makeXhr: () => XhrLike,
  ticket: Pick<UploadTicket, "url" | "method" | "headers">,
  body: unknown,
  onProgress: (fraction: number) => void,
): { done: Promise<void>; cancel: () => void } {
  const xhr = makeXhr();
  const done = new Promise<void>((resolve, reject) => {
    xhr.open(ticket.method || "PUT", ticket.url);
    for (const [k, v] of Object.entries(ticket.headers ?? {})) if (settableHeader(k)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(Math.min(1, e.loaded / e.total));
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve();
      } else reject(new UploadError("upload_failed", `storage answered ${xhr.status}`));
    };
    xhr.onerror = () => reject(new UploadError("upload_failed", "storage could not be reached"));
    xhr.onabort = () => reject(new UploadError("upload_cancelled", "cancelled"));
    onProgress(0);
    xhr.send(body);
  });
  return { done, cancel: () => xhr.abort() };
}
