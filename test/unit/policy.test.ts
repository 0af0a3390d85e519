import argon2 from 'argon2';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_POLICY,
  MAX_PASSWORD_BYTES,
  PolicyOverrideError,
  characterClasses,
  checkPasswordInput,
  checkPasswordRules,
  effectivePolicy,
  findReuse,
  generatePassword,
  parsePolicyOverrides,
  type PolicySettings,
  type PolicySubject,
} from '../../src/policy/index.js';
import { MAX_SCORED_CHARS, strengthScore } from '../../src/policy/strength.js';

const alice: PolicySubject = { address: 'alice.martin@example.org', displayName: 'Alice Martin' };
const nobody: PolicySubject = { address: 'qx@zz.io', displayName: null };
/** Isolates the deterministic rules from zxcvbn. */
const noScore: PolicySettings = { ...DEFAULT_POLICY, minScore: 0 };

const codes = (password: string, subject: PolicySubject, settings: PolicySettings = noScore): string[] =>
  checkPasswordRules(password, subject, settings).map((v) => v.code);

describe('checkPasswordInput', () => {
  const refusal = (raw: string | Buffer) => {
    const result = checkPasswordInput(raw);
    return result.ok ? 'ok' : result.code;
  };

  it('refuses empty input, string or Buffer', () => {
    expect(refusal('')).toBe('password_empty');
    expect(refusal(Buffer.alloc(0))).toBe('password_empty');
  });

  it('refuses whitespace-only input, including Unicode spaces', () => {
    expect(refusal('    ')).toBe('password_whitespace');
    expect(refusal('\u00a0\u3000 ')).toBe('password_whitespace');
    expect(refusal(' \t ')).toBe('password_whitespace');
    expect(refusal(' inner space ok ')).toBe('ok');
  });

  it('counts the limit in UTF-8 bytes, not characters', () => {
    expect(MAX_PASSWORD_BYTES).toBe(1024);
    expect(refusal('é'.repeat(512))).toBe('ok'); // 512 chars, 1024 bytes
    expect(refusal('é'.repeat(512) + 'a')).toBe('password_too_long'); // 1025 bytes
    expect(refusal('😀'.repeat(256))).toBe('ok'); // 4-byte code points
    expect(refusal('😀'.repeat(256) + 'a')).toBe('password_too_long');
    expect(refusal('€'.repeat(341) + 'a')).toBe('ok'); // 3 * 341 + 1 = 1024
    expect(refusal('€'.repeat(342))).toBe('password_too_long'); // 1026, only 342 chars
    expect(refusal(Buffer.alloc(1024, 'a'))).toBe('ok');
    expect(refusal(Buffer.alloc(1025, 'a'))).toBe('password_too_long');
  });

  it('refuses bytes that are not UTF-8, and strings that have no UTF-8 form', () => {
    expect(refusal(Buffer.from([0x61, 0xc3, 0x28]))).toBe('password_not_utf8'); // bad continuation
    expect(refusal(Buffer.from([0xff, 0xfe, 0x61]))).toBe('password_not_utf8');
    expect(refusal(Buffer.from([0xc0, 0xaf]))).toBe('password_not_utf8'); // overlong "/"
    expect(refusal(Buffer.from([0xe2, 0x82]))).toBe('password_not_utf8'); // truncated €
    expect(refusal('abc\ud800def')).toBe('password_not_utf8'); // lone surrogate
  });

  it('refuses NUL and other control characters', () => {
    expect(refusal('abc\u0000def')).toBe('password_control_chars');
    expect(refusal(Buffer.from('abc\0def'))).toBe('password_control_chars');
    expect(refusal('line\nbreak')).toBe('password_control_chars');
    expect(refusal('tab\there')).toBe('password_control_chars');
    expect(refusal('del\u007f')).toBe('password_control_chars');
  });

  it('returns valid input unchanged, decoding Buffers byte for byte', () => {
    expect(checkPasswordInput('Grüße aus Köln 42!')).toEqual({ ok: true, password: 'Grüße aus Köln 42!' });
    expect(checkPasswordInput(Buffer.from('Grüße aus Köln 42!'))).toEqual({ ok: true, password: 'Grüße aus Köln 42!' });
    // A leading BOM is part of the bytes, so it stays part of the password.
    expect(checkPasswordInput(Buffer.from([0xef, 0xbb, 0xbf, 0x61, 0x62]))).toEqual({ ok: true, password: '\ufeffab' });
  });

  it('never echoes the password in a message', () => {
    for (const raw of ['secret\u0000x', 'secret\ud800', 'secret'.repeat(200)]) {
      const result = checkPasswordInput(raw);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.message).not.toContain('secret');
    }
  });
});

