import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Authenticator } from '../../src/auth/verify.js';
import { buildAuthListener } from '../../src/http/auth-listener.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { addDomain } from '../../src/accounts/domains.js';
import { createMailbox, updateMailbox } from '../../src/accounts/mailboxes.js';
import { rotatePassword } from '../../src/rotation/rotate.js';
import { rotateAndWait } from '../../src/rotation/service.js';
import { startNodeWorker } from '../../src/rotation/node-worker.js';
import { createHash } from 'node:crypto';
import { hashPassword } from '../../src/auth/hash.js';
import { shaCrypt } from '../../src/auth/legacy.js';
import type { App } from '../../src/http/server.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { makeContext, type TestContext } from '../helpers/context.js';

/**
 * DESIGN §3, rule by rule, through the real auth listener (fastify inject) on a
 * real PostgreSQL with real argon2.
 */
const actor = { actor: 'test', sourceIp: null };
const PW = 'Correct-Horse-Battery-9';
let db: { url: string; drop(): Promise<void> };
let ctx: TestContext;
let auth: Authenticator;
let app: App;
let argon2Runs = 0;

async function build(env: Record<string, string> = {}) {
  ctx = await makeContext(db.url, env);
  auth = new Authenticator(ctx, createMetrics());
  await auth.init();
  // Counted when a task starts: one given up in the queue never runs argon2.
  const run = auth.limiter.run.bind(auth.limiter);
  auth.limiter.run = ((task: () => Promise<unknown>, signal?: AbortSignal) =>
    run(() => {
      argon2Runs++;
      return task();
    }, signal)) as typeof auth.limiter.run;
  app = buildAuthListener(ctx, auth);
  await app.ready();
}

