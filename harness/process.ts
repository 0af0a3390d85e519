/**
 * Processes the harness starts and stops: environment, waiting, short commands,
 * daemonizing commands and long-running children. Everything is stopped by its
 * own PID, never by name.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { isAlive, readPidFile } from '../src/core/pid.js';

// One freePort and one liveness rule (EPERM: alive, owned by someone else) for src, tests and benchmarks.
export { freePort } from '../src/core/port.js';
export { isAlive, readPidFile };

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The parent's environment without MAILPASSD_*, so nothing from the shell leaks into a child's config. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MAILPASSD_') && v !== undefined) env[k] = v;
  return { ...env, ...extra };
}

/**
 * Polls `probe` until it returns a value other than null, undefined or false
 * (a throw counts as "not yet"); throws after `timeoutMs`, naming `what` and
 * the last error.
 */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await probe();
      if (v !== null && v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} after ${timeoutMs} ms${last ? `: ${String((last as Error).message ?? last)}` : ''}`);
    await sleep(intervalMs);
  }
}

/** Whether something accepts TCP connections on a loopback port. */
export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((r) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => r(false));
  });
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs a short command to completion; never throws (a spawn error is code -1 with the message in stderr). */
export function run(cmd: string, args: string[], timeoutMs = 30_000, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolveRun) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', env: env ?? process.env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      const code = e === null ? 0 : typeof e.code === 'number' ? e.code : -1;
      resolveRun({ stdout: String(stdout), stderr: String(stderr) + (e && typeof e.code !== 'number' ? `\n${e.message}` : ''), code });
    });
  });
}

/**
 * Runs a daemonizing command (dovecot, postfix start) and waits for the
 * foreground part to exit. Not execFile: the daemon may keep inherited
 * pipes open forever, so output goes to a file instead.
 */
export async function runDaemonizing(cmd: string, args: string[], outputFile: string, timeoutMs = 30_000): Promise<RunResult> {
  const fd = openSync(outputFile, 'a');
  try {
    return await new Promise<RunResult>((resolveRun) => {
      const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', (e) => {
        clearTimeout(t);
        resolveRun({ stdout: '', stderr: e.message, code: -1 });
      });
      child.on('exit', (code) => {
        clearTimeout(t);
        resolveRun({ stdout: '', stderr: readFileSync(outputFile, 'utf8'), code: code ?? -1 });
      });
    });
  } finally {
    closeSync(fd);
  }
}

/** Stops a daemon by the PID in its pid file (Dovecot's master.pid); SIGKILL after a grace period. */
export async function stopByPidFile(pidFile: string, graceMs = 10_000): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = readPidFile(pidFile);
  if (pid === null || pid <= 1 || !isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

export interface LoggedChild {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (null when ended by a signal). */
  exited: Promise<number | null>;
  /** Sends `signal`, escalates to SIGKILL after `killAfterMs`, resolves with the exit code. */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<number | null>;
  /** Everything the child wrote so far. */
  log(): string;
}

/**
 * Starts a long-running Node child with stdout+stderr going to a log file: a file
 * costs the child what journald would, and unlike a pipe it costs the parent (a
 * load generator, a test runner) nothing and can never fill up and block the child.
 */
export function spawnNode(
  args: string[],
  opts: { env: Record<string, string>; logFile: string; nodeArgs?: string[]; user?: { uid: number; gid: number } },
): LoggedChild {
  const fd = openSync(opts.logFile, 'a');
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...args], {
    env: opts.env,
    stdio: ['ignore', fd, fd],
    ...(opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
  });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const running = () => child.exitCode === null && child.signalCode === null;
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 15_000) => {
    if (!running()) return exited;
    child.kill(signal);
    const timer = setTimeout(() => running() && child.kill('SIGKILL'), killAfterMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  const log = () => {
    try {
      return readFileSync(opts.logFile, 'utf8');
    } catch {
      return '';
    }
  };
  return { child, pid: child.pid!, exited, stop, log };
}
