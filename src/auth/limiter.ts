import { unavailable } from '../core/errors.js';

/**
 * Bounded concurrency for argon2: at most `concurrency` run at once, at most
 * `queueLimit` wait. A flood of wrong passwords queues behind the limit instead
 * of starving the event loop and the libuv pool; past the queue it is refused.
 *
 * A caller that gives up (its `signal` aborts, e.g. the request deadline) while
 * queued leaves the queue at once, so no argon2 run is spent for nobody. A task
 * already started keeps its slot until it ends: its argon2 job runs on in the
 * libuv pool and cannot be stopped, and handing the slot over early would let
 * more jobs run than the machine has been sized for.
 */
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

  get running(): number {
    return this.active;
  }

  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    if (this.active < this.concurrency) {
      this.active++;
    } else {
      if (this.waiting.length >= this.queueLimit) throw unavailable('argon2_overloaded', 'argon2 queue is full');
      // The finishing task hands its slot over directly, so `active` never overshoots.
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const i = this.waiting.indexOf(start);
          if (i >= 0) this.waiting.splice(i, 1);
          this.report();
          reject(signal!.reason);
        };
        const start = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        this.waiting.push(start);
        signal?.addEventListener('abort', onAbort, { once: true });
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