describe('checkPasswordRules: length and classes', () => {
  it('too_short counts Unicode code points', () => {
    expect(codes('Kx9#mQ2$vLw', nobody)).toEqual(['too_short']); // 11
    expect(codes('Kx9#mQ2$vLw7', nobody)).toEqual([]); // 12
    expect(codes('😀'.repeat(11), nobody)).toEqual(['too_short']); // 22 UTF-16 units, 11 characters
    expect(codes('😀'.repeat(12), nobody)).toEqual([]);
  });

  it('too_few_classes counts lower, upper, digit, other', () => {
    expect(characterClasses('abc')).toBe(1);
    expect(characterClasses('aBc')).toBe(2);
    expect(characterClasses('aB3')).toBe(3);
    expect(characterClasses('aB3 ')).toBe(4);
    expect(characterClasses('ÉTÉ-été')).toBe(3);
    const three = { ...noScore, minClasses: 3 };
    expect(codes('quartzplumevest', nobody, three)).toEqual(['too_few_classes']);
    expect(codes('QUARTZ-PLUME-VEST', nobody, three)).toEqual(['too_few_classes']);
    expect(codes('Quartz-plume-vest', nobody, three)).toEqual([]);
  });
});

describe('checkPasswordRules: personal tokens', () => {
  it('refuses the Martin-Alice-1990!x case for "Alice Martin"', () => {
    const subject = { address: 'am@example.org', displayName: 'Alice Martin' };
    const found = codes('Martin-Alice-1990!x', subject, DEFAULT_POLICY);
    expect(found).toContain('contains_name');
    expect(found).toContain('contains_date');
    // zxcvbn alone scores it 4 ("Martin", "Alice" are common words in a long string):
    // the personal-token rules are what refuse it.
    expect(found).not.toContain('too_weak');
  });

  it('refuses the local part and its pieces', () => {
    expect(codes('zq-alice.martin-vx', alice)).toContain('contains_local_part');
    expect(codes('zqMARTINvx-Tkw!', { ...alice, displayName: null })).toEqual(['contains_local_part']);
    expect(codes('Jo-is-quartz-plume', { address: 'jo@example.org', displayName: null })).toEqual([]); // "jo" too short
    const plus = { address: 'ann_lee-dev@example.org', displayName: null };
    expect(codes('quartz-DEV-plume', plus)).toEqual(['contains_local_part']);
    expect(codes('quartz-ANN-plume', plus)).toEqual(['contains_local_part']);
  });

  it('refuses domain labels but not the TLD', () => {
    expect(codes('Quartz-Example-Plume', { address: 'qx@example.org', displayName: null })).toEqual(['contains_domain']);
    expect(codes('Quartz-ORG-plume-vx', { address: 'qx@example.org', displayName: null })).toEqual([]);
    expect(codes('Quartz-co-plume-vx', { address: 'qx@mail.example.co.uk', displayName: null })).toEqual([]);
    expect(codes('Quartz-mail-plume', { address: 'qx@mail.example.co.uk', displayName: null })).toEqual(['contains_domain']);
    // Hyphenated labels are checked piece by piece.
    expect(codes('Quartz-family-plume', { address: 'qx@martin-family.net', displayName: null })).toEqual(['contains_domain']);
    // IDNA: stored as xn--, typed as Unicode, compared without accents.
    expect(codes('MUNCHEN-quartz-vx', { address: 'qx@xn--mnchen-3ya.de', displayName: null })).toEqual(['contains_domain']);
  });

  it('refuses display-name parts, case-insensitively', () => {
    expect(codes('quartz-alice-plume', alice)).toContain('contains_name');
    expect(codes('quartz-MARTIN-plume', { ...alice, address: 'qx@zz.io' })).toEqual(['contains_name']);
    expect(codes('quartz-alice-plume', { address: 'qx@zz.io', displayName: 'Martin, Alice' })).toEqual(['contains_name']);
    expect(codes('quartz-neil-plume', { address: 'qx@zz.io', displayName: "Jean-Luc O'Neil" })).toEqual(['contains_name']);
    expect(codes('quartz-luc-plume', { address: 'qx@zz.io', displayName: "Jean-Luc O'Neil" })).toEqual(['contains_name']);
    // "Al" and "Bo" are too short to be tokens.
    expect(codes('quartz-al-bo-plume', { address: 'qx@zz.io', displayName: 'Al Bo' })).toEqual([]);
  });

  it('sees through leetspeak, including the 1 = i or l ambiguity', () => {
    const subject = { address: 'qx@zz.io', displayName: 'Alice' };
    for (const pw of ['Al1c3-Zq9vTr#8w', '4l!c3-Zq9vTr#8w', '@L1CE-Zq9vTr#8w', 'a11ce-Zq9vTr#8w', 'Zq9v-ALICE-w8']) {
      expect(codes(pw, subject), pw).toEqual(['contains_name']);
    }
    expect(codes('quartz-M4rt1n-vx', { address: 'qx@zz.io', displayName: 'Martin' })).toEqual(['contains_name']);
    expect(codes('quartz-b1ll-vx', { address: 'qx@zz.io', displayName: 'Bill' })).toEqual(['contains_name']);
  });

  it('sees through accents on either side', () => {
    const subject = { address: 'qx@zz.io', displayName: 'Alice' };
    expect(codes('ÀLICE-Zq9vTr#8w', subject)).toEqual(['contains_name']);
    expect(codes('ÅľÏçÉ-Zq9vTr#8w', subject)).toEqual(['contains_name']);
    const zoe = { address: 'qx@zz.io', displayName: 'Zoë Brontë' };
    expect(codes('ZOE-quartz-plume', zoe)).toEqual(['contains_name']);
    expect(codes('quartz-bronte-vx', zoe)).toEqual(['contains_name']);
  });

  it('accepts passwords unrelated to the mailbox', () => {
    expect(codes('Quartz-plume-vest', alice)).toEqual([]);
    expect(codes('Quartz-plume-vest', alice, DEFAULT_POLICY)).toEqual([]);
  });
});

