import { availableParallelism } from 'node:os';
import { compiledWorker, WorkerPool } from '../core/worker-pool.js';
import { internal } from '../core/errors.js';
import { verifyLegacy } from './legacy.js';

/**
 * Imported legacy hashes are verified on worker threads: SHA-crypt and bcryptjs
 * are synchronous JavaScript, and a few hundred thousand rounds on the event loop
 * would freeze every login on the node. Callers still go through the argon2
 * limiter, which bounds how many run at once; the pool only needs as many
 * threads as there are cores.
 */
export interface LegacyJob {
  id: number;
  hash: string;
  password: string;
}
export type LegacyReply = { id: number; ok: true; match: boolean } | { id: number; ok: false; error: string };

const WORKER_FILE = compiledWorker('auth/legacy-worker.js');
let pool: WorkerPool<LegacyJob, LegacyReply> | null = null;

export function legacyWorkers(): WorkerPool<LegacyJob, LegacyReply> | null {
  if (!WORKER_FILE) return null;
  pool ??= new WorkerPool<LegacyJob, LegacyReply>(WORKER_FILE, Math.max(1, Math.min(4, availableParallelism())));
  return pool;
}

export async function verifyLegacyOffThread(hash: string, password: string): Promise<boolean> {
  const workers = legacyWorkers();
  // Only when run from sources without a build (never in a daemon): inline.
  if (!workers) return verifyLegacy(hash, password);
  const reply = await workers.run({ hash, password });
  if (!reply.ok) throw internal('legacy_verify_failed', `legacy hash verification: ${reply.error}`);
  return reply.match;
}