const post = (body: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/v1/passdb/verify', payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
const verify = (user: string, password: string, remote_ip = '192.0.2.1') => post({ user, password, service: 'imap', remote_ip });

beforeAll(async () => {
  db = await createTestDatabase();
  await build();
  await addDomain(ctx, actor, 'example.org');
  await createMailbox(ctx, actor, { address: 'alice@example.org', displayName: 'Alice Martin', password: { kind: 'given', value: PW } });
  await createMailbox(ctx, actor, { address: 'bob@example.org', displayName: null, password: { kind: 'given', value: PW } });
});
afterAll(async () => {
  await app.close();
  await ctx.close();
  await db.drop();
});
beforeEach(() => {
  argon2Runs = 0;
  auth.throttle.sweep(Number.MAX_SAFE_INTEGER);
});

describe('auth listener: results', () => {
  it('ok carries the canonical user and userdb fields for prefetch; names are normalised', async () => {
    const r = await verify('ALICE@Example.ORG', PW);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({
      result: 'ok',
      user: 'alice@example.org',
      extra: { userdb_home: '/var/vmail/example.org/alice', userdb_uid: '5000', userdb_gid: '5000' },
    });
  });

  it('wrong password → password_mismatch; unknown user → user_unknown, after one argon2 verify against a dummy hash', async () => {
    expect((await verify('alice@example.org', 'nope-nope-nope')).json()).toEqual({ result: 'password_mismatch' });
    argon2Runs = 0;
    expect((await verify('nobody@example.org', 'nope-nope-nope')).json()).toEqual({ result: 'user_unknown' });
    expect(argon2Runs).toBe(1);
    argon2Runs = 0;
    expect((await verify('no-at-sign', 'x')).json()).toEqual({ result: 'user_unknown' });
    expect(argon2Runs).toBe(1);
  });

  it('disabled and expired are revealed only with the right password', async () => {
    await updateMailbox(ctx, actor, 'bob@example.org', { enabled: false, disabledReason: 'unpaid invoice' });
    expect((await verify('bob@example.org', PW)).json()).toEqual({ result: 'user_disabled', reason: 'unpaid invoice' });
    expect((await verify('bob@example.org', 'wrong-wrong-wrong')).json()).toEqual({ result: 'password_mismatch' });
    await updateMailbox(ctx, actor, 'bob@example.org', { enabled: true });
    await ctx.pool.query("UPDATE mailboxes SET password_expires_at = now() - interval '1 day' WHERE address = 'bob@example.org'");
    expect((await verify('bob@example.org', PW)).json()).toEqual({ result: 'pass_expired' });
    await ctx.pool.query("UPDATE mailboxes SET password_expires_at = NULL WHERE address = 'bob@example.org'");
    expect((await verify('bob@example.org', PW)).json().result).toBe('ok');
  });

  it('userdb answers from the row or the templates; unknown → 404', async () => {
    await ctx.pool.query("UPDATE mailboxes SET home = '/srv/mail/alice', quota_bytes = 1048576 WHERE address = 'alice@example.org'");
    const r = await app.inject({ method: 'GET', url: '/v1/userdb/Alice%40example.org' });
    expect(r.json()).toEqual({ user: 'alice@example.org', home: '/srv/mail/alice', uid: '5000', gid: '5000', quota_rule: '*:bytes=1048576' });
    expect((await app.inject({ method: 'GET', url: '/v1/userdb/nobody%40example.org' })).statusCode).toBe(404);
  });
});

describe('auth listener: the memo never outlives a password', () => {
  it('a repeat login skips argon2; after a rotation the old password fails at once and the new one works', async () => {
    await verify('alice@example.org', PW);
    argon2Runs = 0;
    expect((await verify('alice@example.org', PW)).json().result).toBe('ok');
    expect(argon2Runs).toBe(0);
    await rotatePassword(ctx, actor, { address: 'alice@example.org', password: { kind: 'given', value: 'Another-Strong-Secret-42' }, kick: true, reason: 'rotate' });
    expect((await verify('alice@example.org', PW)).json().result).toBe('password_mismatch');
    expect((await verify('alice@example.org', 'Another-Strong-Secret-42')).json().result).toBe('ok');
  });

  it("a rotation applied by this node's worker leaves other users' entries: bob's repeat login still skips argon2", async () => {
    const worker = await startNodeWorker(ctx, null);
    try {
      await verify('bob@example.org', PW);
      const rotated = await rotateAndWait(ctx, null, actor, { address: 'alice@example.org', password: { kind: 'given', value: 'Yet-Another-Secret-58' }, kick: true, reason: 'rotate', waitMs: 5000 });
      expect(rotated.nodes.find((n) => n.node_id === worker.nodeId)?.applied).toBe(true);
      argon2Runs = 0;
      expect((await verify('bob@example.org', PW)).json().result).toBe('ok');
      expect(argon2Runs).toBe(0);
      expect((await verify('alice@example.org', 'Another-Strong-Secret-42')).json().result).toBe('password_mismatch');
      expect((await verify('alice@example.org', 'Yet-Another-Secret-58')).json().result).toBe('ok');
    } finally {
      await worker.stop();
    }
  });

  it('a hash changed behind our back (another writer, same table) is honoured on the next verify', async () => {
    await verify('alice@example.org', 'Yet-Another-Secret-58');
    const hash = await hashPassword('Third-Strong-Secret-77', ctx.config.hash);
    await ctx.pool.query('UPDATE mailboxes SET password_hash = $1 WHERE address = $2', [hash, 'alice@example.org']);
    expect((await verify('alice@example.org', 'Yet-Another-Secret-58')).json().result).toBe('password_mismatch');
    expect((await verify('alice@example.org', 'Third-Strong-Secret-77')).json().result).toBe('ok');
  });
});

describe('auth listener: throttling and the bounded argon2 queue', () => {
  it('refuses (user, ip) after the limit before argon2, even with the right password; other IPs are unaffected', async () => {
    for (let i = 0; i < ctx.config.auth.max_failures_per_user_ip; i++) await verify('bob@example.org', `wrong-${i}-wrong-wrong`, '198.51.100.7');
    argon2Runs = 0;
    const r = await verify('bob@example.org', PW, '198.51.100.7');
    expect(r.statusCode).toBe(429);
    expect(r.json()).toEqual({ result: 'throttled' });
    expect(argon2Runs).toBe(0);
    expect((await verify('bob@example.org', PW, '198.51.100.8')).json().result).toBe('ok');
  });

  it('a spray over many users from one IP hits the per-IP limit; a login from elsewhere still succeeds', async () => {
    const spray = await Promise.all(
      Array.from({ length: ctx.config.auth.max_failures_per_ip + 40 }, (_, i) => verify(`user${i}@example.org`, 'Summer2024!', '203.0.113.9')),
    );
    const throttled = spray.filter((r) => r.statusCode === 429).length;
    // Parallel guesses take the budget as they start; the rest wait, and are refused once those failed.
    expect(throttled).toBe(40);
    expect(argon2Runs).toBe(ctx.config.auth.max_failures_per_ip);
    expect(spray.every((r) => r.statusCode === 200 || r.statusCode === 429)).toBe(true);
    expect((await verify('bob@example.org', PW, '192.0.2.55')).json().result).toBe('ok');
  });

  it('64 parallel right-password logins of one user from one ip all answer ok', async () => {
    const answers = await Promise.all(Array.from({ length: 64 }, () => verify('bob@example.org', PW, '198.51.100.20')));
    expect(answers.map((r) => `${r.statusCode} ${r.json().result}`)).toEqual(Array(64).fill('200 ok'));
  });

  it('150 users logging in at once from one ip (a webmail host) all answer ok', async () => {
    const hash = await hashPassword(PW, ctx.config.hash);
    await ctx.pool.query("INSERT INTO mailboxes (address, domain, password_hash) SELECT 'web' || g || '@example.org', 'example.org', $1 FROM generate_series(1, 150) g", [hash]);
    const answers = await Promise.all(Array.from({ length: 150 }, (_, i) => verify(`web${i + 1}@example.org`, PW, '198.51.100.21')));
    expect(answers.filter((r) => r.statusCode !== 200 || r.json().result !== 'ok')).toEqual([]);
  });

  it('a parallel spray of 200 wrong guesses at one user: at most the limit reach argon2, the rest are throttled', async () => {
    const spray = await Promise.all(Array.from({ length: 200 }, (_, i) => verify('bob@example.org', `guess-${i}-guess`, '198.51.100.22')));
    const limit = ctx.config.auth.max_failures_per_user_ip;
    expect(argon2Runs).toBe(limit);
    expect(spray.filter((r) => r.json().result === 'password_mismatch').length).toBe(limit);
    expect(spray.filter((r) => r.statusCode === 429).length).toBe(200 - limit);
  });

  it('a free-text remote_ip is refused (it would give every request a fresh throttle key); IPv6 with a zone is an address', async () => {
    const r = await verify('bob@example.org', PW, 'not-an-ip-1');
    expect(r.statusCode).toBe(400);
    expect(r.json().code).toBe('invalid_remote_ip');
    expect((await verify('bob@example.org', PW, 'fe80::1%eth0')).json().result).toBe('ok');
    expect((await verify('bob@example.org', PW, '2001:db8::7')).json().result).toBe('ok');
  });

  it('never runs more argon2 verifications at once than configured', async () => {
    let active = 0;
    let peak = 0;
    const limiter = auth.limiter;
    const tasks = Array.from({ length: 12 }, () =>
      limiter.run(async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 5));
        active--;
      }),
    );
    await Promise.all(tasks);
    expect(peak).toBe(ctx.config.auth.argon2_concurrency);
  });
});