describe('checkPasswordRules: contains_date', () => {
  const dated = (pw: string) => codes(pw, nobody).includes('contains_date');

  it('refuses years 1900-2099 anywhere', () => {
    for (const pw of ['quartz1990plume', 'quartz-2024-plume', 'x20991', 'quartz-１９９０-plume']) expect(dated(pw), pw).toBe(true);
    for (const pw of ['quartz1899plume', 'quartz2100plume', 'quartz-19-90-x']) expect(dated(pw), pw).toBe(false);
  });

  it('refuses compact and separated dates that parse as day and month', () => {
    for (const pw of [
      'plume15031990', // ddmmyyyy
      'plume19900315', // yyyymmdd
      'plume-150390-x', // ddmmyy
      'plume-031590-x', // mmddyy
      'plume 15/03/1990',
      'plume 15.03.90',
      'plume 3/15/90',
      'plume 1-2-03',
      'plume 1990-03-15',
    ]) {
      expect(dated(pw), pw).toBe(true);
    }
  });

  it('does not refuse digit runs that are not dates', () => {
    for (const pw of [
      'plume-123456-x', // 12/34 and 34/12: no month 34
      'plume-993812-x', // day 99
      'plume-000000-x', // day 0
      'plume-1234567-x', // 7 digits: not split into windows
      'plume 12.34.56',
      'plume 1.2.3', // 1-digit year
      'plume 15.03', // no year
      'plume 15.03-90', // mixed separators
    ]) {
      expect(dated(pw), pw).toBe(false);
    }
  });
});

