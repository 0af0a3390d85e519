import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from '../core/context.js';
import type { Metrics } from '../observability/metrics.js';
import { normalizeAddress } from '../core/address.js';
import { upgradeHash } from '../store/sql/mailboxes.js';
import type { AuthRow } from '../store/sql/rows.js';
import { MAX_PASSWORD_BYTES } from '../policy/password-input.js';
import { hashPassword, isLegacyHash, needsRehash, verifyPassword } from './hash.js';
import { Limiter } from './limiter.js';
import { VerificationMemo } from './memo.js';
import { outcomeOf, type AuthRequest, type AuthResult } from './results.js';
import { Throttle } from './throttle.js';
import { userdbFields } from './userdb.js';
import { appPasswordHmac, canonicalAppPassword } from './app-password.js';
import { appPasswordKey, LastUseRecorder } from './app-password-store.js';
import { AppPasswordRules } from './app-password-rules.js';
import { AuthRowReader } from './auth-rows.js';

/**
 * The hot path (DESIGN §3). Rules, each tested:
 * 1. every verify reads the current row (under load in one statement with other
 *    logins' reads: auth-rows.ts); only the HMAC-keyed memo skips argon2;
 * 2. anything that stops us knowing the answer → internal_failure, never a mismatch;
 * 3. an unknown user costs one argon2 verify against a dummy hash;
 * 4. a locked key is refused before the database; only failures lock, and
 *    parallel attempts that need argon2 beyond a key's budget wait for earlier
 *    ones (a memo hit needs none); argon2 runs in a bounded queue;
 * 5. the password never leaves this function;
 * 6. an imported legacy hash verifies on a worker thread, and its mismatch takes
 *    at least as long as the dummy argon2, so timing does not tell which
 *    accounts are unmigrated;
 * 7. when the deadline passes, the attempt leaves the throttle's and argon2's
 *    queues (a running argon2 job cannot be stopped and keeps its slot).
 */
export class Authenticator {
  readonly memo: VerificationMemo;
  readonly throttle: Throttle;
  readonly limiter: Limiter;
  /** App passwords' last use, coalesced in memory (stop() writes what is left). */
  readonly lastUse: LastUseRecorder;
  private readonly appRules: AppPasswordRules;
  /** The login rows, read in batches under load. */
  readonly rows: AuthRowReader;
  private dummyHash: string | null = null;
  /** How long the dummy argon2 verify takes here (measured at init): the floor for a legacy mismatch. */
  legacyMismatchFloorMs = 0;

  constructor(
    private readonly ctx: Context,
    private readonly metrics: Metrics | null,
  ) {
    const a = ctx.config.auth;
    this.memo = new VerificationMemo(a.memo_ttl_seconds * 1000, a.memo_max_entries);
    this.throttle = new Throttle({ perUserIp: a.max_failures_per_user_ip, perIp: a.max_failures_per_ip, perUser: a.max_failures_per_user, windowMs: a.throttle_window_seconds * 1000 });
    this.limiter = new Limiter(a.argon2_concurrency, a.argon2_queue_limit, (active, queued) => {
      metrics?.argon2Active.set(active);
      metrics?.argon2Queue.set(queued);
    });
    this.lastUse = new LastUseRecorder(ctx.pool, ctx.config.app_passwords.last_used_flush_ms, (err) => ctx.log.warn({ err: err.message }, 'app password last-use write failed; will retry'));
    // Two reads at the database at a time: on the two-core machines of the benchmarks, two
    // larger batches beat four or eight smaller ones; the batches grow with the load.
    this.rows = new AuthRowReader(ctx.pool, {
      maxInFlight: Math.min(2, ctx.config.database.pool_size),
      maxWaitMs: a.request_timeout_ms,
      onStatement: (n) => metrics?.authLookupBatch.observe(n),
    });
    this.appRules = new AppPasswordRules(ctx.config.app_passwords.webmail_ips);
  }

