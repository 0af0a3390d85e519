import type { FastifyReply } from 'fastify';

/** The page size a listing asked for (its query schema has checked the text), or the listing's default. */
export const limitOf = (query: { limit?: string }, byDefault: number): number => (query.limit === undefined ? byDefault : Number(query.limit));

/**
 * While there is more, the way on (PageHeaders in schemas.ts): the next page's
 * cursor in X-Next-Cursor and its URL, with the same limit and q, in
 * `Link: <…>; rel="next"`.
 */
export function setNextPage(reply: FastifyReply, path: string, next: string | null, limit: number, q: string | undefined): void {
  if (next === null) return;
  const params = new URLSearchParams({ limit: String(limit), cursor: next, ...(q !== undefined && { q }) });
  void reply.header('x-next-cursor', next).header('link', `<${path}?${params}>; rel="next"`);
}
