import { execFile } from 'node:child_process';

export interface RunResult {
  /** Exit status; -1 when the binary could not be run or was killed at the time limit. */
  code: number;
  stdout: string;
  stderr: string;
}

export type RunBinary = (binary: string, args: string[], timeoutMs: number, signal?: AbortSignal) => Promise<RunResult>;

/** Runs a binary to completion, killing it (SIGKILL) at the time limit or when `signal` aborts; never rejects. */
export const runBinary: RunBinary = (binary, args, timeoutMs, signal) =>
  new Promise((resolve) => {
    execFile(binary, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20, ...(signal ? { signal } : {}) }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
      if (e && typeof e.code === 'string') resolve({ code: -1, stdout, stderr: `${stderr}${e.code === 'ENOENT' ? `${binary} not found` : e.message}` });
      else if (e?.killed) resolve({ code: -1, stdout, stderr: `${stderr}timed out after ${timeoutMs} ms` });
      else resolve({ code: e ? Number(e.code ?? 1) : 0, stdout, stderr });
    });
  });
