import { createHash, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';

/**
 * Hashes imported from an existing Dovecot install (`passdb sql` tables), in
 * Dovecot's `{SCHEME}` notation or bare crypt(3) form. They verify as Dovecot
 * would, and a successful login re-hashes them to argon2id (needsRehash).
 */
export type LegacyScheme = 'SHA512-CRYPT' | 'SHA256-CRYPT' | 'BLF-CRYPT' | 'SSHA512' | 'SSHA256';

/**
 * The most work one imported hash may ask of a login. Measured in a worker on
 * the 2-core CI box: SHA-512-crypt 500,000 rounds ≈ 3.3 s, bcrypt cost 13 ≈ 1.6 s
 * (bcryptjs is pure JavaScript); more would not fit the default 5 s request
 * deadline. Dovecot's defaults are 5,000 rounds and cost 5; PHP's is cost 10.
 */
export const MAX_SHA_CRYPT_ROUNDS = 500_000;
export const MAX_BCRYPT_COST = 13;

const B64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Dovecot scheme prefix or crypt(3) id → scheme; null when unknown. */
export function legacySchemeOf(hash: string): LegacyScheme | null {
  const prefix = /^\{([A-Z0-9-]+)\}/i.exec(hash)?.[1]?.toUpperCase();
  const body = hash.replace(/^\{[A-Z0-9-]+\}/i, '');
  if (prefix === 'SSHA512' || prefix === 'SSHA256') return prefix;
  if (prefix && !['SHA512-CRYPT', 'SHA256-CRYPT', 'BLF-CRYPT', 'CRYPT'].includes(prefix)) return null;
  if (body.startsWith('$6$')) return 'SHA512-CRYPT';
  if (body.startsWith('$5$')) return 'SHA256-CRYPT';
  if (/^\$2[abxy]\$\d\d\$/.test(body)) return 'BLF-CRYPT';
  return null;
}

/** Why an imported hash asks too much of a login (import refuses it), or null. */
export function legacyCostProblem(hash: string): string | null {
  const scheme = legacySchemeOf(hash);
  const body = hash.replace(/^\{[A-Z0-9-]+\}/i, '');
  if (scheme === 'SHA512-CRYPT' || scheme === 'SHA256-CRYPT') {
    const rounds = Number(/^\$[56]\$rounds=(\d+)\$/.exec(body)?.[1] ?? 5000);
    if (rounds > MAX_SHA_CRYPT_ROUNDS) return `${scheme} rounds=${rounds} exceeds the cap of ${MAX_SHA_CRYPT_ROUNDS} (reset this password instead)`;
  }
  if (scheme === 'BLF-CRYPT') {
    const cost = Number(/^\$2[abxy]\$(\d\d)\$/.exec(body)![1]);
    if (cost > MAX_BCRYPT_COST) return `BLF-CRYPT cost ${cost} exceeds the cap of ${MAX_BCRYPT_COST} (reset this password instead)`;
  }
  return null;
}

/** Runs on the hash worker threads (legacy-worker.ts); the daemon calls it through verifyLegacyOffThread. */
export async function verifyLegacy(hash: string, password: string): Promise<boolean> {
  const scheme = legacySchemeOf(hash);
  const body = hash.replace(/^\{[A-Z0-9-]+\}/i, '');
  switch (scheme) {
    case 'SHA512-CRYPT':
      return equal(shaCrypt('sha512', password, body), body);
    case 'SHA256-CRYPT':
      return equal(shaCrypt('sha256', password, body), body);
    case 'BLF-CRYPT':
      // A row written behind import's back must not stall a login either.
      if (legacyCostProblem(hash) !== null) return false;
      // bcryptjs knows $2a$/$2b$; $2y$ (PHP, Dovecot) is the same algorithm.
      return bcrypt.compare(password, body.replace(/^\$2[xy]\$/, '$2b$'));
    case 'SSHA512':
      return saltedSha('sha512', 64, password, body);
    case 'SSHA256':
      return saltedSha('sha256', 32, password, body);
    case null:
      return false;
  }
}

function equal(a: string | null, b: string): boolean {
  if (a === null || a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/** {SSHA512}: base64(H(password ‖ salt) ‖ salt). */
function saltedSha(alg: 'sha512' | 'sha256', size: number, password: string, body: string): boolean {
  const raw = Buffer.from(body, 'base64');
  if (raw.length <= size) return false;
  const digest = createHash(alg).update(password).update(raw.subarray(size)).digest();
  return timingSafeEqual(digest, raw.subarray(0, size));
}

const ORDER = {
  sha512: [[0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48], [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13], [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41]],
  sha256: [[0, 10, 20], [21, 1, 11], [12, 22, 2], [3, 13, 23], [24, 4, 14], [15, 25, 5], [6, 16, 26], [27, 7, 17], [18, 28, 8], [9, 19, 29]],
} as const;

/**
 * SHA-crypt ($5$ / $6$, Drepper's specification, as glibc and Dovecot use it).
 * Returns the full crypt string for `setting` (`$6$[rounds=N$]salt[$…]`), or null
 * when the setting is malformed.
 */
export function shaCrypt(alg: 'sha512' | 'sha256', password: string, setting: string): string | null {
  const m = /^\$([56])\$(rounds=(\d+)\$)?([^$]{0,16})/.exec(setting);
  if (!m) return null;
  const rounds = m[3] ? Math.min(Math.max(Number(m[3]), 1000), 999_999_999) : 5000;
  if (rounds > MAX_SHA_CRYPT_ROUNDS) return null; // a hostile row must not stall a login
  const salt = Buffer.from(m[4]!);
  const pw = Buffer.from(password);
  const H = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash(alg)).digest();
  const repeatTo = (src: Buffer, len: number) => Buffer.concat(Array.from({ length: Math.ceil(len / src.length) || 0 }, () => src)).subarray(0, len);

  const b = H(pw, salt, pw);
  const aParts = [pw, salt, repeatTo(b, pw.length)];
  for (let n = pw.length; n > 0; n >>= 1) aParts.push(n & 1 ? b : pw);
  let c = H(...aParts);
  const pBytes = repeatTo(H(...Array.from({ length: pw.length }, () => pw)), pw.length);
  const sBytes = repeatTo(H(...Array.from({ length: 16 + c[0]! }, () => salt)), salt.length);
  for (let i = 0; i < rounds; i++) {
    const parts: Buffer[] = [i & 1 ? pBytes : c];
    if (i % 3) parts.push(sBytes);
    if (i % 7) parts.push(pBytes);
    parts.push(i & 1 ? c : pBytes);
    c = H(...parts);
  }
  let out = '';
  const enc = (b2: number, b1: number, b0: number, n: number) => {
    let w = (b2 << 16) | (b1 << 8) | b0;
    for (let k = 0; k < n; k++, w >>= 6) out += B64[w & 0x3f];
  };
  for (const [x, y, z] of ORDER[alg]) enc(c[x]!, c[y]!, c[z]!, 4);
  if (alg === 'sha512') enc(0, 0, c[63]!, 2);
  else enc(0, c[31]!, c[30]!, 3);
  return `$${m[1]}$${m[2] ?? ''}${m[4]}$${out}`;
}