describe('checkPasswordRules: too_weak', () => {
  it('refuses a score below minScore and accepts a strong passphrase', () => {
    expect(codes('password1234', nobody, DEFAULT_POLICY)).toContain('too_weak');
    expect(codes('qwertyuiop12', nobody, DEFAULT_POLICY)).toContain('too_weak');
    expect(codes('P@ssw0rd!!!!', nobody, DEFAULT_POLICY)).toContain('too_weak');
    expect(codes('correct horse battery staple', nobody, DEFAULT_POLICY)).toEqual([]);
    expect(codes('password1234', nobody, { ...DEFAULT_POLICY, minScore: 0 })).toEqual([]);
  });

  it('feeds the mailbox details to zxcvbn as user inputs', () => {
    expect(strengthScore('xkqvbzwplmtr', [])).toBeGreaterThanOrEqual(3);
    expect(strengthScore('xkqvbzwplmtr', ['xkqvbzwplmtr'])).toBeLessThan(3);
  });

  // zxcvbn's time grows steeply with length: scoring all of a 1000-character
  // password takes minutes, which this test's time limit turns into a failure.
  it('scores only a prefix of very long passwords', () => {
    // A strong tail would lift a weak password to 4 (checked with 80 'a's: 0 → 4), unless it is past the prefix.
    const weak = 'a'.repeat(MAX_SCORED_CHARS);
    expect(strengthScore(weak, [])).toBeLessThan(3);
    expect(strengthScore(weak + 'Zq9#vTr8w-Kp4$mXe7!', [])).toBe(strengthScore(weak, []));
    const long = 'Zq9#vTr8w-'.repeat(100); // 1000 characters
    expect(codes(long, nobody, DEFAULT_POLICY)).toEqual([]);
  });
});

