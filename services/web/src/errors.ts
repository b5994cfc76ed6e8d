// What to tell a person when the server refuses something. The server's own message is
// kept where it is already written for people (validation rules), replaced where it is
// written for developers.

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const FRIENDLY: Record<string, string> = {
  bad_credentials: "Wrong username or password.",
  username_taken: "That username is taken. Pick another one.",
  unauthenticated: "Your session has ended. Please sign in again.",
  not_member: "You are not a member of this conversation.",
  forbidden: "You are not allowed to do that.",
  not_found: "That no longer exists.",
  rate_limited: "You are sending too fast. Wait a moment and try again.",
  unavailable: "The service is busy or partly down. Your action will be retried.",
  too_large: "That message is too long.",
  network: "Cannot reach the server. Check your connection.",
  invalid_emoji: "That is not a reaction: use one emoji, or a :shortcode: of letters a to z, digits, _, + or -.",
  too_many_reactions: "This message already has the most different reactions it can have (50).",
  invalid_thread: "A reply in a thread cannot start a thread of its own.",
  group_full: "This group is full.",
  invalid_content_type: "Files of that type cannot be sent.",
  invalid_attachment: "The file did not finish uploading. Try again.",
  upload_failed: "The file could not be uploaded. Check your connection and try again.",
  internal: "Something went wrong on the server. Try again.",
};

// Codes whose server message is already a clear rule for people ("username must be 3 to
// 32 characters ...").
const KEEP_SERVER_MESSAGE = new Set([
  "invalid_username",
  "invalid_password",
  "invalid_display_name",
  "invalid_name",
  "invalid_body",
  // v1.3: names the operator's limits ("retention must be 1 to 365 days").
  "invalid_retention",
]);

export function describe(code: string, serverMessage?: string): string {
  if (KEEP_SERVER_MESSAGE.has(code) && serverMessage) {
    return capitalise(serverMessage) + (serverMessage.endsWith(".") ? "" : ".");
  }
  if (code === "too_large" && serverMessage) {
    const limit = /(\d+)/.exec(serverMessage);
    if (limit) return `That message is too long (at most ${limit[1]} bytes).`;
  }
  return FRIENDLY[code] ?? (serverMessage ? capitalise(serverMessage) : `The server refused that (${code}).`);
}

export function describeError(e: unknown): string {
  if (e instanceof ApiError) return describe(e.code, e.message);
  return FRIENDLY.network;
}

/** What was being done, where a code means something more precise than its general sentence. */
export type Action = "reaction" | "pin" | "rename" | "add_member" | "remove_member" | "leave" | "thread" | "upload" | "retention";

const FOR_ACTION: Partial<Record<Action, Record<string, string>>> = {
  reaction: { not_found: "That message was deleted, so it cannot take reactions." },
  pin: {
    not_found: "That message was deleted, so it cannot be pinned.",
    // The server answers the 100-pin limit with too_large (PROTOCOL.md, v1.1 pins).
    too_large: "This conversation already has the most pins it can have (100). Unpin one first.",
  },
  rename: { forbidden: "Only groups can be renamed." },
  add_member: {
    not_found: "There is no such user.",
    forbidden: "You are not allowed to add people to this conversation (only its admins may).",
  },
  remove_member: {
    forbidden: "Only a group admin can remove other members.",
    not_found: "They are not a member any more.",
  },
  leave: { forbidden: "You cannot leave a direct conversation." },
  thread: { not_found: "The message this thread belongs to no longer exists." },
  upload: { too_large: "That file is too large to send." },
  retention: { forbidden: "Only a group admin can change disappearing messages." },
};

/** `describe`, with the sentence for what was being done when there is a more precise one. */
export function describeFor(action: Action, code: string, serverMessage?: string): string {
  if (code === "too_large" && action === "upload" && serverMessage) {
    const limit = /(\d+)/.exec(serverMessage);
    if (limit) return `That file is too large to send (at most ${limit[1]} bytes).`;
  }
  return FOR_ACTION[action]?.[code] ?? describe(code, serverMessage);
}

export function describeErrorFor(action: Action, e: unknown): string {
  if (e instanceof ApiError) return describeFor(action, e.code, e.message);
  return FRIENDLY.network;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
