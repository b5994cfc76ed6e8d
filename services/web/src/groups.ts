// Group management rules the client checks before asking the server (protocol v1.1 and
// PROTOCOL.md): a group name is 1 to 100 printable characters; the member list shows
// the signed-in user first, then the others by name.
//
// No DOM here (test/groups.test.mjs).

export const MAX_GROUP_NAME = 100;

/** Null when `name` is acceptable, else why not (a sentence). */
export function groupNameProblem(name: string): string | null {
  const t = name.trim();
  if (t.length === 0) return "A group name cannot be empty.";
  if ([...t].length > MAX_GROUP_NAME) return `A group name is at most ${MAX_GROUP_NAME} characters.`;
  if (/\p{Cc}/u.test(t)) return "A group name cannot contain control characters.";
  return null;
}

/** A username as typed: spaces and a leading @ dropped, lower-cased (as sign-up stores it). */
export function normaliseUsername(input: string): string {
  return input.trim().replace(/^@/, "").toLowerCase();
}

/** The signed-in user first, then the others by name, then by id. */
export function memberOrder(members: readonly string[], me: string, nameOf: (id: string) => string): string[] {
  const unique = [...new Set(members)];
  return unique.sort((a, b) => {
    if (a === me) return -1;
    if (b === me) return 1;
    return nameOf(a).localeCompare(nameOf(b)) || a.localeCompare(b);
  });
}

/**
 * Who may remove `target`: anyone may remove themself (leave); only an admin may
 * remove someone else. `admins` null means this client does not know who the admins are
 * (the conversation list does not say), so the button is offered and the server decides.
 */
export function mayRemove(me: string, target: string, admins: ReadonlySet<string> | null): boolean {
  if (target === me) return true;
  return admins === null || admins.has(me);
}

/**
 * Whether the group's settings that only admins may change (disappearing messages) are
 * offered to `me`. As for removing, `admins` null means not known here: they are offered
 * and the server decides.
 */
export function mayManage(me: string, admins: ReadonlySet<string> | null): boolean {
  return admins === null || admins.has(me);
}
