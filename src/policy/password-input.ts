/**
 * Checks a raw password input before any policy rule or hashing sees it. These are not
 * strength rules: they reject input that cannot be a password at all, or that Dovecot's
 * NUL/TAB-separated protocols could not carry.
 */

import { MAX_PASSWORD_BYTES } from '../core/policy-limits.js';
import { violationText } from './messages.js';
import type { PasswordInputCode } from './codes.js';

export { MAX_PASSWORD_BYTES };

export { PASSWORD_INPUT_CODES, type PasswordInputCode } from './codes.js';

export type PasswordInputResult =
  | { ok: true; password: string }
  | { ok: false; code: PasswordInputCode; message: string };


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
  return { ok: false, code, message: violationText({ code }, 'en') };
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
