import { parentPort } from 'node:worker_threads';
import { MailpassdError } from '../core/errors.js';
import { runPolicyJob, type PolicyJob, type PolicyReply } from './off-thread.js';

/** Runs the CPU-heavy policy work (zxcvbn) so the daemon's event loop keeps answering logins. */
parentPort!.on('message', (job: PolicyJob) => {
  let reply: PolicyReply;
  try {
    reply = runPolicyJob(job);
  } catch (err) {
    reply = { id: job.id, ok: false, error: (err as Error).message, ...(err instanceof MailpassdError && { code: err.code }) };
  }
  parentPort!.postMessage(reply);
});
