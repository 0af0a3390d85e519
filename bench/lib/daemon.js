// Starting `mailpassd serve` as a real process and creating data through the real
// CLI, exactly as an operator would.
import { randomInt } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv, freePort, memoryOf, runNode, sleep, spawnNode, tempDir } from './procs.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MAIN = path.join(ROOT, 'dist', 'cli', 'main.js');

/** Throttle limits high enough that repeated failures in a timing run are never refused early. */
export const NO_THROTTLE = {
  MAILPASSD_AUTH_MAX_FAILURES_PER_USER_IP: '1000000',
  MAILPASSD_AUTH_MAX_FAILURES_PER_IP: '1000000',
};

/**
 * A password that passes the default policy: 20 characters of letters and
 * symbols. No digits, so it can never look like a date (a personal-token rule).
 */
export function strongPassword(length = 20) {
  const alphabet = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ-_.!+*%';
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

async function waitReady(url, proc, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new Error(`process ${proc.pid} exited before ready:\n${proc.logTail()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
    await sleep(50);
  }
  throw new Error(`not ready at ${url} after ${timeoutMs} ms:\n${proc.logTail()}`);
}

/**
 * Starts one daemon on free loopback ports with its own data dir. Hash parameters
 * are the shipped defaults (19456/2/1) — set explicitly so a changed default in
 * src/ does not silently change what the benchmark measures.
 */
export async function startDaemon({ databaseUrl, nodeId, logLevel = 'warn', env = {}, nodeArgs = [] }) {
  const dataDir = tempDir(`daemon-${nodeId}`);
  const [authPort, adminPort] = [await freePort(), await freePort()];
  const daemonEnv = {
    MAILPASSD_DATABASE_URL: databaseUrl,
    MAILPASSD_DATA_DIR: dataDir,
    MAILPASSD_AUTH_LISTEN: `127.0.0.1:${authPort}`,
    MAILPASSD_ADMIN_LISTEN: `127.0.0.1:${adminPort}`,
    MAILPASSD_NODE_ID: nodeId,
    MAILPASSD_LOG_LEVEL: logLevel,
    MAILPASSD_HASH_MEMORY_COST: '19456',
    MAILPASSD_HASH_TIME_COST: '2',
    MAILPASSD_HASH_PARALLELISM: '1',
    ...env,
  };
  const proc = spawnNode([MAIN, 'serve'], { env: cleanEnv(daemonEnv), logFile: path.join(dataDir, 'daemon.log'), nodeArgs });
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  await waitReady(`${adminUrl}/readyz`, proc);
  return {
    nodeId,
    pid: proc.pid,
    env: daemonEnv,
    authUrl: `http://127.0.0.1:${authPort}`,
    authListen: daemonEnv.MAILPASSD_AUTH_LISTEN,
    adminUrl,
    logTail: proc.logTail,
    memory: () => memoryOf(proc.pid),
    stop: proc.stop,
    /** Runs a CLI command with this daemon's configuration; throws on a non-zero exit. */
    async cli(args, input = '') {
      const r = await runNode([MAIN, ...args], { env: cleanEnv(daemonEnv), input });
      if (r.code !== 0) throw new Error(`mailpassd ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
      return r.stdout;
    },
  };
}

/** Domain (if missing) + mailbox with the given password, through the CLI. */
export async function addMailbox(daemon, address, password) {
  const domain = address.split('@')[1];
  await daemon.cli(['domain', 'add', domain]).catch((err) => {
    if (!/exist/i.test(err.message)) throw err;
  });
  await daemon.cli(['mailbox', 'add', address, '--password-stdin'], password);
}

export async function createToken(daemon, name) {
  return JSON.parse(await daemon.cli(['token', 'create', '--name', name, '--json'])).token;
}
