// The daemons the benchmarks measure: the harness's `mailpassd serve` (the built
// dist/), with the shipped hash parameters, registered for cleanup.
import { randomInt } from 'node:crypto';
import { SHIPPED_HASH, startDaemon, type Daemon } from '../../harness/daemon.js';
import { memoryOf, onCleanup, type Memory } from './procs.js';

export { addMailbox, createToken } from '../../harness/daemon.js';

/**
 * Throttle limits high enough that deliberate failures are never refused early:
 * only for benchmarks whose requests are mostly wrong passwords on purpose (the
 * timing comparison, the rotation probes' old-password logins). Right-password
 * benchmarks run with the shipped limits.
 */
export const NO_THROTTLE = {
  MAILPASSD_AUTH_MAX_FAILURES_PER_USER_IP: '1000000',
  MAILPASSD_AUTH_MAX_FAILURES_PER_IP: '1000000',
  MAILPASSD_AUTH_MAX_FAILURES_PER_USER: '1000000',
};

/**
 * A password that passes the default policy: 20 characters of letters and
 * symbols. No digits, so it can never look like a date (a personal-token rule).
 */
export function strongPassword(length = 20): string {
  const alphabet = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ-_.!+*%';
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

export interface BenchDaemon extends Daemon {
  memory(): Memory;
}

/**
 * Starts one daemon on free loopback ports with its own data dir. Hash parameters
 * are the shipped defaults (19456/2/1) — set explicitly so a changed default in
 * src/ does not silently change what the benchmark measures.
 */
export async function startBenchDaemon(opts: { databaseUrl: string; nodeId: string; logLevel?: string; env?: Record<string, string>; nodeArgs?: string[] }): Promise<BenchDaemon> {
  const d = await startDaemon({
    databaseUrl: opts.databaseUrl,
    nodeId: opts.nodeId,
    logLevel: opts.logLevel ?? 'warn',
    env: { ...SHIPPED_HASH, ...opts.env },
    readyTimeoutMs: 60_000,
    ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}),
  });
  onCleanup(() => d.stop());
  return { ...d, memory: () => memoryOf(d.pid) };
}