  /** Writes the app passwords' pending last-use times (daemon shutdown). */
  stop(): Promise<void> {
    return this.lastUse.stop();
  }

  /** Made with the current parameters so an unknown user costs what a known one does. */
  async init(): Promise<void> {
    this.dummyHash = await hashPassword(randomBytes(18).toString('base64'), this.ctx.config.hash);
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      await verifyPassword(this.dummyHash, randomBytes(18).toString('base64'));
      runs.push(performance.now() - t);
    }
    this.legacyMismatchFloorMs = runs.sort((x, y) => x - y)[1]!;
  }

  /**
   * `throttle: false` is for callers with a throttle of their own (self-service,
   * keyed by mailbox): charging the login throttle by the HTTP peer let one
   * webmail host's wrong guesses lock out every user's logins.
   */
  async verify(req: AuthRequest, opts: { throttle?: boolean } = {}): Promise<AuthResult> {
    const started = process.hrtime.bigint();
    const giveUp = new LazyAbort();
    const result = await this.withDeadline(this.decide(req, giveUp, opts.throttle !== false), giveUp);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.record(result.kind, serviceLabel(req.service), seconds);
    return result;
  }

  /** Labelled metric children, resolved once per label set: prom-client hashes labels on every call otherwise. */
  private readonly series = new Map<string, { count: { inc(): void }; latency: { observe(v: number): void } }>();

  private record(kind: AuthResult['kind'], service: string, seconds: number): void {
    if (!this.metrics) return;
    const key = `${kind}|${service}`;
    let s = this.series.get(key);
    if (!s) {
      s = { count: this.metrics.authResults.labels(kind, service), latency: this.metrics.authLatency.labels(kind) };
      this.series.set(key, s);
    }
    s.count.inc();
    s.latency.observe(seconds);
  }

  private async withDeadline(work: Promise<AuthResult>, giveUp: LazyAbort): Promise<AuthResult> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<AuthResult>((resolve) => {
      timer = setTimeout(() => {
        giveUp.abort();
        resolve({ kind: 'internal_failure' });
      }, this.ctx.config.auth.request_timeout_ms);
    });
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async decide(req: AuthRequest, giveUp: LazyAbort, throttled: boolean): Promise<AuthResult> {
    const user = canonicalUser(req.user);
    if (throttled && this.throttle.isLocked(user, req.remoteIp)) return this.throttled();
    const attempt: Attempt = { user, charged: false, throttled };
    let result: AuthResult = { kind: 'internal_failure' };
    try {
      // Every entry point (listener, self-service, checkpassword) gets the listener's cap.
      result = Buffer.byteLength(req.password) > MAX_PASSWORD_BYTES ? { kind: 'password_mismatch' } : await this.check(req, attempt, giveUp);
    } finally {
      if (attempt.charged) this.throttle.settle(user, req.remoteIp, outcomeOf(result));
      else if (throttled) this.throttle.record(user, req.remoteIp, outcomeOf(result));
    }
    return result;
  }

  private throttled(): AuthResult {
    this.metrics?.throttled.inc();
    return { kind: 'throttled' };
  }

  /**
   * One argon2 (or legacy) verification for an attempt: a share of the
   * throttle's budget first (waiting while parallel attempts on the same keys
   * are in flight), then a limiter slot. Null when the throttle refuses.
   */
  private async guarded(req: AuthRequest, attempt: Attempt, giveUp: LazyAbort, verify: () => Promise<boolean>): Promise<boolean | null> {
    const signal = giveUp.signal;
    if (attempt.throttled && !(await this.throttle.acquire(attempt.user, req.remoteIp, signal))) {
      signal.throwIfAborted();
      return null;
    }
    attempt.charged = attempt.throttled;
    this.metrics?.hashVerifications.inc();
    return this.limiter.run(verify, signal);
  }

  private async check(req: AuthRequest, attempt: Attempt, giveUp: LazyAbort): Promise<AuthResult> {
    const user = attempt.user;
    let row: AuthRow | null;
    try {
      row = isAddressLike(user) ? await this.rows.read(user, await this.appPasswordHmacOf(req.password)) : null;
    } catch (err) {
      this.metrics?.dbErrors.inc();
      this.ctx.log.warn({ err: { code: (err as { code?: string }).code, message: (err as Error).message } }, 'passdb lookup failed: answering internal_failure');
      return { kind: 'internal_failure' };
    }
    try {
      return row ? await this.checkKnown(row, req, attempt, giveUp) : await this.checkUnknown(req, attempt, giveUp);
    } catch (err) {
      if (giveUp.aborted) return { kind: 'internal_failure' }; // the deadline answered already
      this.ctx.log.warn({ err: { code: (err as { code?: string }).code, message: (err as Error).message } }, 'verification failed: answering internal_failure');
      return { kind: 'internal_failure' };
    }
  }

  private async checkUnknown(req: AuthRequest, attempt: Attempt, giveUp: LazyAbort): Promise<AuthResult> {
    const ran = await this.guarded(req, attempt, giveUp, () => verifyPassword(this.dummyHash!, req.password));
    return ran === null ? this.throttled() : { kind: 'user_unknown' };
  }

  /** Null unless the password has an app password's shape: a main password costs no HMAC and no index probe. */
  private async appPasswordHmacOf(password: string): Promise<Buffer | null> {
    const canonical = canonicalAppPassword(password);
    return canonical === null ? null : appPasswordHmac(await appPasswordKey(this.ctx.pool), canonical);
  }

  /**
   * A right app password, in scope and not expired, never costs argon2. Any
   * other password (an expired or out-of-scope app password included) takes
   * the main-password path below: exactly one argon2, as before app passwords,
   * so timing tells nothing about which app passwords exist.
   */
  private async checkKnown(row: AuthRow, req: AuthRequest, attempt: Attempt, giveUp: LazyAbort): Promise<AuthResult> {
    if (this.appRules.usable(row, req.service)) return this.acceptAppPassword(row, req);
    const memoKey = this.memo.enabled ? this.memo.keyOf(row.password_hash, req.password) : null;
    const memoHit = memoKey !== null && this.memo.has(memoKey);
    if (memoHit) this.metrics?.memoHits.inc();
    let ranMs = 0;
    const timed = async () => {
      const t = performance.now();
      try {
        return await verifyPassword(row.password_hash, req.password);
      } finally {
        ranMs = performance.now() - t;
      }
    };
    const match = memoHit || (await this.guarded(req, attempt, giveUp, timed));
    if (match === null) return this.throttled();
    if (!match) {
      // Outside the limiter: the pad is a timer, it holds no argon2 slot.
      if (isLegacyHash(row.password_hash) && ranMs < this.legacyMismatchFloorMs) await sleep(this.legacyMismatchFloorMs - ranMs);
      return { kind: 'password_mismatch' };
    }
    // Mail clients must use an app password here; webmail (its hosts) keeps the main one.
    if (this.appRules.mainPasswordRefused(row, req)) return { kind: 'password_mismatch' };
    // Disabled and expired are only revealed to someone who knows the password.
    if (!row.enabled) return { kind: 'user_disabled', reason: row.disabled_reason ?? 'mailbox disabled' };
    if (!row.domain_enabled) return { kind: 'user_disabled', reason: row.domain_disabled_reason ?? `domain ${row.domain} disabled` };
    // must_change: Dovecot refuses the login ("password expired"); self-service takes it to choose a new one.
    if (row.must_change || (row.password_expires_at && row.password_expires_at.getTime() <= Date.now())) {
      return { kind: 'pass_expired', mailboxId: row.id, credentialVersion: row.credential_version };
    }
    if (memoKey !== null) this.memo.remember(memoKey);
    if (needsRehash(row.password_hash, this.ctx.config.hash)) this.rehashInBackground(row, req.password);
    return { kind: 'ok', user: row.address, extra: userdbFields(row, this.ctx.config.userdb, 'userdb_'), mailboxId: row.id, credentialVersion: row.credential_version };
  }

  private acceptAppPassword(row: AuthRow, req: AuthRequest): AuthResult {
    if (!row.enabled) return { kind: 'user_disabled', reason: row.disabled_reason ?? 'mailbox disabled' };
    if (!row.domain_enabled) return { kind: 'user_disabled', reason: row.domain_disabled_reason ?? `domain ${row.domain} disabled` };
    const id = row.app_password_id!;
    this.lastUse.note(id, req.remoteIp, req.service);
    this.metrics?.appPasswordLogins.inc();
    // userdb field user_app_password: Dovecot 2.4 registers userdb `user_*` fields with anvil as
    // alternative user names, so a revocation can kick this device only (doveadm kick -f app_password <id>).
    const extra = userdbFields(row, this.ctx.config.userdb, 'userdb_');
    extra.userdb_user_app_password = id;
    return { kind: 'ok', user: row.address, extra, mailboxId: row.id, credentialVersion: row.credential_version, appPasswordId: id };
  }

  /** New parameters apply on the next successful login; the row update is conditional on the old hash. */
  private rehashInBackground(row: AuthRow, password: string): void {
    void this.limiter
      .run(() => hashPassword(password, this.ctx.config.hash))
      .then((hash) => upgradeHash(this.ctx.pool, row.id, row.password_hash, hash))
      .catch((err: Error) => this.ctx.log.warn({ address: row.address, err: err.message }, 'rehash failed'));
  }
}

