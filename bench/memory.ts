// Benchmark 6 — daemon memory. Readings are taken by the warm and cold
// benchmarks on the daemons that carried the load (VmRSS and the peak VmHWM
// from /proc/<pid>/status), so this one only reports them.
import type { BenchContext } from './lib/context.js';
import type { BenchResult } from './lib/report.js';
import { fmt } from './lib/stats.js';

export const name = 'memory';
export const title = 'Daemon memory (RSS) at idle and after the warm and cold loads';
export const needs = ['warm', 'cold'];
/** Only reads figures taken by others: no need to wait for a quiet machine. */
export const measures = false;

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const rows: string[][] = [];
  for (const [daemon, phases] of ctx.memory) {
    for (const [phase, m] of Object.entries(phases)) rows.push([`bench-${daemon}`, phase, `${fmt(m.rssMiB, 1)} MiB`, `${fmt(m.hwmMiB, 1)} MiB`]);
  }
  for (const r of rows) console.log(`  ${r.join('  ')}`);
  return {
    setup: [
      'VmRSS / VmHWM from /proc/<pid>/status. "idle" is read 0.5 s after the daemon is ready (and seeded); the other readings right after the load.',
      'warm-* daemons: memo on (one memo entry), 50-connection autocannon load; cold: memo off, argon2id 19 MiB per verify, concurrency = cores.',
    ],
    tables: [{ columns: ['daemon', 'phase', 'VmRSS', 'VmHWM (peak so far)'], rows }],
    verdicts: [],
    figures: Object.fromEntries(ctx.memory),
  };
}
