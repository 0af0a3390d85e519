import type { Frame } from './layout.js';

/** The place in a keyset-paged table: where this page starts, where the next does, and how it was reached. */
export interface PageState {
  q: string;
  /** Where this page starts ('' = the first page). */
  after: string;
  /** Where the next page starts; null on the last. */
  next: string | null;
  /** The cursors of the pages before this one, oldest first ('' = the first page). */
  trail: string[];
}

/** Previous page goes back along the trail; a link carries at most this many cursors. */
const PAGE_TRAIL_MAX = 20;

function pageHref(path: string, q: string, after: string | null, trail: string[]): string {
  const params = new URLSearchParams();
  if (q) params.set('q', q);
  if (after) params.set('after', after);
  const kept = trail.slice(-PAGE_TRAIL_MAX);
  if (kept.length > 0) params.set('trail', kept.join(','));
  const s = params.toString();
  return s ? `${path}?${s}` : path;
}

/** The search box over a paged table at `path`: a GET of the table's first page with `q`. */
export function SearchBox({ frame, path, id, label, q }: { frame: Frame; path: string; id: string; label: string; q: string }) {
  return (
    <form method="get" action={path} class="inline" role="search">
      <label for={id} safe>
        {label}
      </label>
      <input id={id} name="q" type="search" value={q} autocomplete="off" spellcheck="false" />
      <button type="submit" safe>
        {frame.t.search}
      </button>
    </form>
  );
}

/** "Previous page" / "Next page" under a paged table at `path` (its search `q` kept). */
export function Pager({ frame, path, label, page }: { frame: Frame; path: string; label: string; page: PageState }) {
  const { t } = frame;
  const prevAfter = page.trail.length > 0 ? page.trail[page.trail.length - 1]! : null;
  return (
    <nav class="pages" aria-label={label}>
      {prevAfter !== null && (
        <a href={pageHref(path, page.q, prevAfter, page.trail.slice(0, -1))} rel="prev" safe>
          {t.previousPage}
        </a>
      )}
      {page.next !== null && (
        <a href={pageHref(path, page.q, page.next, [...page.trail, page.after])} rel="next" safe>
          {t.nextPage}
        </a>
      )}
    </nav>
  );
}
