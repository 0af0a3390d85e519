import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBinary, type RunBinary, type RunResult } from './run-binary.js';

export interface SpawnRequest {
  id: number;
  binary: string;
  args: string[];
  timeoutMs: number;
}
export interface SpawnReply {
  id: number;
  result: RunResult;
}

/**
 * Runs binaries (doveadm) from a small child process instead of the daemon.
 * Every fork write-protects the forking process's memory: measured here, the next
 * argon2 verify on each of libuv's threads then ran 4-5× slower (~110 ms instead
 * of ~23 ms) while its 19 MiB were faulted back in, so two doveadm runs per
 * rotation slowed the very logins that follow a change. The spawner is forked
 * once; its own forks cost only it.
 */
export interface Spawner {
  run: RunBinary;
  /** The spawner process's PID (started at once, while the daemon is still small), if running. */
  pid(): number | undefined;
  stop(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** The compiled child; tests that run from src/ use the one `npm test` builds into dist/. */
const CHILD_FILE = [path.join(here, 'spawner-child.js'), path.join(here, '..', '..', 'dist', 'dovecot', 'spawner-child.js')].find((f) => existsSync(f));

/**
 * doveadm (or a wrapper given as its binary) gets the daemon's environment minus
 * what may hold secrets: MAILPASSD_* (the database URL with its password, the
 * doveadm API key) and libpq's PG* variables (PGPASSWORD).
 */
function spawnerEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MAILPASSD_') && !k.startsWith('PG')));
}

/** How long the spawner may take beyond a run's own time limit before the daemon gives up on it and replaces it. */
const SPAWNER_GRACE_MS = 2_000;

const failed = (why: string): RunResult => ({ code: -1, stdout: '', stderr: why });

/** `warn`: told when the spawner cannot be used or had to be replaced. */
export function startSpawner(warn: (message: string) => void = () => undefined): Spawner {
  if (!CHILD_FILE) {
    warn('doveadm spawner: spawner-child.js not found; doveadm runs from the daemon process');
    return { run: runBinary, pid: () => undefined, stop: async () => undefined };
  }
  let child: ChildProcess | null = null;
  let forks = 0;
  let nextId = 0;
  let stopped = false;
  const pending = new Map<number, { resolve: (r: RunResult) => void; timer: NodeJS.Timeout }>();

  const settle = (id: number, result: RunResult) => {
    const p = pending.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    pending.delete(id);
    p.resolve(result);
  };
  /** The end of a spawner, however it shows (a failed fork gives 'error' and 'close' but no 'exit'): fail what it had in hand; the node retries. */
  const gone = (c: ChildProcess, why: string) => {
    if (child !== c) return;
    child = null;
    for (const id of [...pending.keys()]) settle(id, failed(why));
  };
  const ensureChild = (): ChildProcess => {
    if (child) return child;
    if (forks++ > 0) warn('doveadm spawner: starting a new one');
    const c = fork(CHILD_FILE, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'json', env: spawnerEnv(), execArgv: [] });
    child = c;
    c.on('message', (reply: SpawnReply) => settle(reply.id, reply.result));
    c.on('exit', (code, signal) => gone(c, `doveadm spawner exited (${signal ?? code})`));
    c.on('close', () => gone(c, 'doveadm spawner gone'));
    c.on('error', (err) => {
      if (c.pid === undefined) gone(c, `doveadm spawner could not start: ${err.message}`);
    });
    return c;
  };

  ensureChild(); // while the daemon is still small
  return {
    pid: () => child?.pid,
    run(binary, args, timeoutMs) {
      if (stopped) return Promise.resolve(failed('daemon stopping'));
      return new Promise((resolve) => {
        const id = ++nextId;
        const c = ensureChild();
        // A hung spawner must not hold the node worker: past the run's own limit, replace it.
        const timer = setTimeout(() => {
          gone(c, `doveadm spawner did not answer within ${timeoutMs + SPAWNER_GRACE_MS} ms`);
          c.kill('SIGKILL');
        }, timeoutMs + SPAWNER_GRACE_MS);
        pending.set(id, { resolve, timer });
        c.send({ id, binary, args, timeoutMs } satisfies SpawnRequest, (err) => {
          if (err) settle(id, failed(`doveadm spawner: ${err.message}`));
        });
      });
    },
    async stop() {
      stopped = true;
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return;
      const ended = new Promise((r) => c.once('exit', r));
      if (c.connected) c.disconnect();
      await Promise.race([ended, new Promise((r) => setTimeout(r, 2000).unref())]);
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    },
  };
}
