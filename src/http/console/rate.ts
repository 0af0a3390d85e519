/**
 * A fixed-window counter per key (a console session): enough to keep a script
 * (or a person with a scripted browser) from using the policy check as a fast
 * oracle, while typing with the page's debounce never reaches it.
 */
export class WindowLimit {
  private readonly hits = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly maxKeys = 10_000,
  ) {}

  take(key: string, now = Date.now()): boolean {
    const seen = this.hits.get(key);
    if (!seen || now - seen.start >= this.windowMs) {
      if (this.hits.size >= this.maxKeys) this.sweep(now);
      this.hits.set(key, { start: now, count: 1 });
      return true;
    }
    seen.count += 1;
    return seen.count <= this.max;
  }

  private sweep(now: number) {
    for (const [k, v] of this.hits) if (now - v.start >= this.windowMs) this.hits.delete(k);
    // Still full: every key is active; forget the oldest rather than grow without bound.
    if (this.hits.size >= this.maxKeys) this.hits.delete(this.hits.keys().next().value!);
  }
}
