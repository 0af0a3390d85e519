/**
 * Generated passwords (`--generate`, `generate: true`): random, easy to read aloud or
 * retype from a screen, and always accepted by the policy they are generated for.
 */
import { randomInt } from 'node:crypto';
import { internal } from '../core/errors.js';
import type { PolicySubject } from './personal.js';
import { MAX_PASSWORD_BYTES } from './password-input.js';
import { checkPasswordRules } from './rules.js';
import type { PolicySettings } from './settings.js';

export const GENERATED_LENGTH = 20;

// No 0/O, 1/l/I: look-alikes that get mistyped when copied from a screen.
const LOWER = 'abcdefghijkmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const DIGITS = '23456789';
const SYMBOLS = '-_.!?#%+=';
const CLASSES = [LOWER, UPPER, DIGITS, SYMBOLS] as const;
const ALPHABET = CLASSES.join('');

// The rules virtually never refuse a random 20-character string; the bound only turns an
// unsatisfiable policy (a bug or a corrupt setting) into an error instead of a hang.
const MAX_ATTEMPTS = 100;

function randomString(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

/** Every class present. Drawing again on failure (rather than patching characters in) keeps the distribution uniform. */
function randomWithAllClasses(length: number): string {
  for (;;) {
    const candidate = randomString(length);
    if (CLASSES.every((set) => [...candidate].some((ch) => set.includes(ch)))) return candidate;
  }
}

/** The alphabet is ASCII, so characters = bytes; a length the input check would refuse is a settings bug. */
function generatedLength(settings: PolicySettings): number {
  const length = Math.max(GENERATED_LENGTH, Math.ceil(settings.minLength));
  if (!(length <= MAX_PASSWORD_BYTES)) {
    throw internal('password_generation_failed', `cannot generate a password: minLength ${settings.minLength} exceeds ${MAX_PASSWORD_BYTES}`);
  }
  return length;
}

export function generatePassword(subject: PolicySubject, settings: PolicySettings): string {
  const length = generatedLength(settings);
  let codes: string[] = [];
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const candidate = randomWithAllClasses(length);
    const violations = checkPasswordRules(candidate, subject, settings);
    if (violations.length === 0) return candidate;
    codes = violations.map((v) => v.code);
  }
  throw internal('password_generation_failed', `cannot generate a password satisfying the policy (last refusal: ${codes.join(', ')})`);
}
