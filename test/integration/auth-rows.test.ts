import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthRowReader } from '../../src/auth/auth-rows.js';
import { Authenticator } from '../../src/auth/verify.js';
import { appPasswordHmac, canonicalAppPassword } from '../../src/auth/app-password.js';
import { appPasswordKey } from '../../src/auth/app-password-store.js';
import { buildAuthListener } from '../../src/http/auth-listener.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { addDomain } from '../../src/accounts/domains.js';
import { createMailbox } from '../../src/accounts/mailboxes.js';
import { createAppPassword } from '../../src/accounts/app-passwords.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { makeContext, type TestContext } from '../helpers/context.js';
import { sleep, waitFor } from '../helpers/wait.js';

/**
 * The login rows are read in batches under load (auth/auth-rows.ts): a lookup
 * goes alone while fewer than two reads are at the database, else with every
 * lookup that queued meanwhile. The database is held with a table lock so the
 * queue forms deterministically; each lookup must get its own row, never a
 * neighbour's, and a failed statement fails only the lookups it carried.
 */
const actor = { actor: 'test', sourceIp: null };
const PW = 'Correct-Horse-Battery-9';
const USERS = 30;
const user = (i: number) => `user${i}@batch.example`;
const ODD_STORED = ["o'{b},r@batch.example", 'x}{y@batch.example'];
let db: { url: string; drop(): Promise<void> };
let ctx: TestContext;
/** app password of user i (even i only). */
const appPasswords = new Map<number, { password: string; id: string }>();
let key: Buffer;
const hmacOf = (password: string) => appPasswordHmac(key, canonicalAppPassword(password)!);

beforeAll(async () => {
  db = await createTestDatabase();
  ctx = await makeContext(db.url);
  await addDomain(ctx, actor, 'batch.example');
  for (let i = 0; i < USERS; i++) {
    await createMailbox(ctx, actor, { address: user(i), displayName: null, password: { kind: 'given', value: PW } });
    if (i % 2 === 0) {
      const made = await createAppPassword(ctx, actor, { address: user(i), name: 'phone' });
      const { id } = (await ctx.pool.query<{ id: string }>('SELECT a.id FROM app_passwords a JOIN mailboxes m ON m.id = a.mailbox_id WHERE m.address = $1', [user(i)])).rows[0]!;
      appPasswords.set(i, { password: made.password, id });
    }
  }
  key = await appPasswordKey(ctx.pool);
  // Names a stored mailbox may have (imported) that need quoting in an array literal.
  for (const odd of ODD_STORED) {
    await ctx.pool.query('INSERT INTO mailboxes (address, domain, password_hash) SELECT $1, domain, password_hash FROM mailboxes WHERE address = $2', [odd, user(0)]);
  }
});
afterAll(async () => {
  await ctx.close();
  await db.drop();
});

/** Runs `fn` while another connection holds the mailboxes table; releases it when `whileHeld` is done. */
async function withMailboxesLocked<T>(fn: () => T, whileHeld: () => Promise<unknown>): Promise<T> {
  const locker = await ctx.pool.connect();
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE mailboxes IN ACCESS EXCLUSIVE MODE');
  try {
    const out = fn();
    await whileHeld();
    return out;
  } finally {
    await locker.query('ROLLBACK');
    locker.release();
  }
}

