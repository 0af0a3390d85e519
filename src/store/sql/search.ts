/**
 * The LIKE pattern of a listing's search box: any text that contains `q`, with
 * `%`, `_` and `\` in it taken literally; null (no search) stays null.
 */
export const containsPattern = (q: string | null): string | null => (q === null ? null : `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
