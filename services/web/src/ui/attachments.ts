// How an attachment shows in a message: an image as a preview whose alt text is its
// file name, any other file as a download link with the name as its text. Both open the
// attachment's own short-lived link; names are text, never markup.

import type { Attachment } from "../protocol";
import { h } from "./dom";
import { fileSize } from "./format";

export function attachmentView(a: Attachment): HTMLElement {
  const safe = safeUrl(a.url);
  // Not sent yet (no link until the server has it): the name only.
  if (!safe) {
    return h("span", { class: "attachment pending", "data-attachment-id": a.attachment_id }, h("span", { class: "file-name" }, a.filename), h("span", { class: "file-size" }, ` · ${fileSize(a.size)}`));
  }
  if (a.content_type.startsWith("image/") && safe) {
    return h(
      "a",
      { class: "attachment image", href: safe, target: "_blank", rel: "noopener noreferrer", "data-attachment-id": a.attachment_id },
      h("img", { src: safe, alt: a.filename, loading: "lazy" }),
    );
  }
  return h(
    "a",
    {
      class: "attachment file",
      href: safe,
      download: a.filename,
      rel: "noopener noreferrer",
      "data-attachment-id": a.attachment_id,
      "aria-label": `Download ${a.filename} (${fileSize(a.size)})`,
    },
    h("span", { class: "file-name" }, a.filename),
    h("span", { class: "file-size" }, ` · ${fileSize(a.size)}`),
  );
}

/** Only http(s) links (and same-origin paths) become a link or an image source. */
function safeUrl(url: string): string | null {
  if (!url) return null;
  try {
    const u = new URL(url, location.href);
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
  } catch {
    return null;
  }
}
