import argon2 from 'argon2';
import sodium from 'sodium-native';
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

/**
 * libsodium (the argon2 Dovecot's {ARGON2ID} uses) picks an AVX2/AVX-512 block
 * function at run time; the argon2 npm package is built with SSE2 only and
 * takes about twice the CPU per hash here (bench `cold`). libsodium does one
 * lane only, so p > 1, an empty password and anything unusual take the npm path.
 */
const SODIUM_PHC = /^\$argon2(id|i)\$v=19\$m=\d+,t=\d+,p=1\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{22,}$/;
/** Which implementation verifies this stored argon2 hash (exported for the tests and the benchmark). */
export function argon2EngineFor(hash: string, password: string): 'libsodium' | 'argon2-npm' {
  const phc = stripScheme(hash);
  return password.length > 0 && phc.length < sodium.crypto_pwhash_STRBYTES && SODIUM_PHC.test(phc) ? 'libsodium' : 'argon2-npm';
}

async function hashWithSodium(password: string, params: HashParams): Promise<string> {
  const out = Buffer.alloc(sodium.crypto_pwhash_STRBYTES);
  const secret = Buffer.from(password, 'utf8');
  try {
    await sodium.crypto_pwhash_str_async(out, secret, params.time_cost, params.memory_cost * 1024);
  } finally {
    sodium.sodium_memzero(secret);
  }
  return out.toString('latin1', 0, out.indexOf(0));
}

async function verifyWithSodium(phc: string, password: string): Promise<boolean> {
  const str = Buffer.alloc(sodium.crypto_pwhash_STRBYTES);
  str.write(phc, 'latin1');
  const secret = Buffer.from(password, 'utf8');
  try {
    return await sodium.crypto_pwhash_str_verify_async(str, secret);
  } finally {
    sodium.sodium_memzero(secret);
  }
}

export async function hashPassword(password: string, params: HashParams): Promise<string> {
  if (params.parallelism === 1 && password.length > 0) return hashWithSodium(password, params);
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
    return argon2EngineFor(phc, password) === 'libsodium' ? await verifyWithSodium(phc, password) : await argon2.verify(phc, password);
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
