import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { generatePassword } from './generate.js';
import { checkPasswordRules, type PolicySubject, type PolicyViolation } from './rules.js';
import type { PolicySettings } from './settings.js';

/**
 * The policy rules on a worker thread. zxcvbn needs about a second to load its
 * dictionaries and 50-200 ms of CPU per password: run in the daemon's event loop,
 * every password change would stall every login on that node.
 */
export type PolicyJob =
  | { id: number; op: 'check'; password: string; subject: PolicySubject; settings: PolicySettings }
  | { id: number; op: 'generate'; subject: PolicySubject; settings: PolicySettings };
export type PolicyReply =
  | { id: number; ok: true; violations?: PolicyViolation[]; password?: string }
  | { id: number; ok: false; error: string };

/** The compiled worker; tests that run from src/ use the one `npm test` builds into dist/. */
const here = path.dirname(fileURLToPath(import.meta.url));
const WORKER_FILE = [path.join(here, 'policy-worker.js'), path.join(here, '..', '..', 'dist', 'policy', 'policy-worker.js')].find((f) => existsSync(f));

let worker: Worker | null = null;
let nextId = 0;
const pending = new Map<number, { resolve: (r: PolicyReply) => void; reject: (e: Error) => void }>();

function getWorker(): Worker | null {
  if (!WORKER_FILE) return null;
  if (worker) return worker;
  const w = new Worker(WORKER_FILE);
  w.unref(); // never keeps a CLI command alive on its own
  w.on('message', (reply: PolicyReply) => {
    pending.get(reply.id)?.resolve(reply);
    pending.delete(reply.id);
    if (pending.size === 0) w.unref();
  });
  w.on('error', (err) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    worker = null;
  });
  w.on('exit', () => {
    if (worker === w) worker = null;
  });
  worker = w;
  return w;
}

type JobInput = PolicyJob extends infer J ? (J extends PolicyJob ? Omit<J, 'id'> : never) : never;

async function run(job: JobInput): Promise<PolicyReply> {
  const w = getWorker();
  const id = ++nextId;
  if (!w) return inline({ ...job, id } as PolicyJob);
  w.ref();
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    w.postMessage({ ...job, id });
  });
}

function inline(job: PolicyJob): PolicyReply {
  return job.op === 'check'
    ? { id: job.id, ok: true, violations: checkPasswordRules(job.password, job.subject, job.settings) }
    : { id: job.id, ok: true, password: generatePassword(job.subject, job.settings) };
}

function unwrap(reply: PolicyReply): Extract<PolicyReply, { ok: true }> {
  if (!reply.ok) throw new Error(`password policy: ${reply.error}`);
  return reply;
}

export async function checkRulesOffThread(password: string, subject: PolicySubject, settings: PolicySettings): Promise<PolicyViolation[]> {
  return unwrap(await run({ op: 'check', password, subject, settings })).violations ?? [];
}

export async function generateOffThread(subject: PolicySubject, settings: PolicySettings): Promise<string> {
  return unwrap(await run({ op: 'generate', subject, settings })).password!;
}

/** Loads the dictionaries in the background at daemon start, so the first change is not slow. */
export function prewarmPolicy(settings: PolicySettings): void {
  void checkRulesOffThread('prewarm-Policy-Dictionaries-1', { address: 'prewarm@example.invalid', displayName: null }, settings).catch(() => undefined);
}
