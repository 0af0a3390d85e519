/**
 * What a test file needs beyond Node, and one visible line when it is missing.
 *
 *   const describe = requireParts(['root', 'dovecot23']);   // at the top of the file
 *
 * gives vitest's `describe` when every part is there, and a skipping one otherwise; the
 * file then prints a single line naming what is missing and how to get it, so
 * `npm test` passes on a machine with only Node. `bash .ci/run` installs everything and
 * sets MAILPASSD_TEST_REQUIRE_ALL=1, which turns such a skip into a failure: CI runs all.
 *
 * MAILPASSD_TEST_PRETEND_MISSING=dovecot23,postfix (or `all`) makes parts count as
 * missing on a machine that has them, to see what a newcomer sees.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect } from 'vitest';

export type Part = 'root' | 'doveadm' | 'dovecot23' | 'postfix' | 'lmtp' | 'trixie' | 'chromium' | 'roundcube' | 'postgresql15';

const TRIXIE_DIR = process.env.MAILPASSD_TEST_TRIXIE_DIR ?? '/var/cache/mailpassd-test/trixie';

/** Debian packages whose presence we check with dpkg-query, per part. */
const PACKAGES: Record<Exclude<Part, 'root'>, string[]> = {
  doveadm: ['dovecot-core'],
  // Postfix only for its user: it owns the auth-postfix socket of the shipped snippet.
  dovecot23: ['dovecot-core', 'dovecot-imapd', 'dovecot-pop3d', 'dovecot-auth-lua', 'lua-cjson', 'postfix'],
  postfix: ['postfix', 'swaks', 'libnet-ssleay-perl', 'openssl'],
  // Postfix delivering to Dovecot (the notices e2e).
  lmtp: ['dovecot-lmtpd'],
  trixie: ['postfix'],
  // The browser tests drive Debian's Chromium with playwright-core (no browser download).
  chromium: ['chromium', 'fonts-dejavu-core'],
  // Debian 12's PostgreSQL: the oldest version we support, and pg_basebackup for the failover replica.
  postgresql15: ['postgresql-15'],
  // A private Roundcube (php -S, SQLite) for the password plugin's browser tests.
  roundcube: ['roundcube-core', 'roundcube-sqlite3', 'roundcube-plugins', 'php-cli', 'php-sqlite3', 'sqlite3'],
};

const installed = new Map<string, boolean>();

function packagesMissing(packages: string[]): string[] {
  const unknown = packages.filter((p) => !installed.has(p));
  if (unknown.length > 0) {
    // One call for all: dpkg-query prints the packages it knows (and exits 1 if it does not know one).
    const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Abbrev}\n', ...unknown], { encoding: 'utf8' });
    const ok = new Set((r.stdout ?? '').split('\n').filter((l) => / ii/.test(l)).map((l) => l.split(' ')[0]));
    for (const p of unknown) installed.set(p, ok.has(p));
  }
  return packages.filter((p) => !installed.get(p));
}

function dovecotVersion(): string | null {
  for (const bin of ['dovecot', '/usr/sbin/dovecot']) {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return r.stdout.trim();
  }
  return null;
}

interface Missing {
  what: string;
  /** Debian packages that bring it. */
  packages: string[];
}

/** What is missing for one part; null when it is there. */
function missingFor(part: Part, pretend: Set<string>): Missing | null {
  const pretending = pretend.has(part) || pretend.has('all');
  if (part === 'root') return pretending || process.getuid?.() !== 0 ? { what: 'root', packages: [] } : null;
  const packages = pretending ? PACKAGES[part] : packagesMissing(PACKAGES[part]);
  switch (part) {
    case 'doveadm':
      // What the tests run is `doveadm pw`, wherever it comes from.
      return !pretending && spawnSync('doveadm', ['pw', '-l'], { stdio: 'ignore' }).status === 0 ? null : { what: 'doveadm', packages: PACKAGES.doveadm };
    case 'dovecot23': {
      if (packages.length > 0) return { what: 'Dovecot 2.3', packages };
      const version = dovecotVersion();
      return version?.startsWith('2.3.') ? null : { what: `Dovecot 2.3 (Debian 12's; found ${version ?? 'none'})`, packages: [] };
    }
    case 'postfix':
      return packages.length > 0 ? { what: 'Postfix and swaks', packages } : null;
    case 'lmtp':
      return packages.length > 0 ? { what: 'Dovecot LMTP', packages } : null;
    case 'chromium':
      return packages.length > 0 ? { what: 'Chromium', packages } : null;
    case 'postgresql15':
      return packages.length > 0 ? { what: "Debian 12's PostgreSQL 15", packages } : null;
    case 'roundcube':
      return packages.length > 0 ? { what: 'Roundcube with PHP and SQLite', packages } : null;
    case 'trixie': {
      const built = !pretending && existsSync(join(TRIXIE_DIR, '.mailpassd-test-complete'));
      const debootstrap = built || (!pretending && packagesMissing(['debootstrap']).length === 0) ? [] : ['debootstrap'];
      const all = [...debootstrap, ...packages];
      return all.length > 0 ? { what: `Dovecot 2.4 (a Debian 13 chroot that the first run builds into ${TRIXIE_DIR})`, packages: all } : null;
    }
  }
}

const reported = new Set<string>();

/** `describe` when every part is there; otherwise a skipping `describe`, and one line saying what is missing and how to get it. */
export function requireParts(parts: Part[]): ReturnType<typeof describe.skipIf> {
  const pretend = new Set((process.env.MAILPASSD_TEST_PRETEND_MISSING ?? '').split(',').map((s) => s.trim()));
  const missing = parts.map((p) => missingFor(p, pretend)).filter((m): m is Missing => m !== null);
  if (missing.length > 0) {
    const packages = [...new Set(missing.flatMap((m) => m.packages))];
    const how = [
      ...(packages.length > 0 ? [`apt-get install ${packages.join(' ')}`] : []),
      ...(missing.some((m) => m.what === 'root') ? ['run as root (sudo npm test)'] : []),
    ].join(', ');
    const needs = `${missing.map((m) => m.what).join(', ')} — ${how}`;
    if (process.env.MAILPASSD_TEST_REQUIRE_ALL === '1') throw new Error(`MAILPASSD_TEST_REQUIRE_ALL=1 (set by .ci/run): nothing may be skipped, and this file needs ${needs}`);
    // A file that asks twice (widest first) says it once.
    const file = expect.getState().testPath ?? '';
    const fresh = missing.filter((m) => !reported.has(`${file}\0${m.what}`));
    for (const m of missing) reported.add(`${file}\0${m.what}`);
    if (fresh.length > 0) console.warn(`skipped: needs ${needs}; or run bash .ci/run, which installs all of it`);
  }
  return describe.skipIf(missing.length > 0);
}
