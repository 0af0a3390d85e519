/**
 * Checks a raw password input before any policy rule or hashing sees it. These are not
 * strength rules: they reject input that cannot be a password at all, or that Dovecot's
 * NUL/TAB-separated protocols could not carry.
 */

import { MAX_PASSWORD_BYTES } from '../core/policy-limits.js';

export { MAX_PASSWORD_BYTES };

export type PasswordInputCode =
  | 'password_empty'
  | 'password_whitespace'
  | 'password_too_long'
  | 'password_not_utf8'
  | 'password_control_chars';

export type PasswordInputResult =
  | { ok: true; password: string }
  | { ok: false; code: PasswordInputCode; message: string };

const MESSAGES: Record<PasswordInputCode, string> = {
  password_empty: 'The password is empty.',
  password_whitespace: 'The password consists only of white space.',
  password_too_long: `The password is longer than ${MAX_PASSWORD_BYTES} bytes (UTF-8).`,
  password_not_utf8: 'The password is not valid UTF-8 text.',
  password_control_chars: 'The password contains control characters (such as NUL, tab or newline).',
};

// fatal: reject instead of silently replacing bad bytes with U+FFFD (two different inputs
// would then hash alike). ignoreBOM: keep a leading BOM, so the string is exactly the bytes.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// In a /u regex a valid surrogate pair is one code point, so this matches only lone halves,
// which have no UTF-8 encoding.
const LONE_SURROGATE = /\p{Surrogate}/u;
// C0 controls (NUL, TAB, CR, LF, ...) and DEL.
const CONTROL = /[\u0000-\u001f\u007f]/;
const ONLY_WHITESPACE = /^\s+$/u;

function fail(code: PasswordInputCode): PasswordInputResult {
  return { ok: false, code, message: MESSAGES[code] };
}

function decode(raw: string | Buffer): string | null {
  if (typeof raw === 'string') return LONE_SURROGATE.test(raw) ? null : raw;
  try {
    return decoder.decode(raw);
  } catch {
    return null;
  }
}

export function checkPasswordInput(raw: string | Buffer): PasswordInputResult {
  // Byte length first: cheap, and bounds the work done on hostile input.
  const bytes = typeof raw === 'string' ? Buffer.byteLength(raw, 'utf8') : raw.length;
  if (bytes === 0) return fail('password_empty');
  if (bytes > MAX_PASSWORD_BYTES) return fail('password_too_long');
  const password = decode(raw);
  if (password === null) return fail('password_not_utf8');
  if (ONLY_WHITESPACE.test(password)) return fail('password_whitespace');
  if (CONTROL.test(password)) return fail('password_control_chars');
  return { ok: true, password };
}
