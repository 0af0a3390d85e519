import { unavailable } from '../core/errors.js';
import { isDatabaseUnavailable, type Pool } from '../store/pool.js';
import { getAuthRow, getAuthRows, type AuthLookup } from '../store/sql/mailboxes.js';
import type { AuthRow } from '../store/sql/rows.js';

interface Pending extends AuthLookup {
  /** performance.now() after which its login has answered already (the request deadline). */
  expiresAt: number;
  resolve(row: AuthRow | null): void;
  reject(err: unknown): void;
}

export interface AuthRowReaderOptions {
  /** Reads at the database at once. */
  maxInFlight: number;
  /** How long a login waits for its answer at most (auth.request_timeout_ms): a lookup queued longer is dropped, not sent. */
  maxWaitMs: number;
  /** Called with each statement's number of lookups (the batch-size metric). */
  onStatement?: (lookups: number) => void;
  maxBatch?: number;
  /** Lookups waiting beyond this are refused at once (database unavailable), not queued. */
  maxQueued?: number;
}

/**
 * Reads the rows logins are decided on, batching them under load. A lookup
 * leaves at once, alone, while fewer than `maxInFlight` reads are at the
 * database; beyond that it waits for one to come back and then goes with every
 * lookup that arrived meanwhile, in one statement. A busy daemon so pays one
 * round trip, one statement and one pooled connection for many logins instead
 * of one each (the parse, bind, executor start-up and four system calls of a
 * statement were most of a login's cost); a lone login waits for nothing.
 * Each row is read after its login asked and answers only that login
 * (DESIGN §3): nothing is cached or kept between reads.
 */
export class AuthRowReader {
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  private readonly maxBatch: number;
  private readonly maxQueued: number;

  constructor(
    private readonly pool: Pool,
    private readonly opts: AuthRowReaderOptions,
  ) {
    this.maxBatch = opts.maxBatch ?? 256;
    this.maxQueued = opts.maxQueued ?? 10_000;
  }

  /** Lookups waiting for a read to come back. */
  get queued(): number {
    return this.queue.length;
  }

  read(address: string, appPasswordHmac: Buffer | null): Promise<AuthRow | null> {
    if (this.queue.length >= this.maxQueued) return Promise.reject(unavailable('database_unavailable', 'too many logins waiting for the database'));
    return new Promise((resolve, reject) => {
      this.queue.push({ address, appPasswordHmac, expiresAt: performance.now() + this.opts.maxWaitMs, resolve, reject });
      this.send();
    });
  }

  private send(): void {
    while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
      const batch = this.takeBatch();
      if (batch.length === 0) continue;
      this.inFlight++;
      this.answer(batch).finally(() => {
        this.inFlight--;
        this.send();
      });
    }
  }

  /** The next lookups in order of arrival, without those whose login has given up waiting. */
  private takeBatch(): Pending[] {
    const now = performance.now();
    const batch: Pending[] = [];
    while (batch.length < this.maxBatch && this.queue.length > 0) {
      const p = this.queue.shift()!;
      if (p.expiresAt > now) batch.push(p);
      else p.reject(unavailable('database_unavailable', 'the login waited for the database past its deadline'));
    }
    return batch;
  }

  private async answer(batch: readonly Pending[]): Promise<void> {
    try {
      const rows = await this.fetch(batch);
      batch.forEach((p, i) => p.resolve(rows[i]!));
    } catch (err) {
      // A data error (one lookup PostgreSQL refuses) must not fail its neighbours: each goes alone.
      if (batch.length > 1 && !isDatabaseUnavailable(err)) return this.answerEachAlone(batch);
      batch.forEach((p) => p.reject(err));
    }
  }

  private async answerEachAlone(batch: readonly Pending[]): Promise<void> {
    for (const p of batch) {
      try {
        p.resolve((await this.fetch([p]))[0]!);
      } catch (err) {
        p.reject(err);
      }
    }
  }

  /**
   * The one place a statement is sent (and counted). One lookup takes the
   * single-row statement, whose plan PostgreSQL keeps; several the batch statement.
   */
  private async fetch(batch: readonly Pending[]): Promise<(AuthRow | null)[]> {
    this.opts.onStatement?.(batch.length);
    if (batch.length === 1) return [await getAuthRow(this.pool, batch[0]!.address, batch[0]!.appPasswordHmac)];
    return getAuthRows(this.pool, batch);
  }
}
