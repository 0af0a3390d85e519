/**
 * Awaiting what a test can observe, instead of sleeping for a guessed time: a
 * sleep long enough for a loaded CI machine makes every run slow, and one short
 * enough to be quick fails when the machine is busy. The deadline only bounds a
 * real hang; reaching it is a failure that names what never happened.
 */

/**
 * Polls `check` until it returns a truthy value (which is returned), or throws
 * after `timeoutMs` saying what was awaited. A check that throws is a failure at
 * once, not a "not yet": wrap what may legitimately fail while not ready.
 */
export async function until<T>(what: string, timeoutMs: number, check: () => T | null | undefined | false | Promise<T | null | undefined | false>, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(1, deadline - Date.now()))));
  }
}
