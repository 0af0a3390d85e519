import { parentPort } from 'node:worker_threads';
import { verifyLegacy } from './legacy.js';
import type { LegacyJob, LegacyReply } from './legacy-off-thread.js';

/** SHA-crypt and bcryptjs are JavaScript: here they cost a thread, not the daemon's event loop. */
parentPort!.on('message', (job: LegacyJob) => {
  verifyLegacy(job.hash, job.password).then(
    (match): LegacyReply => ({ id: job.id, ok: true, match }),
    (err: Error): LegacyReply => ({ id: job.id, ok: false, error: err.message }),
  ).then((reply) => parentPort!.postMessage(reply));
});
