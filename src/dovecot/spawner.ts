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
 * doveadm needs a PATH and a locale, nothing of the daemon's: the environment may
 * hold the database URL with its password and the doveadm API key.
 */
function spawnerEnv(): NodeJS.ProcessEnv {
  const keep = ['PATH', 'LANG', 'LC_ALL', 'TZ'];
  return Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));
}

export function startSpawner(): Spawner {
  if (!CHILD_FILE) return { run: runBinary, pid: () => undefined, stop: async () => undefined };
  let child: ChildProcess | null = null;
  let nextId = 0;
  let stopped = false;
  const pending = new Map<number, (r: RunResult) => void>();

  const failAll = (why: string) => {
    for (const resolve of pending.values()) resolve({ code: -1, stdout: '', stderr: why });
    pending.clear();
  };
  const ensureChild = (): ChildProcess => {
    if (child) return child;
    const c = fork(CHILD_FILE, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'json', env: spawnerEnv() });
    c.on('message', (reply: SpawnReply) => {
      pending.get(reply.id)?.(reply.result);
      pending.delete(reply.id);
    });
    // A spawner that died is replaced on the next run; what it had in hand fails, and the node retries it.
    c.on('exit', (code, signal) => {
      if (child === c) child = null;
      failAll(`doveadm spawner exited (${signal ?? code})`);
    });
    c.on('error', () => undefined); // 'exit' follows and reports
    child = c;
    return c;
  };

  ensureChild();
  return {
    pid: () => child?.pid,
    run(binary, args, timeoutMs) {
      if (stopped) return Promise.resolve({ code: -1, stdout: '', stderr: 'daemon stopping' });
      return new Promise((resolve) => {
        const id = ++nextId;
        pending.set(id, resolve);
        ensureChild().send({ id, binary, args, timeoutMs } satisfies SpawnRequest);
      });
    },
    async stop() {
      stopped = true;
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.disconnect();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000).unref())]);
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    },
  };
}
