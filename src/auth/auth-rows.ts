import type { Pool } from '../store/pool.js';
import { getAuthRow, getAuthRows, type AuthLookup } from '../store/sql/mailboxes.js';
import type { AuthRow } from '../store/sql/rows.js';

interface Pending extends AuthLookup {
  resolve(row: AuthRow | null): void;
  reject(err: unknown): void;
}

/**
 * Reads the rows logins are decided on, batching them under load. A lookup
 * leaves at once, alone, while fewer than `maxInFlight` reads are at the
 * database; beyond that it waits for one to come back and then goes with every
 * lookup that arrived meanwhile, in one statement. A busy daemon so pays one
 * round trip, one statement and one pooled connection for many logins instead
 * of one each (the parse, plan lookup, executor start-up and four system calls
 * of a statement were most of a login's cost); a lone login waits for nothing.
 * Each row is read after its login asked and answers only that login
 * (DESIGN §3): nothing is cached or kept between reads.
 */
export class AuthRowReader {
  private readonly queue: Pending[] = [];
  private inFlight = 0;

  constructor(
    private readonly pool: Pool,
    private readonly maxInFlight: number,
    /** Called with each statement's number of lookups (the batch-size metric). */
    private readonly onStatement: (lookups: number) => void = () => undefined,
    private readonly maxBatch = 256,
  ) {}

  /** Lookups waiting for a read to come back. */
  get queued(): number {
    return this.queue.length;
  }

  read(address: string, appPasswordHmac: Buffer | null): Promise<AuthRow | null> {
    return new Promise((resolve, reject) => {
      this.queue.push({ address, appPasswordHmac, resolve, reject });
      this.send();
    });
  }

  private send(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      this.onStatement(batch.length);
      this.fetch(batch)
        .then(
          (rows) => batch.forEach((p, i) => p.resolve(rows[i]!)),
          (err: unknown) => batch.forEach((p) => p.reject(err)),
        )
        .finally(() => {
          this.inFlight--;
          this.send();
        });
    }
  }

  /** One lookup takes the single-row statement: its plan is cached; the batch's is made for its size. */
  private async fetch(batch: readonly Pending[]): Promise<(AuthRow | null)[]> {
    if (batch.length === 1) return [await getAuthRow(this.pool, batch[0]!.address, batch[0]!.appPasswordHmac)];
    return getAuthRows(this.pool, batch);
  }
}
