import { randomBytes } from 'node:crypto';
import type { Context } from '../context.js';
import type { Metrics } from '../observability/metrics.js';
import { normalizeAddress } from '../core/address.js';
import { getAuthRow, upgradeHash } from '../store/sql/mailboxes.js';
import type { AuthRow } from '../store/sql/rows.js';
import { hashPassword, needsRehash, verifyPassword } from './hash.js';
import { Limiter } from './limiter.js';
import { VerificationMemo } from './memo.js';
import type { AuthRequest, AuthResult } from './results.js';
import { Throttle, type Outcome } from './throttle.js';
import { prefetchExtra, userdbFields } from './userdb.js';

/**
 * The hot path (DESIGN §3). Rules, each tested:
 * 1. every verify reads the current row; only the HMAC-keyed memo skips argon2;
 * 2. anything that stops us knowing the answer → internal_failure, never a mismatch;
 * 3. an unknown user costs one argon2 verify against a dummy hash;
 * 4. throttled before the database and argon2; argon2 runs in a bounded queue;
 * 5. the password never leaves this function.
 */
export class Authenticator {
  readonly memo: VerificationMemo;
  readonly throttle: Throttle;
  readonly limiter: Limiter;
  private dummyHash: string | null = null;

  constructor(
    private readonly ctx: Context,
    private readonly metrics: Metrics | null,
  ) {
    const a = ctx.config.auth;
    this.memo = new VerificationMemo(a.memoTtlMs, a.memoMaxEntries);
    this.throttle = new Throttle({ perUserIp: a.maxFailuresPerUserIp, perIp: a.maxFailuresPerIp, windowMs: a.throttleWindowMs });
    this.limiter = new Limiter(a.argon2Concurrency, a.argon2QueueLimit, (active, queued) => {
      metrics?.argon2Active.set(active);
      metrics?.argon2Queue.set(queued);
    });
  }

  /** Made with the current parameters so an unknown user costs what a known one does. */
  async init(): Promise<void> {
    this.dummyHash = await hashPassword(randomBytes(18).toString('base64'), this.ctx.config.hash);
  }

  /**
   * `throttle: false` is for callers with a throttle of their own (self-service,
   * keyed by mailbox): charging the login throttle by the HTTP peer let one
   * webmail host's wrong guesses lock out every user's logins.
   */
  async verify(req: AuthRequest, opts: { throttle?: boolean } = {}): Promise<AuthResult> {
    const started = process.hrtime.bigint();
    const result = await this.withDeadline(opts.throttle === false ? this.check(req, canonicalUser(req.user)) : this.decide(req));
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

  private async withDeadline(work: Promise<AuthResult>): Promise<AuthResult> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<AuthResult>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'internal_failure' }), this.ctx.config.auth.requestTimeoutMs);
    });
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async decide(req: AuthRequest): Promise<AuthResult> {
    const user = canonicalUser(req.user);
    if (!this.throttle.tryAcquire(user, req.remoteIp)) {
      this.metrics?.throttled.inc();
      return { kind: 'throttled' };
    }
    const result = await this.check(req, user);
    this.throttle.settle(user, req.remoteIp, outcomeOf(result));
    return result;
  }

  private async check(req: AuthRequest, user: string): Promise<AuthResult> {
    let row: AuthRow | null;
    try {
      row = user.includes('@') ? await getAuthRow(this.ctx.pool, user) : null;
    } catch (err) {
      this.metrics?.dbErrors.inc();
      this.ctx.log.warn({ err: { code: (err as { code?: string }).code, message: (err as Error).message } }, 'passdb lookup failed: answering internal_failure');
      return { kind: 'internal_failure' };
    }
    try {
      return row ? await this.checkKnown(row, req) : await this.checkUnknown(req);
    } catch (err) {
      this.ctx.log.warn({ err: { code: (err as { code?: string }).code, message: (err as Error).message } }, 'verification failed: answering internal_failure');
      return { kind: 'internal_failure' };
    }
  }

  private async checkUnknown(req: AuthRequest): Promise<AuthResult> {
    await this.limiter.run(() => verifyPassword(this.dummyHash!, req.password));
    return { kind: 'user_unknown' };
  }

  private async checkKnown(row: AuthRow, req: AuthRequest): Promise<AuthResult> {
    const memoKey = this.memo.enabled ? this.memo.keyOf(row.password_hash, req.password) : null;
    const memoHit = memoKey !== null && this.memo.has(memoKey);
    if (memoHit) this.metrics?.memoHits.inc();
    const match = memoHit || (await this.limiter.run(() => verifyPassword(row.password_hash, req.password)));
    if (!match) return { kind: 'password_mismatch' };
    // Disabled and expired are only revealed to someone who knows the password.
    if (!row.enabled) return { kind: 'user_disabled', reason: row.disabled_reason ?? 'mailbox disabled' };
    if (row.password_expires_at && row.password_expires_at.getTime() <= Date.now()) return { kind: 'pass_expired', credentialVersion: row.credential_version };
    if (memoKey !== null) this.memo.remember(memoKey);
    if (needsRehash(row.password_hash, this.ctx.config.hash)) this.rehashInBackground(row, req.password);
    return { kind: 'ok', user: row.address, extra: prefetchExtra(userdbFields(row, this.ctx.config.userdb)), credentialVersion: row.credential_version };
  }

  /** New parameters apply on the next successful login; the row update is conditional on the old hash. */
  private rehashInBackground(row: AuthRow, password: string): void {
    void this.limiter
      .run(() => hashPassword(password, this.ctx.config.hash))
      .then((hash) => upgradeHash(this.ctx.pool, row.id, row.password_hash, hash))
      .catch((err: Error) => this.ctx.log.warn({ address: row.address, err: err.message }, 'rehash failed'));
  }
}

/** The right password (even for a disabled or expired mailbox) is not a guess; a failure of ours is neither. */
function outcomeOf(result: AuthResult): Outcome {
  switch (result.kind) {
    case 'ok':
    case 'user_disabled':
    case 'pass_expired':
      return 'success';
    case 'password_mismatch':
    case 'user_unknown':
      return 'failure';
    case 'throttled':
    case 'internal_failure':
      return 'unknown';
  }
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

const KNOWN_SERVICES = new Set(['imap', 'pop3', 'smtp', 'submission', 'sieve', 'managesieve', 'lmtp', 'doveadm', 'lda', 'checkpassword']);
/** Metric labels come from a closed set, so a client cannot blow up cardinality. */
const serviceLabel = (s: string) => (KNOWN_SERVICES.has(s) ? s : 'other');
