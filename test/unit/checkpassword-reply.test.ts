/** The reply program's environment: only userdb_* fields, none of our settings. */
import { describe, expect, it } from 'vitest';
import { replyEnv } from '../../src/dovecot/checkpassword/reply.js';

const base = { PATH: '/usr/bin:/bin', HOME: '/var/lib/dovecot', EXTRA: 'stale', MAILPASSD_AUTH_SECRET: 's3cret', MAILPASSD_AUTH_LISTEN: '127.0.0.1:1', SERVICE: 'imap' };

describe('replyEnv', () => {
  it('sets USER, HOME from userdb_home, the other userdb_* fields named in EXTRA; drops MAILPASSD_* and the inherited HOME/EXTRA', () => {
    const r = replyEnv(base, 'alice@example.org', { userdb_home: '/var/vmail/a', userdb_uid: '5000', userdb_gid: '5000' }, false);
    expect(r).toEqual({
      kind: 'env',
      env: { USER: 'alice@example.org', PATH: '/usr/bin:/bin', SERVICE: 'imap', HOME: '/var/vmail/a', userdb_uid: '5000', userdb_gid: '5000', EXTRA: 'userdb_uid userdb_gid' },
      ignored: [],
    });
  });

  it('passes no passdb field (proxy, host, nopassword, user) and reports them as ignored', () => {
    const r = replyEnv(base, 'alice@example.org', { proxy: 'y', host: '203.0.113.9', nopassword: 'y', user: 'mallory', userdb_uid: '5000' }, false);
    expect(r.kind === 'env' && r.ignored).toEqual(['proxy', 'host', 'nopassword', 'user']);
    expect(r.kind === 'env' && r.env).toEqual({ USER: 'alice@example.org', PATH: '/usr/bin:/bin', SERVICE: 'imap', userdb_uid: '5000', EXTRA: 'userdb_uid' });
  });

  it('a lookup sets AUTHORIZED=2 (the reply program then exits 2)', () => {
    const r = replyEnv({}, 'alice@example.org', {}, true);
    expect(r).toEqual({ kind: 'env', env: { USER: 'alice@example.org', AUTHORIZED: '2' }, ignored: [] });
  });

  it('a field that cannot be an environment variable is invalid, not silently passed', () => {
    expect(replyEnv({}, 'a', { 'userdb_x=y': '1' }, false)).toEqual({ kind: 'invalid', why: 'field name "userdb_x=y" cannot be passed through the environment' });
    expect(replyEnv({}, 'a', { userdb_x: 'a\0b' }, false)).toEqual({ kind: 'invalid', why: 'field userdb_x contains NUL' });
  });
});
