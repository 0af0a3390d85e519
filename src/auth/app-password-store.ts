import { randomBytes } from 'node:crypto';
import type { Pool, Queryable } from '../store/pool.js';
import { ensureClusterKey, recordLastUse, type LastUse } from '../store/sql/app-passwords.js';

const KEY_NAME = 'app_password_hmac';

/**
 * The cluster-wide HMAC key, read once per pool (a process has one) and kept in
 * memory: created by whichever node needs it first, the same on every node.
 */
const keys = new WeakMap<object, Promise<Buffer>>();
export function appPasswordKey(db: Queryable): Promise<Buffer> {
  let key = keys.get(db);
  if (!key) {
    key = ensureClusterKey(db, KEY_NAME, randomBytes(32));
    keys.set(db, key);
    // A failed read is not remembered: the next login tries again.
    key.catch(() => keys.delete(db));
  }
  return key;
}

/**
 * Last-used time, address and service of app passwords, coalesced in memory:
 * a login never waits for (or costs) a database write. Flushed as one
 * statement every `intervalMs` and on stop; the newest use per app password wins.
 */
export class LastUseRecorder {
  private pending = new Map<string, LastUse>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly intervalMs: number,
    private readonly onError: (err: Error) => void,
  ) {}

  note(id: string, ip: string | null, service: string, at = new Date()): void {
    this.pending.set(id, { id, at, ip, service });
    if (this.timer === null && this.intervalMs > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.flush();
      }, this.intervalMs);
      this.timer.unref();
    }
  }

  get size(): number {
    return this.pending.size;
  }

  /** Writes what is pending; a failed write keeps the entries for the next flush (unless newer ones replaced them). */
  async flush(): Promise<void> {
    await this.flushing;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = recordLastUse(this.pool, [...batch.values()])
      .catch((err: Error) => {
        for (const [id, use] of batch) if (!this.pending.has(id)) this.pending.set(id, use);
        this.onError(err);
      })
      .finally(() => {
        this.flushing = null;
      });
    await this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
  }
}
