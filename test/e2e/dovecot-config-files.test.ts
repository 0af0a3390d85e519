/**
 * The shipped Dovecot/Postfix files: one Lua script, copied into each
 * version directory (the CONTRACT wants each to be complete on its own),
 * and snippets whose every setting is explained.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_DIR } from '../helpers/dovecot.js';

const read = (...p: string[]) => readFileSync(join(CONFIG_DIR, ...p), 'utf8');

describe('shipped Dovecot/Postfix files', () => {
  it('2.3/ and 2.4/ carry identical copies of config/dovecot/mailpassd-auth.lua', () => {
    const canonical = read('dovecot', 'mailpassd-auth.lua');
    expect(read('dovecot', '2.3', 'mailpassd-auth.lua')).toBe(canonical);
    expect(read('dovecot', '2.4', 'mailpassd-auth.lua')).toBe(canonical);
  });

  it('the script defines every entry point Dovecot 2.3 and 2.4 call', () => {
    const lua = read('dovecot', 'mailpassd-auth.lua');
    for (const fn of ['auth_password_verify', 'auth_passdb_lookup', 'auth_userdb_lookup', 'auth_passdb_get_cache_key', 'auth_userdb_get_cache_key', 'script_init']) {
      expect(lua).toMatch(new RegExp(`^function ${fn}\\(`, 'm'));
    }
  });

  it.each([
    ['dovecot', '2.3', 'mailpassd.conf'],
    ['dovecot', '2.4', 'mailpassd.conf'],
    ['dovecot', 'checkpassword.conf'],
    ['postfix', 'main.cf.snippet'],
  ])('%s/%s: every setting line has a comment right above it or in its block', (...path) => {
    const lines = read(...path).split('\n');
    const uncommented: string[] = [];
    lines.forEach((line, i) => {
      const t = line.trim();
      if (t === '' || t.startsWith('#') || t === '}' || /^[\w-]+\s+[\w./-]*\s*\{$/.test(t) || t.endsWith('{')) return;
      // Walk up through the lines of the same block to the nearest comment.
      for (let j = i - 1; j >= 0; j--) {
        const u = lines[j]!.trim();
        if (u.startsWith('#')) return;
        if (u === '' || u === '}') break;
      }
      uncommented.push(`${i + 1}: ${line}`);
    });
    expect(uncommented).toEqual([]);
  });
});
