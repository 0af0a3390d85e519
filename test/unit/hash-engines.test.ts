import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import argon2 from 'argon2';
import { argon2EngineFor, hashPassword, toDovecotOrder, verifyPassword } from '../../src/auth/hash.js';

// verifyPassword takes libsodium for one-lane argon2 and the npm package for the rest: a
// stored hash must get the same answer from either, or a right password could be refused.
const cheap = { memoryCost: 1024, timeCost: 1 };

describe('argon2 through libsodium and through the npm package', () => {
  it('hashes made by the npm package (argon2id and argon2i, odd salt and hash lengths) verify the same way', async () => {
    const variants: argon2.HashOptions[] = [
      { type: argon2.argon2id, ...cheap, parallelism: 1 },
      { type: argon2.argon2id, memoryCost: 8192, timeCost: 3, parallelism: 1, salt: randomBytes(8), hashLength: 16 },
      { type: argon2.argon2id, ...cheap, parallelism: 1, salt: randomBytes(24), hashLength: 40 },
      // Longer than libsodium's 128-byte string buffer.
      { type: argon2.argon2id, ...cheap, parallelism: 1, salt: randomBytes(32), hashLength: 64 },
      { type: argon2.argon2i, ...cheap, parallelism: 1 },
      { type: argon2.argon2id, ...cheap, parallelism: 2 },
      { type: argon2.argon2d, ...cheap, parallelism: 1 },
    ];
    const engines: string[] = [];
    for (const v of variants) {
      const stored = toDovecotOrder(await argon2.hash('Right-Horse-7 ünï', v));
      engines.push(argon2EngineFor(stored, 'x'));
      expect(await verifyPassword(stored, 'Right-Horse-7 ünï'), stored).toBe(true);
      expect(await verifyPassword(stored, 'Right-Horse-7 üni'), stored).toBe(false);
      expect(await verifyPassword(stored, ''), stored).toBe(false);
    }
    expect(engines).toEqual(['libsodium', 'libsodium', 'libsodium', 'argon2-npm', 'libsodium', 'argon2-npm', 'argon2-npm']);
    expect(argon2EngineFor('{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g', 'x')).toBe('libsodium');
    expect(argon2EngineFor('$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g', '')).toBe('argon2-npm');
  });

  it('hashes made through libsodium verify with the npm package, with the parameters asked for', async () => {
    const stored = await hashPassword('Made-By-Sodium-3', { memory_cost: 4096, time_cost: 3, parallelism: 1 });
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=4096,t=3,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await argon2.verify(stored, 'Made-By-Sodium-3')).toBe(true);
    expect(await argon2.verify(stored, 'Made-By-Sodium-4')).toBe(false);
  });

  it('p > 1 and the empty password still hash (through the npm package) and verify', async () => {
    const wide = await hashPassword('Two-Lanes-9', { memory_cost: 4096, time_cost: 1, parallelism: 2 });
    expect(wide).toMatch(/^\$argon2id\$v=19\$m=4096,t=1,p=2\$/);
    expect(await verifyPassword(wide, 'Two-Lanes-9')).toBe(true);
    const empty = await hashPassword('', { memory_cost: 4096, time_cost: 1, parallelism: 1 });
    expect(await verifyPassword(empty, '')).toBe(true);
    expect(await verifyPassword(empty, 'x')).toBe(false);
  });

  it('a truncated or tampered stored hash is a mismatch, not a crash', async () => {
    const stored = await hashPassword('Tamper-Me-1', { memory_cost: 4096, time_cost: 1, parallelism: 1 });
    expect(await verifyPassword(stored.slice(0, -5), 'Tamper-Me-1')).toBe(false);
    expect(await verifyPassword(stored.replace('t=1', 't=2'), 'Tamper-Me-1')).toBe(false);
    expect(await verifyPassword(stored.replace('m=4096', 'm=4'), 'Tamper-Me-1')).toBe(false);
  });
});
