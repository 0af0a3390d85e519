import { en, type Catalog } from './en.js';
import { nl } from './nl.js';

export type { Catalog };
export type Lang = 'en' | 'nl';
const CATALOGS: Record<Lang, Catalog> = { en, nl };

/**
 * The language from Accept-Language: the first of its ranges (by q, then order)
 * that we have; English otherwise. `nl-BE` counts as `nl`.
 */
export function langOf(header: string | undefined): Lang {
  if (!header) return 'en';
  const ranges = header
    .split(',')
    .map((part, i) => {
      const [tag = '', ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { tag: tag.trim(), q: q ? Number(q.slice(2)) : 1, i };
    })
    .filter((r) => r.tag !== '' && Number.isFinite(r.q) && r.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const { tag } of ranges) {
    const primary = tag.split('-')[0];
    if (primary === 'nl' || primary === 'en') return primary;
  }
  return 'en';
}

export const catalogOf = (lang: Lang): Catalog => CATALOGS[lang];
