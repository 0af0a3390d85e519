import { parentPort } from 'node:worker_threads';
import { MailpassdError } from '../core/errors.js';
import { checkPasswordRules } from './rules.js';
import { generatePassword } from './generate.js';
import type { PolicyJob, PolicyReply } from './off-thread.js';

/** Runs the CPU-heavy policy work (zxcvbn) so the daemon's event loop keeps answering logins. */
parentPort!.on('message', (job: PolicyJob) => {
  let reply: PolicyReply;
  try {
    reply =
      job.op === 'check'
        ? { id: job.id, ok: true, violations: checkPasswordRules(job.password, job.subject, job.settings) }
        : { id: job.id, ok: true, password: generatePassword(job.subject, job.settings) };
  } catch (err) {
    reply = { id: job.id, ok: false, error: (err as Error).message, ...(err instanceof MailpassdError && { code: err.code }) };
  }
  parentPort!.postMessage(reply);
});
