import { createHmac, randomBytes } from 'node:crypto';

/**
 * Remembers recent successful verifications so a repeat login skips argon2.
 * The key is HMAC(process key, stored hash ‖ password): a rotated hash can never
 * hit a stale entry, and the memo holds nothing that reveals a password. So a
 * rotation needs no purge: other users' entries stay, and the node does not pay
 * an argon2 run per active user after every change anywhere in the cluster.
 */
export class VerificationMemo {
  private readonly key = randomBytes(32);
  private readonly entries = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  /** The memo key for one (stored hash, password) pair; compute once per verify. */
  keyOf(storedHash: string, password: string): string {
    return createHmac('sha256', this.key).update(storedHash).update('\0').update(password).digest('base64');
  }

  get enabled(): boolean {
    return this.ttlMs > 0 && this.maxEntries > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  has(key: string, now = Date.now()): boolean {
    const expires = this.entries.get(key);
    if (expires === undefined) return false;
    if (expires <= now) {
      this.entries.delete(key);
      return false;
    }
    return true;
  }

  remember(key: string, now = Date.now()): void {
    if (!this.enabled) return;
    this.entries.delete(key);
    this.entries.set(key, now + this.ttlMs);
    // Map keeps insertion order: the first key is the oldest.
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}
