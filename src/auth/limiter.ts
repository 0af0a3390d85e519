/**
 * Bounded concurrency for argon2: at most `concurrency` run at once, at most
 * `queueLimit` wait. A flood of wrong passwords queues behind the limit instead
 * of starving the event loop and the libuv pool; past the queue it is refused.
 */
export class OverloadedError extends Error {
  readonly code = 'argon2_overloaded';
}

export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly queueLimit: number,
    private readonly onChange: (active: number, queued: number) => void = () => undefined,
  ) {}

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.concurrency) {
      this.active++;
    } else {
      if (this.waiting.length >= this.queueLimit) throw new OverloadedError('argon2 queue is full');
      // The finishing task hands its slot over directly, so `active` never overshoots.
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        this.report();
      });
    }
    this.report();
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
      this.report();
    }
  }

  private report(): void {
    this.onChange(this.active, this.waiting.length);
  }
}
