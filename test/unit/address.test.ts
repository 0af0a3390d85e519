import { describe, expect, it } from 'vitest';
import { followsNewMailboxRule, newMailboxAddress, normalizeAddress, normalizeDomain } from '../../src/core/address.js';
import { canonicalUser } from '../../src/auth/verify.js';

describe('a mailbox has one spelling, accepted in any ASCII case (Dovecot folds that before its cache key)', () => {
  it('folds ASCII case', () => {
    expect(normalizeAddress('Alice.Smith@Example.ORG').address).toBe('alice.smith@example.org');
    expect(normalizeAddress('alice@XN--BCHER-KVA.example').address).toBe('alice@xn--bcher-kva.example');
  });

  it.each([
    ['a trailing dot', 'alice@example.org.', 'alice@example.org'],
    ['the Unicode form of an IDN domain', 'alice@bücher.example', 'alice@xn--bcher-kva.example'],
    ['the Unicode form in another case', 'alice@Bücher.Example', 'alice@xn--bcher-kva.example'],
  ])('refuses %s, naming the stored spelling', (_what, input, stored) => {
    expect(() => normalizeAddress(input)).toThrow(`use ${stored}`);
  });

  it('refuses surrounding blanks', () => {
    expect(() => normalizeAddress(' alice@example.org')).toThrow(/not a valid mailbox address/);
    expect(() => normalizeAddress('alice@example.org ')).toThrow(/use alice@example.org/);
  });

  it('never folds non-ASCII into ASCII (the Kelvin sign is not k)', () => {
    expect(() => normalizeAddress('\u212Aate@example.org')).toThrow(/not a valid mailbox address/);
  });

  it('the login name check (canonicalUser) maps no other spelling onto the mailbox', () => {
    expect(canonicalUser('ALICE@Example.Org')).toBe('alice@example.org');
    for (const other of ['alice@example.org.', 'alice@EXAMPLE.org.', ' alice@example.org', 'alice@bücher.example']) {
      expect(canonicalUser(other)).not.toBe(canonicalUser(other.trim().replace(/\.$/, '').replace('bücher', 'xn--bcher-kva')));
    }
  });

  it('domains on their own are still accepted in any spelling', () => {
    expect(normalizeDomain('Bücher.Example.')).toBe('xn--bcher-kva.example');
  });
});

describe('new mailboxes: a local part doveadm cannot read as an option or a wildcard', () => {
  it.each(['alice', 'first.last', 'first.last+tag', 'a-b_c', '1234', '_bounce', 'x+'])('accepts %s', (local) => {
    expect(newMailboxAddress(`${local}@example.org`).localPart).toBe(local);
  });

  it.each(['-alice', '-', 'a*b', '*', 'a?c', 'a%b', 'a/b', 'a|b', "o'brien", 'a=b', 'a!b', 'a#b', 'a$b', 'a&b', 'a^b', 'a`b', 'a{b}', 'a~b', '+tag'])(
    'refuses %s with the rule',
    (local) => {
      expect(() => newMailboxAddress(`${local}@example.org`)).toThrow(/cannot be a new mailbox: a local part is letters a-z, digits and \. _ \+ - only, starts with a letter, digit or _/);
    },
  );

  it.each(['.a', 'a.', 'a..b'])('refuses the dot misplaced in %s', (local) => {
    expect(() => newMailboxAddress(`${local}@example.org`)).toThrow(/not a valid mailbox address/);
  });

  it('stored mailboxes under the old rule can still be named (rotate, disable, delete)', () => {
    expect(normalizeAddress('-legacy@example.org').address).toBe('-legacy@example.org');
    expect(normalizeAddress('a*b@example.org').address).toBe('a*b@example.org');
    expect(followsNewMailboxRule('-legacy@example.org')).toBe(false);
    expect(followsNewMailboxRule('a?c@example.org')).toBe(false);
    expect(followsNewMailboxRule('first.last+tag@example.org')).toBe(true);
  });
});
