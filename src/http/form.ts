import { usage } from '../core/errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The generic form parser decodes raw non-UTF-8 bytes to U+FFFD and keeps a bad
 * escape such as Latin-1 `%E9` as the literal text "%E9" — either way the new
 * password would silently differ from what the user typed. Refuse instead, as
 * the JSON parser does. A repeated field becomes an array, which the schema refuses.
 */
export function parseStrictForm(body: Buffer): Record<string, string | string[]> {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw usage('invalid_utf8', 'body is not valid UTF-8');
  }
  const fields: Record<string, string | string[]> = Object.create(null);
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decodeFormComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = decodeFormComponent(eq < 0 ? '' : pair.slice(eq + 1));
    const seen = fields[key];
    fields[key] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return fields;
}

function decodeFormComponent(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw usage('invalid_form', 'body is not valid form encoding (bad %-escape or not UTF-8)');
  }
}
