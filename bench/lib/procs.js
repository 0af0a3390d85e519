// Process and temp-dir bookkeeping. Everything the benchmark starts is registered
// here and stopped by its own PID (never by name), also when the run is aborted.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const cleanups = [];

/** Registers an async cleanup; run in reverse order by cleanupAll(). */
export function onCleanup(fn) {
  cleanups.push(fn);
}

export async function cleanupAll() {
  while (cleanups.length) {
    const fn = cleanups.pop();
    try {
      await fn();
    } catch (err) {
      console.error(`cleanup: ${err.message}`);
    }
  }
}

/** A temp dir removed at cleanup. 0755 because PostgreSQL (run as `postgres` when we are root) must traverse it. */
export function tempDir(prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), `mailpassd-bench-${prefix}-`));
  chmodSync(dir, 0o755);
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (msec) => new Promise((r) => setTimeout(r, msec));

/** The parent's environment without MAILPASSD_*, so nothing from the shell leaks into a daemon's config. */
export function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MAILPASSD_') && v !== undefined) env[k] = v;
  return { ...env, ...extra };
}

/**
 * Starts a long-running Node child with stdout+stderr going to a log file: a file
 * costs the child what journald would, and unlike a pipe it costs this (load
 * generating) process nothing and can never fill up and block the child.
 */
export function spawnNode(args, { env, logFile, nodeArgs = [] }) {
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...nodeArgs, ...args], { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  const stop = async (timeoutMs = 15_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    process.kill(child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);
    const r = await exited;
    clearTimeout(timer);
    return r;
  };
  onCleanup(stop);
  return { child, pid: child.pid, exited, stop, logTail: () => tail(logFile) };
}

function tail(file, chars = 3000) {
  try {
    return readFileSync(file, 'utf8').slice(-chars);
  } catch {
    return '';
  }
}

/** Runs a short-lived child to completion (CLI commands), collecting its output. */
export function runNode(args, { env, input = '', timeoutMs = 60_000 }) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => process.kill(child.pid, 'SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** VmRSS and VmHWM (peak) of a process, in MiB, from /proc. */
export function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024 };
}

/**
 * Share of all CPUs busy during `msec` while the benchmark itself is idle: other
 * work on the machine (another session's test suite, a build) that the figures
 * that follow had to share the cores with.
 */
export async function foreignCpuBusy(msec = 1000) {
  const read = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] ?? 0);
    return { idle, total: f.reduce((a, b) => a + b, 0) };
  };
  const a = read();
  await sleep(msec);
  const b = read();
  return 1 - (b.idle - a.idle) / Math.max(1, b.total - a.total);
}

let clockTicks = null;
/**
 * CPU time (user + system, all threads) a process has used so far, in ms. Unlike
 * throughput it barely moves when other work shares the machine, so a cost per
 * request from it is a cross-check of a wall-clock ratio measured on noisy cores.
 */
export function cpuMsOf(pid) {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}