describe('checkPasswordRules: reporting', () => {
  it('lists every failing rule at once, in a stable order', () => {
    const subject = { address: 'alice@alice.org', displayName: 'Alice' };
    const settings: PolicySettings = { ...DEFAULT_POLICY, minLength: 20, minClasses: 3 };
    const violations = checkPasswordRules('alice1990', subject, settings);
    expect(violations.map((v) => v.code)).toEqual([
      'too_short',
      'too_few_classes',
      'contains_local_part',
      'contains_domain',
      'contains_name',
      'contains_date',
      'too_weak',
    ]);
    for (const v of violations) {
      expect(v.message).toMatch(/^The password .+\.$/);
      expect(v.message).not.toMatch(/alice|1990/i);
    }
  });

  it('never throws and never echoes the password (property)', () => {
    const token = fc.constantFrom('', 'alice', 'Martin', '1990', 'example', '15.03.90', 'Al1c3');
    const password = fc
      .tuple(fc.string({ unit: 'binary', maxLength: 30 }), token, fc.string({ unit: 'grapheme', maxLength: 30 }))
      .map(([a, b, c]) => a + b + c)
      .filter((pw) => [...pw].length >= 4);
    const subject = fc.record({
      address: fc.emailAddress().map((a) => a.toLowerCase()),
      displayName: fc.option(fc.string({ unit: 'grapheme', maxLength: 40 })),
    });
    fc.assert(
      fc.property(password, subject, (pw, subj) => {
        for (const v of checkPasswordRules(pw, subj, DEFAULT_POLICY)) {
          expect(v.message).not.toContain(pw);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('findReuse', () => {
  const cheap = { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 } as const;
  const verify = (hash: string, password: string) => argon2.verify(hash, password);

  it('finds a reused password among the previous hashes and names N', async () => {
    const hashes = await Promise.all(['first-Quartz-1', 'second-Plume-2', 'third-Vest-3'].map((p) => argon2.hash(p, cheap)));
    expect(await findReuse('second-Plume-2', hashes, verify)).toEqual({
      code: 'reused',
      message: 'The password was used before; choose one not among the last 3.',
      params: { count: 3 },
    });
    expect(await findReuse('fourth-Cask-4', hashes, verify)).toBeNull();
    expect(await findReuse('anything', [], verify)).toBeNull();
  });

  it('checks only the newest historyCount hashes and names that count', async () => {
    const hashes = await Promise.all(['newest-A1', 'older-B2', 'oldest-C3'].map((p) => argon2.hash(p, cheap)));
    expect(await findReuse('oldest-C3', hashes, verify, 2)).toBeNull();
    expect((await findReuse('newest-A1', hashes, verify, 2))?.message).toBe(
      'The password was used before; choose one not among the last 2.',
    );
    expect(await findReuse('newest-A1', hashes, verify, 0)).toBeNull();
  });

  it('propagates verify errors instead of letting reuse through', async () => {
    const broken = () => Promise.reject(new Error('hash store unreadable'));
    await expect(findReuse('x-Quartz-1', ['$argon2id$bad'], broken)).rejects.toThrow('hash store unreadable');
  });

  it('reports reuse when one hash matches even if another cannot be checked', async () => {
    const good = await argon2.hash('kept-Quartz-1', cheap);
    const flaky = (hash: string, password: string) => (hash === good ? verify(hash, password) : Promise.reject(new Error('unreadable')));
    expect((await findReuse('kept-Quartz-1', ['$argon2id$bad', good], flaky))?.code).toBe('reused');
    await expect(findReuse('other-Plume-2', ['$argon2id$bad', good], flaky)).rejects.toThrow('unreadable');
  });
});

describe('generatePassword', () => {
  it('generates 200 passwords that pass the policy and contain every class', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const pw = generatePassword(alice, DEFAULT_POLICY);
      expect(pw).toHaveLength(20);
      expect(checkPasswordRules(pw, alice, DEFAULT_POLICY)).toEqual([]);
      expect(pw).toMatch(/[a-z]/);
      expect(pw).toMatch(/[A-Z]/);
      expect(pw).toMatch(/[2-9]/);
      expect(pw).toMatch(/[-_.!?#%+=]/);
      expect(pw).not.toMatch(/[01OlI]/);
      expect(pw).toMatch(/^[A-Za-z2-9\-_.!?#%+=]+$/);
      expect(checkPasswordInput(pw)).toEqual({ ok: true, password: pw });
      seen.add(pw);
    }
    expect(seen.size).toBe(200);
  });

  it('honours a minimum length above 20, and refuses one no password may have', () => {
    const settings = { ...DEFAULT_POLICY, minLength: 32, minClasses: 4 };
    const pw = generatePassword(alice, settings);
    expect(pw).toHaveLength(32);
    expect(checkPasswordRules(pw, alice, settings)).toEqual([]);
    expect(() => generatePassword(alice, { ...DEFAULT_POLICY, minLength: 2000 })).toThrow(/minLength/);
  });
});

describe('policy settings', () => {
  it('effectivePolicy applies domain overrides over the global policy', () => {
    const global: PolicySettings = { ...DEFAULT_POLICY, maxAgeDays: 365 };
    expect(effectivePolicy(global, null)).toEqual(global);
    expect(effectivePolicy(global, {})).toEqual(global);
    expect(effectivePolicy(global, { minLength: 16, minScore: 4 })).toEqual({ ...global, minLength: 16, minScore: 4 });
    // null maxAgeDays is an override (never expires), undefined is "inherit".
    expect(effectivePolicy(global, { maxAgeDays: null }).maxAgeDays).toBeNull();
    expect(effectivePolicy(global, { maxAgeDays: undefined }).maxAgeDays).toBe(365);
    expect(global).toEqual({ ...DEFAULT_POLICY, maxAgeDays: 365 }); // not mutated
  });

  it('parsePolicyOverrides accepts valid objects', () => {
    expect(parsePolicyOverrides({ minLength: 14, historyCount: 0, maxAgeDays: null })).toEqual({
      minLength: 14,
      historyCount: 0,
      maxAgeDays: null,
    });
    expect(parsePolicyOverrides(JSON.parse('{"minScore": 4, "minClasses": 3, "maxAgeDays": 90}'))).toEqual({
      minScore: 4,
      minClasses: 3,
      maxAgeDays: 90,
    });
    expect(parsePolicyOverrides({})).toEqual({});
    expect(parsePolicyOverrides(null)).toEqual({});
  });

  it.each([
    [{ minLenght: 12 }, 'minLenght'],
    [{ minLength: '12' }, 'minLength'],
    [{ minLength: 0 }, 'minLength'],
    [{ minLength: 2000 }, 'minLength'],
    [{ minScore: 5 }, 'minScore'],
    [{ minClasses: 2.5 }, 'minClasses'],
    [{ historyCount: -1 }, 'historyCount'],
    [{ historyCount: null }, 'historyCount'],
    [{ maxAgeDays: 0 }, 'maxAgeDays'],
    [JSON.parse('{"__proto__": {"minLength": 1}}'), '__proto__'],
  ])('parsePolicyOverrides rejects %j naming %s', (value, key) => {
    try {
      parsePolicyOverrides(value);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PolicyOverrideError);
      expect((err as PolicyOverrideError).code).toBe('invalid_policy_override');
      expect((err as PolicyOverrideError).key).toBe(key);
      expect((err as Error).message).toContain(`"${key}"`);
    }
  });

  it('parsePolicyOverrides rejects values that are not objects', () => {
    for (const value of [[], 'minLength=12', 12, true]) {
      expect(() => parsePolicyOverrides(value)).toThrow(PolicyOverrideError);
    }
  });
});
