/**
 * Awaiting what a test can observe, instead of sleeping for a guessed time: a
 * sleep long enough for a loaded CI machine makes every run slow, and one short
 * enough to be quick fails when the machine is busy. The deadline only bounds a
 * real hang; reaching it is a failure that names what never happened.
 *
 * Same contract as the harness's waitFor (wip/harness: harness/process.ts), which
 * this file is to re-export once both are merged.
 */

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
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
