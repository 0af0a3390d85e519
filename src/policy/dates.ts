/**
 * Detection of date-like personal tokens (birth dates, anniversaries) in a password.
 * Deliberately narrow for bare digit runs: a run is a date only when it really parses
 * as one, so that random digits are not refused wholesale.
 */

// Any 4-digit year 1900–2099, even inside a longer digit run: this alone covers
// ddmmyyyy, yyyymmdd, yyyy-mm-dd and dd/mm/yyyy with a plausible year.
const YEAR = /(?:19|20)\d\d/;
// d/m/y with one separator used twice: 1.2.90, 01/02/90, 1-2-1990 (the 4-digit year
// case is also caught by YEAR, but years outside 1900–2099 are not).
const SEPARATED = /(?<!\d)(\d{1,2})([./-])(\d{1,2})\2(\d{2}|\d{4})(?!\d)/g;
// A run of exactly six digits: ddmmyy (or mmddyy). Longer runs are not split into
// windows: too many random runs would contain a "date" somewhere.
const SIX_DIGITS = /(?<!\d)(\d\d)(\d\d)\d\d(?!\d)/g;

function isDayMonth(day: number, month: number): boolean {
  return day >= 1 && day <= 31 && month >= 1 && month <= 12;
}

/** Either order: d/m (most of the world) or m/d (US). */
function isDayMonthEitherOrder(first: string, second: string): boolean {
  const a = Number(first);
  const b = Number(second);
  return isDayMonth(a, b) || isDayMonth(b, a);
}

function anyDayMonth(text: string, pattern: RegExp, secondGroup: number): boolean {
  for (const match of text.matchAll(pattern)) {
    const first = match[1];
    const second = match[secondGroup];
    if (first !== undefined && second !== undefined && isDayMonthEitherOrder(first, second)) return true;
  }
  return false;
}

export function containsDate(password: string): boolean {
  // NFKC turns full-width and other compatibility digits into ASCII ones.
  const text = password.normalize('NFKC');
  return YEAR.test(text) || anyDayMonth(text, SEPARATED, 3) || anyDayMonth(text, SIX_DIGITS, 2);
}
