// Bench bookkeeping on top of the harness (harness/): everything a run starts is
// registered here and stopped by its own PID (never by name), also when the run
// is aborted; and the readings of /proc the benchmarks report.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { sleep } from '../../harness/process.js';
import { tempDir } from '../../harness/tmp.js';

const cleanups: (() => unknown)[] = [];

/** Registers an async cleanup; run in reverse order by cleanupAll(). */
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

export async function cleanupAll(): Promise<void> {
  while (cleanups.length) {
    const fn = cleanups.pop()!;
    try {
      await fn();
    } catch (err) {
      console.error(`cleanup: ${(err as Error).message}`);
    }
  }
}

/** A temp dir removed at cleanup. */
export function benchDir(prefix: string): string {
  const t = tempDir(`bench-${prefix}`);
  onCleanup(t.remove);
  return t.dir;
}

export interface Memory {
  rssMiB: number;
  hwmMiB: number;
}

/** VmRSS and VmHWM (peak) of a process, in MiB, from /proc. */
export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024 };
}

/**
 * Share of all CPUs busy during `msec` while the benchmark itself is idle: other
 * work on the machine (another session's test suite, a build) that the figures
 * that follow had to share the cores with.
 */
export async function foreignCpuBusy(msec = 1000): Promise<number> {
  const read = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3]! + (f[4] ?? 0);
    return { idle, total: f.reduce((a, b) => a + b, 0) };
  };
  const a = read();
  await sleep(msec);
  const b = read();
  return 1 - (b.idle - a.idle) / Math.max(1, b.total - a.total);
}

let clockTicks: number | null = null;
/**
 * CPU time (user + system, all threads) a process has used so far, in ms. Unlike
 * throughput it barely moves when other work shares the machine, so a cost per
 * request from it is a cross-check of a wall-clock ratio measured on noisy cores.
 */
export function cpuMsOf(pid: number, opts: { reapedChildren?: boolean; /** One thread's CPU (the main thread's tid is the pid). */ thread?: number } = {}): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  const stat = readFileSync(opts.thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${opts.thread}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime + stime; with reapedChildren also cutime + cstime (children that exited and were waited for).
  const ticks = Number(fields[11]) + Number(fields[12]) + (opts.reapedChildren ? Number(fields[13]) + Number(fields[14]) : 0);
  return (ticks * 1000) / clockTicks;
}

/** The live children of a process (a server's workers: PostgreSQL's backends, Dovecot's service processes). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
