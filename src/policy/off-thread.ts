import { compiledWorker, WorkerPool } from '../core/worker-pool.js';
import { MailpassdError, type ErrorCode } from '../core/errors.js';
import { generatePassword } from './generate.js';
import { checkPasswordRules, checkPasswordRulesScored, type PolicySubject, type PolicyViolation } from './rules.js';
import type { PolicySettings } from './settings.js';

/**
 * The policy rules on a worker thread. zxcvbn needs about a second to load its
 * dictionaries and 50-200 ms of CPU per password: run in the daemon's event loop,
 * every password change would stall every login on that node.
 */
export type PolicyJob =
  | { id: number; op: 'check'; password: string; subject: PolicySubject; settings: PolicySettings; score?: boolean }
  | { id: number; op: 'generate'; subject: PolicySubject; settings: PolicySettings };
export type PolicyReply =
  | { id: number; ok: true; violations?: PolicyViolation[]; score?: number; password?: string }
  | { id: number; ok: false; error: string; /** Set when the worker threw a MailpassdError. */ code?: ErrorCode };

const WORKER_FILE = compiledWorker('policy/policy-worker.js');
/** One thread: changes are rare, and zxcvbn's dictionaries are loaded once. */
let pool: WorkerPool<PolicyJob, PolicyReply> | null = null;

type JobInput = PolicyJob extends infer J ? (J extends PolicyJob ? Omit<J, 'id'> : never) : never;

async function run(job: JobInput): Promise<PolicyReply> {
  if (!WORKER_FILE) return inline({ ...job, id: 0 } as PolicyJob);
  pool ??= new WorkerPool<PolicyJob, PolicyReply>(WORKER_FILE, 1);
  return pool.run(job);
}

/** Stops the policy thread (shutdown, tests); a later check starts a fresh one. */
export async function stopPolicyWorker(): Promise<void> {
  await pool?.terminate();
}

/** What the worker thread runs (policy-worker.ts), and what runs here when there is no compiled worker (tests from source). */
export function runPolicyJob(job: PolicyJob): Extract<PolicyReply, { ok: true }> {
  if (job.op === 'generate') return { id: job.id, ok: true, password: generatePassword(job.subject, job.settings) };
  if (job.score) return { id: job.id, ok: true, ...checkPasswordRulesScored(job.password, job.subject, job.settings) };
  return { id: job.id, ok: true, violations: checkPasswordRules(job.password, job.subject, job.settings) };
}

const inline = runPolicyJob;

function unwrap(reply: PolicyReply): Extract<PolicyReply, { ok: true }> {
  // An error object does not survive the thread boundary as its class; its code does.
  if (!reply.ok) throw new MailpassdError(reply.code ?? 'policy_worker_failed', `password policy: ${reply.error}`);
  return reply;
}

export async function checkRulesOffThread(password: string, subject: PolicySubject, settings: PolicySettings): Promise<PolicyViolation[]> {
  return unwrap(await run({ op: 'check', password, subject, settings })).violations ?? [];
}

/** The rules and the zxcvbn score (0-4), for a strength meter. */
export async function checkRulesScoredOffThread(password: string, subject: PolicySubject, settings: PolicySettings): Promise<{ violations: PolicyViolation[]; score: number }> {
  const reply = unwrap(await run({ op: 'check', password, subject, settings, score: true }));
  return { violations: reply.violations ?? [], score: reply.score ?? 0 };
}

export async function generateOffThread(subject: PolicySubject, settings: PolicySettings): Promise<string> {
  return unwrap(await run({ op: 'generate', subject, settings })).password!;
}

/** Loads the dictionaries in the background at daemon start, so the first change is not slow. */
export function prewarmPolicy(settings: PolicySettings): void {
  void checkRulesOffThread('prewarm-Policy-Dictionaries-1', { address: 'prewarm@example.invalid', displayName: null }, settings).catch(() => undefined);
}
