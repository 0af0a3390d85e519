import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import argon2 from 'argon2';
import { hashPassword, needsRehash, toDovecotOrder, verifyPassword } from '../../src/auth/hash.js';
import { requireParts } from '../helpers/parts.js';

// What needs these parts is skipped, with one line saying what is missing (test/helpers/parts.ts).
const describe = requireParts(['doveadm']);

/** Our stored hashes must verify with Dovecot's own {ARGON2ID} scheme, so the table stays usable by passdb sql. */
function doveadmVerifies(hash: string, password: string): boolean {
  try {
    const out = execFileSync('doveadm', ['pw', '-t', `{ARGON2ID}${hash}`, '-p', password], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return /\(verified\)/.test(out);
  } catch {
    return false;
  }
}

describe('argon2id hashes shared with Dovecot', () => {
  it('a hash made with the OWASP defaults verifies with doveadm pw -t, and a wrong password does not', async () => {
    const hash = await hashPassword('Correct-Horse-Battery-9', { memory_cost: 19456, time_cost: 2, parallelism: 1 });
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(doveadmVerifies(hash, 'Correct-Horse-Battery-9')).toBe(true);
    expect(doveadmVerifies(hash, 'Correct-Horse-Battery-8')).toBe(false);
  });

  it('the npm argon2 parameter order is the one Dovecot rejects (why toDovecotOrder exists)', async () => {
    const npmOrder = await argon2.hash('pw-in-npm-order', { type: argon2.argon2id, memoryCost: 4096, timeCost: 1, parallelism: 1 });
    expect(npmOrder).toMatch(/m=4096,p=1,t=1/);
    expect(doveadmVerifies(npmOrder, 'pw-in-npm-order')).toBe(false);
    expect(doveadmVerifies(toDovecotOrder(npmOrder), 'pw-in-npm-order')).toBe(true);
  });

  it('we verify hashes Dovecot made, with or without the {ARGON2ID} prefix', async () => {
    const made = execFileSync('doveadm', ['pw', '-s', 'ARGON2ID', '-p', 'made-by-dovecot-1'], { encoding: 'utf8' }).trim();
    expect(made.startsWith('{ARGON2ID}$argon2id$')).toBe(true);
    expect(await verifyPassword(made, 'made-by-dovecot-1')).toBe(true);
    expect(await verifyPassword(made.replace('{ARGON2ID}', ''), 'made-by-dovecot-1')).toBe(true);
    expect(await verifyPassword(made, 'made-by-dovecot-2')).toBe(false);
  });

  it('flags hashes made with other parameters for rehash, and never throws on garbage', async () => {
    const h = await hashPassword('x-x-x-x-x-x', { memory_cost: 4096, time_cost: 1, parallelism: 1 });
    expect(needsRehash(h, { memory_cost: 4096, time_cost: 1, parallelism: 1 })).toBe(false);
    expect(needsRehash(h, { memory_cost: 19456, time_cost: 2, parallelism: 1 })).toBe(true);
    expect(await verifyPassword('$argon2id$garbage', 'x')).toBe(false);
    expect(await verifyPassword('{SHA512-CRYPT}$6$abc$def', 'x')).toBe(false);
  });
});
