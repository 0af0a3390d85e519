/**
 * zxcvbn-ts strength score. The dictionaries take ~0.3 s to load and ~0.5 s to index, so
 * they are loaded on first use, not at import: processes that never score a password
 * (checkpassword, most CLI commands) must not pay for them.
 */
import { createRequire } from 'node:module';
import type { ZxcvbnFactory } from '@zxcvbn-ts/core';

type Score = 0 | 1 | 2 | 3 | 4;

/** zxcvbn's running time grows steeply with length; beyond this a password is scored on its prefix. */
export const MAX_SCORED_CHARS = 100;

// zxcvbn's default (100 l33t variants per substring) costs over a second of synchronous
// CPU on a random 100-character input, blocking the event loop; 10 variants bring that to
// ~0.1 s and still recognise the usual substitutions (P@ssw0rd, Tr0ub4dor, m0nk3y).
const L33T_MAX_SUBSTITUTIONS = 10;

// createRequire: a synchronous, deferred load (rules are synchronous, so no dynamic import()).
const require = createRequire(import.meta.url);
let factory: ZxcvbnFactory | undefined;

function getFactory(): ZxcvbnFactory {
  if (factory === undefined) {
    const core = require('@zxcvbn-ts/core') as typeof import('@zxcvbn-ts/core');
    const common = require('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
    const en = require('@zxcvbn-ts/language-en') as typeof import('@zxcvbn-ts/language-en');
    factory = new core.ZxcvbnFactory({
      dictionary: { ...common.dictionary, ...en.dictionary },
      graphs: common.adjacencyGraphs,
      translations: en.translations,
      l33tMaxSubstitutions: L33T_MAX_SUBSTITUTIONS,
    });
  }
  return factory;
}

/** Scores the first MAX_SCORED_CHARS code points (never splitting a surrogate pair). */
export function strengthScore(password: string, userInputs: readonly string[]): Score {
  const prefix = Array.from(password).slice(0, MAX_SCORED_CHARS).join('');
  return getFactory().check(prefix, [...userInputs]).score;
}