/**
 * The deadline's abort, with the AbortSignal made only when something waits on
 * it (the throttle's queue, argon2's): a memo hit or an app password never
 * does, and an AbortController per login was measurable on that path.
 */
class LazyAbort {
  private controller: AbortController | null = null;
  private fired = false;

  get aborted(): boolean {
    return this.fired;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.fired) this.controller.abort();
    }
    return this.controller.signal;
  }

  abort(): void {
    this.fired = true;
    this.controller?.abort();
  }
}

interface Attempt {
  user: string;
  /** Whether it holds a share of the throttle's budget (it reached argon2's door). */
  charged: boolean;
  /** False for callers with a throttle of their own (self-service). */
  throttled: boolean;
}

const canonicalCache = new Map<string, string>();
const CANONICAL_CACHE_MAX = 50_000;

/**
 * Same normalisation as at creation; a name that is no address can only be
 * unknown. Remembered (a pure function of its input), since Dovecot asks about
 * the same few names over and over.
 */
export function canonicalUser(user: string): string {
  const known = canonicalCache.get(user);
  if (known !== undefined) return known;
  let canonical: string;
  try {
    canonical = normalizeAddress(user).address;
  } catch {
    canonical = user.toLowerCase();
  }
  if (canonicalCache.size >= CANONICAL_CACHE_MAX) canonicalCache.clear();
  canonicalCache.set(user, canonical);
  return canonical;
}

/**
 * Only such a name can be a mailbox. PostgreSQL's text cannot hold NUL, so a
 * name with one is unknown without asking: asked, it would be a database error
 * (an internal_failure for a name that cannot exist) and would send its batch
 * back to be read again lookup by lookup.
 */
const isAddressLike = (user: string) => user.includes('@') && !user.includes('\0');

const KNOWN_SERVICES = new Set(['imap', 'pop3', 'smtp', 'submission', 'sieve', 'managesieve', 'lmtp', 'doveadm', 'lda', 'checkpassword']);
/** Metric labels come from a closed set, so a client cannot blow up cardinality. */
const serviceLabel = (s: string) => (KNOWN_SERVICES.has(s) ? s : 'other');
