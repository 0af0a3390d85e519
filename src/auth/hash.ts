import argon2 from 'argon2';
import type { Config } from '../config/index.js';
import { legacySchemeOf } from './legacy.js';
import { verifyLegacyOffThread } from './legacy-off-thread.js';

export type HashParams = Config['hash'];

/**
 * argon2 (npm) writes `m=…,p=…,t=…`; Dovecot's {ARGON2ID} (libsodium) only
 * accepts the reference order `m=…,t=…,p=…`. We store the reference order so the
 * table stays usable by Dovecot's own passdb sql.
 */
export function toDovecotOrder(phc: string): string {
  return phc.replace(/\$m=(\d+),p=(\d+),t=(\d+)\$/, '$m=$1,t=$3,p=$2$');
}

export async function hashPassword(password: string, params: HashParams): Promise<string> {
  const phc = await argon2.hash(password, {
    type: argon2.argon2id,
    memoryCost: params.memory_cost,
    timeCost: params.time_cost,
    parallelism: params.parallelism,
  });
  return toDovecotOrder(phc);
}

/** Strips Dovecot's `{ARGON2ID}` scheme prefix, which imported rows may carry. */
const stripScheme = (hash: string) => hash.replace(/^\{ARGON2ID\}|^\{ARGON2I\}/i, '');

/** Whether a stored hash is an imported legacy one (verified off-thread, its mismatch padded). */
export const isLegacyHash = (hash: string) => !stripScheme(hash).startsWith('$argon2');

/** argon2 (ours, or Dovecot's {ARGON2ID}), else an imported legacy scheme on a worker thread. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  const phc = stripScheme(hash);
  if (isLegacyHash(hash)) return verifyLegacyOffThread(hash, password);
  try {
    return await argon2.verify(phc, password);
  } catch {
    // A malformed stored hash can never match; the caller sees a mismatch, not a crash.
    return false;
  }
}

/** Whether a stored hash is one we can verify at all (import checks this). */
export function isKnownHash(hash: string): boolean {
  return /^\$argon2(id|i)\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/.test(stripScheme(hash)) || legacySchemeOf(hash) !== null;
}

/** Legacy schemes and other argon2 parameters: re-hashed to the configured argon2id on the next login. */
export function needsRehash(hash: string, params: HashParams): boolean {
  const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(stripScheme(hash));
  return !m || Number(m[1]) !== params.memory_cost || Number(m[2]) !== params.time_cost || Number(m[3]) !== params.parallelism;
}
