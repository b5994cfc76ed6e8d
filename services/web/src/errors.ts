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

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
