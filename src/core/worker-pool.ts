import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { MailpassdError } from './errors.js';

/**
 * A few worker threads for CPU-bound work that must not stall the event loop
 * (zxcvbn, imported legacy hashes). A worker that exits or crashes fails the
 * jobs it held with a typed `worker_exited` error, and the next job starts a
 * fresh one: no caller waits for an answer that can no longer come.
 */
export interface WorkerMessage {
  id: number;
}

/** src/ (or dist/): worker files are named relative to it. */
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The compiled worker file; tests that run from src/ use the one the build put into dist/. */
export function compiledWorker(relative: string): string | null {
  const candidates = [path.join(root, relative), path.join(root, '..', 'dist', relative)];
  return candidates.find((f) => existsSync(f)) ?? null;
}

export const workerExited = (why: string) => new MailpassdError('worker_exited', `worker thread exited: ${why}`);

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>;
}

export class WorkerPool<Job extends WorkerMessage, Reply extends WorkerMessage> {
  private readonly slots: Slot[] = [];
  private nextId = 0;

  constructor(
    private readonly file: string,
    private readonly size: number,
  ) {}

  /** Threads alive now (for tests and metrics). */
  get threadIds(): number[] {
    return this.slots.map((s) => s.worker.threadId);
  }

  run(job: Omit<Job, 'id'>): Promise<Reply> {
    const slot = this.pick();
    const id = ++this.nextId;
    slot.worker.ref();
    return new Promise<Reply>((resolve, reject) => {
      slot.pending.set(id, { resolve: resolve as (r: unknown) => void, reject });
      slot.worker.postMessage({ ...job, id });
    });
  }

  /** Stops every thread; jobs still held fail with `worker_exited`. */
  async terminate(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  /** The least busy live worker, or a new one while under the size. */
  private pick(): Slot {
    let best: Slot | null = null;
    for (const s of this.slots) if (!best || s.pending.size < best.pending.size) best = s;
    if (best && (best.pending.size === 0 || this.slots.length >= this.size)) return best;
    return this.spawn();
  }

  private spawn(): Slot {
    const worker = new Worker(this.file);
    worker.unref(); // never keeps a CLI command alive on its own
    const slot: Slot = { worker, pending: new Map() };
    const fail = (err: Error) => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
    };
    worker.on('message', (reply: Reply) => {
      slot.pending.get(reply.id)?.resolve(reply);
      slot.pending.delete(reply.id);
      if (slot.pending.size === 0) worker.unref();
    });
    worker.on('error', (err) => fail(workerExited(err.message)));
    worker.on('exit', (code) => fail(workerExited(`exit code ${code}`)));
    this.slots.push(slot);
    return slot;
  }
}