describe('auth listener: bad input is a 400 with a reason, never a 500', () => {
  const cases: Array<[string, unknown]> = [
    ['malformed JSON', '{"user": "a@b.c", "password": '],
    ['wrong types', { user: 42, password: true }],
    ['missing password', { user: 'alice@example.org' }],
    ['unknown field', { user: 'alice@example.org', password: 'x', admin: true }],
    ['NUL in user', { user: 'alice\u0000@example.org', password: 'x' }],
    ['control character in user', { user: 'alice\n@example.org', password: 'x' }],
    ['over-long user', { user: `${'a'.repeat(400)}@example.org`, password: 'x' }],
    ['over-long password', { user: 'alice@example.org', password: 'x'.repeat(1025) }],
    ['multi-byte password over 1024 bytes', { user: 'alice@example.org', password: 'é'.repeat(600) }],
    ['array body', [1, 2]],
    ['empty body', ''],
  ];
  for (const [name, body] of cases) {
    it(name, async () => {
      const r = await post(body);
      expect(r.statusCode).toBe(400);
      expect(r.headers['content-type']).toMatch(/problem\+json/);
      expect(r.json().detail).toBeTruthy();
    });
  }

  it('non-UTF-8 body', async () => {
    const r = await post(Buffer.concat([Buffer.from('{"user":"alice@example.org","password":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]));
    expect(r.statusCode).toBe(400);
    expect(r.json().code).toBe('invalid_utf8');
  });

  it('oversize body → 413', async () => {
    const r = await post({ user: 'alice@example.org', password: 'x', service: 'a'.repeat(20_000) });
    expect(r.statusCode).toBe(413);
  });
});

/** Resolves once `cond` holds, checking on every turn of the event loop. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

const addLegacy = (address: string, hash: string) =>
  ctx.pool.query("INSERT INTO mailboxes (address, domain, password_hash) VALUES ($1, 'example.org', $2)", [address, hash]);

describe('auth: imported legacy hashes', () => {
  it('are verified off the event loop: a memo-hit login answers while a costly SHA-crypt is being checked', async () => {
    await addLegacy('legacy1@example.org', `{SHA512-CRYPT}${shaCrypt('sha512', 'Legacy-Secret-1', '$6$rounds=200000$saltsaltsalt')!}`);
    expect((await verify('bob@example.org', PW, '198.51.100.40')).json().result).toBe('ok'); // memo warm
    const order: string[] = [];
    const slow = verify('legacy1@example.org', 'Legacy-Secret-1', '198.51.100.41').then((r) => {
      order.push('legacy');
      return r;
    });
    await until(() => auth.limiter.running > 0);
    expect((await verify('bob@example.org', PW, '198.51.100.40')).json().result).toBe('ok');
    order.push('memo');
    expect((await slow).json().result).toBe('ok');
    expect(order).toEqual(['memo', 'legacy']);
  });

  it('a mismatch on a legacy hash takes at least the dummy argon2 time measured at init, so timing does not show who is unmigrated', async () => {
    expect(auth.legacyMismatchFloorMs).toBeGreaterThan(0);
    const salt = Buffer.from('pepper-salt-1234');
    const ssha = `{SSHA512}${Buffer.concat([createHash('sha512').update('Legacy-Secret-2').update(salt).digest(), salt]).toString('base64')}`;
    await addLegacy('legacy2@example.org', ssha);
    const measured = auth.legacyMismatchFloorMs;
    // A floor far above SSHA512's microseconds, so only the pad can account for it.
    auth.legacyMismatchFloorMs = 300;
    try {
      const started = performance.now();
      expect((await verify('legacy2@example.org', 'not-the-secret', '198.51.100.42')).json().result).toBe('password_mismatch');
      expect(performance.now() - started).toBeGreaterThanOrEqual(300);
      expect((await verify('legacy2@example.org', 'Legacy-Secret-2', '198.51.100.42')).json().result).toBe('ok');
    } finally {
      auth.legacyMismatchFloorMs = measured;
    }
  });

  it('a password over the listener byte limit is a mismatch without argon2, whoever calls the verifier', async () => {
    const r = await auth.verify({ user: 'bob@example.org', password: 'x'.repeat(1025), service: 'imap', remoteIp: '198.51.100.43', localIp: null, session: null });
    expect(r).toEqual({ kind: 'password_mismatch' });
    expect(argon2Runs).toBe(0);
  });
});

describe('auth listener: a verify that timed out gives its place back', () => {
  it('leaves the argon2 queue when the deadline answers: its argon2 never runs for nobody', async () => {
    await app.close();
    await ctx.close();
    await build({ MAILPASSD_AUTH_ARGON2_CONCURRENCY: '1', MAILPASSD_AUTH_REQUEST_TIMEOUT_MS: '200', MAILPASSD_AUTH_MEMO_TTL_SECONDS: '0' });
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const blocker = auth.limiter.run(() => gate);
    argon2Runs = 0;
    const r = await verify('bob@example.org', PW, '198.51.100.50');
    expect(r.statusCode).toBe(503);
    expect(auth.limiter.queued).toBe(0);
    open();
    await blocker;
    expect((await verify('bob@example.org', PW, '198.51.100.50')).json().result).toBe('ok');
    expect(argon2Runs).toBe(1);
  });
});

describe('auth listener: database trouble is a temporary failure, never a mismatch', () => {
  it('a statement timeout (table locked) → 503 internal_failure', async () => {
    await app.close();
    await ctx.close();
    await build({ MAILPASSD_DATABASE_STATEMENT_TIMEOUT_MS: '300', MAILPASSD_DATABASE_POOL_SIZE: '2' });
    const locker = await ctx.pool.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE mailboxes IN ACCESS EXCLUSIVE MODE');
    try {
      const r = await verify('bob@example.org', PW);
      expect(r.statusCode).toBe(503);
      expect(r.json()).toEqual({ result: 'internal_failure' });
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
    expect((await verify('bob@example.org', PW)).json().result).toBe('ok');
  });

  it('pool exhausted → 503 within the pool wait, then recovers', async () => {
    await app.close();
    await ctx.close();
    await build({ MAILPASSD_DATABASE_POOL_SIZE: '1', MAILPASSD_DATABASE_POOL_WAIT_MS: '200', MAILPASSD_DATABASE_CONNECT_TIMEOUT_MS: '200' });
    const held = await ctx.pool.connect();
    try {
      const r = await verify('bob@example.org', PW);
      expect(r.statusCode).toBe(503);
    } finally {
      held.release();
    }
    expect((await verify('bob@example.org', PW)).json().result).toBe('ok');
  });
});

describe('auth listener: shared secret', () => {
  it('requires Authorization: Bearer <secret> when configured, compared in constant time', async () => {
    await app.close();
    await ctx.close();
    await build({ MAILPASSD_AUTH_SECRET: 'dovecot-shared-secret-0123456789' });
    expect((await verify('bob@example.org', PW)).statusCode).toBe(401);
    expect((await post({ user: 'bob@example.org', password: PW }, { authorization: 'Bearer wrong-secret-wrong-secret' })).statusCode).toBe(401);
    const ok = await post({ user: 'bob@example.org', password: PW }, { authorization: 'Bearer dovecot-shared-secret-0123456789' });
    expect(ok.json().result).toBe('ok');
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});

describe('logs never carry a password', () => {
  it('no password from this file appears in any log line', () => {
    const all = ctx.logLines().join('\n');
    for (const secret of [PW, 'Another-Strong-Secret-42', 'Third-Strong-Secret-77', 'Summer2024!']) expect(all).not.toContain(secret);
  });
});
