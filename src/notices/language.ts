import { usage } from '../core/errors.js';

/** The languages the notice templates are written in. */
export const NOTICE_LANGUAGES = ['en', 'nl'] as const;

/** A language of the notice templates, or null (follow the domain, then English). */
export function noticeLanguage(input: string | null): string | null {
  if (input === null || input.trim() === '') return null;
  const lang = input.trim().toLowerCase();
  if (!(NOTICE_LANGUAGES as readonly string[]).includes(lang)) throw usage('invalid_language', `language "${input}" has no notice templates; use ${NOTICE_LANGUAGES.join(' or ')}`);
  return lang;
}
