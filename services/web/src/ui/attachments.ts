// How an attachment shows in a message: an image as a preview whose alt text is its
// file name, any other file as a download link with the name as its text. Both open the
// attachment's own short-lived link; names are text, never markup.
//
// A message names an attachment by a gateway route that checks membership. An <img> or
// a plain link cannot send the bearer token, so the route is first asked (with the
// token, for JSON) for the short-lived presigned link, which the element then uses.

import type { Attachment } from "../protocol";
import { h } from "./dom";
import { fileSize } from "./format";

/** Turns an attachment's route into a presigned link (set once the API is signed in). */
export type LinkResolver = (route: string) => Promise<string>;
let resolver: LinkResolver | null = null;

export function setAttachmentResolver(r: LinkResolver | null): void {
  resolver = r;
}

/** Point `link` (and `img`) at the attachment: through the resolver for our own routes. */
function open(link: HTMLAnchorElement, img: HTMLImageElement | null, route: string): void {
  const apply = (url: string) => {
    link.href = url;
    if (img) img.src = url;
  };
  if (!resolver || !new URL(route, location.href).pathname.startsWith("/api/")) {
    apply(route);
    return;
  }
  link.removeAttribute("href");
  resolver(route).then(
    (presigned) => {
      const safe = safeUrl(presigned);
      if (safe) apply(safe);
    },
    () => {
      link.title = "This attachment cannot be opened right now.";
    },
  );
}

export function attachmentView(a: Attachment): HTMLElement {
  const safe = safeUrl(a.url);
  // Not sent yet (no link until the server has it): the name only.
  if (!safe) {
    return h("span", { class: "attachment pending", "data-attachment-id": a.attachment_id }, h("span", { class: "file-name" }, a.filename), h("span", { class: "file-size" }, ` · ${fileSize(a.size)}`));
  }
  if (a.content_type.startsWith("image/") && safe) {
    const img = h("img", { alt: a.filename, loading: "lazy" }) as HTMLImageElement;
    const link = h(
      "a",
      { class: "attachment image", target: "_blank", rel: "noopener noreferrer", "data-attachment-id": a.attachment_id },
      img,
    ) as HTMLAnchorElement;
    open(link, img, safe);
    return link;
  }
  const link = h(
    "a",
    {
      class: "attachment file",
      download: a.filename,
      rel: "noopener noreferrer",
      "data-attachment-id": a.attachment_id,
      "aria-label": `Download ${a.filename} (${fileSize(a.size)})`,
    },
    h("span", { class: "file-name" }, a.filename),
    h("span", { class: "file-size" }, ` · ${fileSize(a.size)}`),
  ) as HTMLAnchorElement;
  open(link, null, safe);
  return link;
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
