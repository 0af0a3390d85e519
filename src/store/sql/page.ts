/**
 * A keyset page from the `limit + 1` rows a page statement reads: the first
 * `limit`, and where the next page starts (the cursor of the page's last row),
 * null when there was no look-ahead row.
 */
export function keysetPage<R, C>(rows: R[], limit: number, cursorOf: (last: R) => C): { rows: R[]; next: C | null } {
  const page = rows.slice(0, limit);
  return { rows: page, next: rows.length > limit ? cursorOf(page[limit - 1]!) : null };
}
