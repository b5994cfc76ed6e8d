// Following a cursor-paged list to its end (PROTOCOL.md: `GET /api/v1/conversations`
// answers one page and `next`, null on the last).

export interface CursorPage<T> {
  items: T[];
  next: string | null;
}

/** Pages fetched at most: a server that kept answering a cursor would otherwise loop. */
export const MAX_PAGES = 1000;

/** Every item of every page, in order, from the first page to the one whose `next` is null. */
export async function allPages<T>(fetchPage: (cursor: string | null) => Promise<CursorPage<T>>): Promise<T[]> {
  const items: T[] = [];
  const seen = new Set<string>();
  let cursor: string | null = null;
  for (let i = 0; i < MAX_PAGES; i++) {
    const page: CursorPage<T> = await fetchPage(cursor);
    items.push(...page.items);
    if (page.next === null || page.next === undefined || seen.has(page.next)) return items;
    seen.add(page.next);
    cursor = page.next;
  }
  return items;
}