/** Our statements waiting on the lock, as PostgreSQL sees them (the locker's own view would be its transaction's snapshot). */
async function waitingReads(): Promise<number> {
  const r = await ctx.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND wait_event_type = 'Lock' AND query LIKE '%FROM mailboxes m%'`,
  );
  return Number(r.rows[0]!.n);
}

/** Until the reader's first two statements are waiting on the lock (the reads at the database at most). */
const twoReadsWaiting = () => waitFor('two reads waiting on the lock', 10_000, async () => (await waitingReads()) === 2, 20);

/** The login-lookup batch histogram: statements sent (count) and the lookups they carried (sum). */
async function lookupBatches(metrics: Metrics): Promise<{ count: number; sum: number }> {
  const text = await metrics.registry.getSingleMetricAsString('mailpassd_auth_lookup_batch_size');
  const value = (name: string) => Number(new RegExp(`^mailpassd_auth_lookup_batch_size_${name} (\\S+)$`, 'm').exec(text)?.[1]);
  return { count: value('count'), sum: value('sum') };
}

describe('auth rows: batched under load, each lookup answered with its own row', () => {
  it('two reads at the database at most; the queue goes in one statement; every lookup gets its own row', async () => {
    const sizes: number[] = [];
    const reader = new AuthRowReader(ctx.pool, { maxInFlight: 2, maxWaitMs: 30_000, onStatement: (n) => sizes.push(n) });
    // Main-password lookups, right and wrong app passwords, unknown names, and names that need
    // quoting inside a PostgreSQL array literal.
    const lookups: { address: string; hmac: Buffer | null; expect: { address: string | null; appPasswordId: string | null } }[] = [];
    for (let i = 0; i < USERS; i++) {
      const app = appPasswords.get(i);
      lookups.push({ address: user(i), hmac: null, expect: { address: user(i), appPasswordId: null } });
      if (app) lookups.push({ address: user(i), hmac: hmacOf(app.password), expect: { address: user(i), appPasswordId: app.id } });
      // Another mailbox's app password is no app password of this one.
      const other = appPasswords.get((i + 1) % USERS) ?? appPasswords.get((i + 2) % USERS);
      if (other) lookups.push({ address: user(i), hmac: hmacOf(other.password), expect: { address: user(i), appPasswordId: null } });
    }
    for (const odd of ODD_STORED) lookups.push({ address: odd, hmac: null, expect: { address: odd, appPasswordId: null } });
    for (const odd of ['nobody@batch.example', 'a"b@batch.example', 'back\\slash@batch.example', '{brace,comma}@batch.example', "quote'@batch.example", 'NULL@batch.example']) {
      lookups.push({ address: odd, hmac: null, expect: { address: null, appPasswordId: null } });
    }
    const reads = await withMailboxesLocked(
      () => lookups.map((l) => reader.read(l.address, l.hmac)),
      async () => {
        await twoReadsWaiting();
        // Held: the first two left alone; nothing else was sent.
        expect(sizes).toEqual([1, 1]);
        expect(reader.queued).toBe(lookups.length - 2);
      },
    );
    const rows = await Promise.all(reads);
    expect(rows.map((r) => ({ address: r?.address ?? null, appPasswordId: r?.app_password_id ?? null }))).toEqual(lookups.map((l) => l.expect));
    // The rest waited for the first to come back and went together.
    expect(sizes).toEqual([1, 1, lookups.length - 2]);
    // A lone lookup after the burst goes at once, alone.
    expect((await reader.read(user(3), null))?.address).toBe(user(3));
    expect(sizes.at(-1)).toBe(1);
  });

  it('a batch is at most maxBatch lookups; the queue drains in order of arrival', async () => {
    const sizes: number[] = [];
    const reader = new AuthRowReader(ctx.pool, { maxInFlight: 2, maxWaitMs: 30_000, onStatement: (n) => sizes.push(n), maxBatch: 5 });
    const reads = await withMailboxesLocked(
      () => Array.from({ length: 14 }, (_, i) => reader.read(user(i), null)),
      twoReadsWaiting,
    );
    expect((await Promise.all(reads)).map((r) => r?.address)).toEqual(Array.from({ length: 14 }, (_, i) => user(i)));
    expect(sizes).toEqual([1, 1, 5, 5, 2]);
  });

  it('a statement that fails (timeout behind a lock) fails each lookup it carried, and the next read works', async () => {
    const short = await makeContext(db.url, { MAILPASSD_DATABASE_STATEMENT_TIMEOUT_MS: '400' });
    const reader = new AuthRowReader(short.pool, { maxInFlight: 2, maxWaitMs: 30_000 });
    let settledAll: Promise<unknown> = Promise.resolve();
    const settled = await withMailboxesLocked(
      () => (settledAll = Promise.allSettled(Array.from({ length: 8 }, (_, i) => reader.read(user(i), null)))),
      // statement_timeout is 400 ms: the two singles, then the batch behind them, time out while held.
      async () => void (await settledAll),
    );
    const outcomes = await settled;
    expect(outcomes.map((o) => o.status)).toEqual(Array(8).fill('rejected'));
    for (const o of outcomes) expect((o as PromiseRejectedResult).reason).toMatchObject({ code: '57014' });
    expect((await reader.read(user(5), null))?.address).toBe(user(5));
    await short.close();
  });
});

describe('auth rows: one bad lookup, a slow database', () => {
  it('a lookup PostgreSQL refuses (a data error) fails alone: its batch is read again lookup by lookup', async () => {
    const sizes: number[] = [];
    const reader = new AuthRowReader(ctx.pool, { maxInFlight: 2, maxWaitMs: 30_000, onStatement: (n) => sizes.push(n) });
    // The listener never sends a NUL (auth/verify.ts treats it as unknown); the reader alone must still contain it.
    const names = [user(1), user(2), user(3), 'nul\0here@batch.example', user(4), user(5)];
    const settled = await withMailboxesLocked(
      () => Promise.allSettled(names.map((n) => reader.read(n, null).then((r) => r?.address ?? null))),
      twoReadsWaiting,
    );
    const outcomes = await settled;
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : 'rejected'))).toEqual([user(1), user(2), user(3), 'rejected', user(4), user(5)]);
    expect((outcomes[3] as PromiseRejectedResult).reason).toMatchObject({ code: '22021' });
    // Two alone, the batch of four (refused), then its four again one by one.
    expect(sizes).toEqual([1, 1, 4, 1, 1, 1, 1]);
  });

  it('a lookup queued past its login deadline is dropped unsent; beyond the queue cap a lookup is refused at once', async () => {
    const sizes: number[] = [];
    const reader = new AuthRowReader(ctx.pool, { maxInFlight: 2, maxWaitMs: 150, onStatement: (n) => sizes.push(n), maxQueued: 3 });
    const settled = await withMailboxesLocked(
      () => Promise.allSettled(Array.from({ length: 6 }, (_, i) => reader.read(user(i), null))),
      async () => {
        await twoReadsWaiting();
        expect(reader.queued).toBe(3);
        // Held past the 150 ms every queued login waits at most.
        await sleep(400);
      },
    );
    const outcomes = await settled;
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'rejected', 'rejected']);
    // The in-flight two answer; the three that waited too long and the one over the cap are "database unavailable".
    for (const o of outcomes.slice(2)) expect((o as PromiseRejectedResult).reason).toMatchObject({ code: 'database_unavailable' });
    expect(sizes).toEqual([1, 1]);
  });
});

describe('auth rows: through the listener', () => {
  it('a burst of logins by different users, main and app passwords, right and wrong: each answered for itself, in shared statements', async () => {
    const metrics = createMetrics();
    const auth = new Authenticator(ctx, metrics);
    await auth.init();
    const app = buildAuthListener(ctx, auth);
    await app.ready();
    try {
      const logins: { user: string; password: string; expect: string; appPasswordId?: string }[] = [];
      for (let i = 0; i < USERS; i++) {
        logins.push({ user: user(i), password: PW, expect: 'ok' });
        const ap = appPasswords.get(i);
        if (ap) logins.push({ user: user(i), password: ap.password, expect: 'ok', appPasswordId: ap.id });
        // The next user's app password is a wrong password here.
        const next = appPasswords.get((i + 1) % USERS);
        if (next) logins.push({ user: user(i), password: next.password, expect: 'password_mismatch' });
      }
      logins.push({ user: 'nobody@batch.example', password: PW, expect: 'user_unknown' });
      const answers = await withMailboxesLocked(
        () =>
          logins.map((l, n) =>
            app.inject({
              method: 'POST',
              url: '/v1/passdb/verify',
              // Each login from its own address: no throttle bucket is shared.
              payload: { user: l.user, password: l.password, service: 'imap', remote_ip: `192.0.2.${(n % 250) + 1}` },
            }),
          ),
        async () => {
          await twoReadsWaiting();
          await waitFor('every other login queued behind them', 10_000, () => auth.rows.queued === logins.length - 2, 20);
        },
      );
      const bodies = (await Promise.all(answers)).map((r) => r.json() as { result: string; user?: string; extra?: Record<string, string> });
      expect(bodies.map((b) => b.result)).toEqual(logins.map((l) => l.expect));
      bodies.forEach((b, n) => {
        if (b.result !== 'ok') return;
        expect(b.user).toBe(logins[n]!.user);
        expect(b.extra?.userdb_user_app_password).toBe(logins[n]!.appPasswordId);
      });
      // Two alone while the table was held, then everything that queued behind them in one statement.
      expect(await lookupBatches(metrics)).toEqual({ count: 3, sum: logins.length });
    } finally {
      await app.close();
      await auth.stop();
    }
  });

  it('a name PostgreSQL cannot hold (a NUL) is unknown without a statement: it would fail the batch it shared', async () => {
    const metrics = createMetrics();
    const auth = new Authenticator(ctx, metrics);
    await auth.init();
    try {
      const r = await auth.verify({ user: 'a\0b@batch.example', password: PW, service: 'imap', remoteIp: '192.0.2.1', realRemoteIp: null, localIp: null, session: null });
      expect(r.kind).toBe('user_unknown');
      expect(await metrics.registry.getSingleMetricAsString('mailpassd_database_errors_total')).toMatch(/^mailpassd_database_errors_total 0$/m);
      expect(await lookupBatches(metrics)).toEqual({ count: 0, sum: 0 });
    } finally {
      await auth.stop();
    }
  });
});
