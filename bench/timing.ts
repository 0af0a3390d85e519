// Benchmark 4 — user enumeration by timing (DESIGN §3 rule 3).
// A known user with a wrong password and an unknown user must cost the same:
// the unknown path verifies against a dummy hash made with the current
// parameters. One request in flight at a time (so queueing cannot mask or
// create a difference), the two kinds interleaved in random order per pair,
// client-side latency over a keep-alive connection.
import { randomInt } from 'node:crypto';
import type { BenchContext } from './lib/context.js';
import { verify } from './lib/http.js';
import type { BenchResult } from './lib/report.js';
import { fmt, mean, median, ms, percentile, stddev } from './lib/stats.js';

export const name = 'timing';
export const title = 'Timing: wrong password for a known user vs unknown user';
const GOAL = 0.05;

interface Kind {
  label: string;
  user: string;
  expect: string;
  times: number[];
}

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const n = ctx.quick ? 40 : 300;
  const d = await ctx.daemon('timing'); // throttle limits raised: every request here is a failure
  const wrong = 'Definitely-not-the-password';
  const kinds: Record<'known' | 'unknown', Kind> = {
    known: { label: `known user, wrong password`, user: ctx.user, expect: 'password_mismatch', times: [] },
    unknown: { label: `unknown user (same domain)`, user: ctx.unknownUser, expect: 'user_unknown', times: [] },
  };
  const once = async (k: Kind) => {
    const started = performance.now();
    const result = await verify(d.authUrl, k.user, wrong);
    const elapsed = performance.now() - started;
    if (result !== k.expect) throw new Error(`timing: ${k.user} answered ${result}, expected ${k.expect}`);
    return elapsed;
  };
  for (let i = 0; i < 10; i++) for (const k of Object.values(kinds)) await once(k); // warm-up
  const pairs: number[] = [];
  for (let i = 0; i < n; i++) {
    const order = randomInt(2) ? (['known', 'unknown'] as const) : (['unknown', 'known'] as const);
    for (const key of order) kinds[key].times.push(await once(kinds[key]));
    pairs.push(kinds.unknown.times.at(-1)! - kinds.known.times.at(-1)!);
  }

  const k = kinds.known.times;
  const u = kinds.unknown.times;
  const diffMean = (mean(u) - mean(k)) / mean(k);
  const diffMedian = (median(u) - median(k)) / median(k);
  // Each pair ran back to back, so its difference is free of the drift in machine load that widens both distributions.
  const diffPaired = median(pairs) / median(k);
  console.log(`  known mean ${ms(mean(k))} median ${ms(median(k))}; unknown mean ${ms(mean(u))} median ${ms(median(u))}; Δ mean ${fmt(diffMean * 100, 2)} %, Δ median ${fmt(diffMedian * 100, 2)} %, paired ${fmt(diffPaired * 100, 2)} %`);
  const row = (kind: Kind) => {
    const t = kind.times;
    return [kind.label, String(t.length), ms(mean(t)), ms(median(t)), ms(percentile(t, 90)), ms(stddev(t))];
  };
  return {
    setup: [
      `${n} requests of each kind, interleaved (random order within each pair), one in flight, after 10 unrecorded warm-ups each; throttle limits raised so no request is refused early.`,
      'Answers checked: `password_mismatch` and `user_unknown`. Δ = (unknown − known) / known. The paired figure takes each back-to-back pair\'s difference, which cancels slow drift in machine load.',
    ],
    tables: [
      {
        columns: ['request', 'n', 'mean', 'median', 'p90', 'std dev'],
        rows: [
          row(kinds.known),
          row(kinds.unknown),
          ['Δ unknown vs known', '', `${fmt(diffMean * 100, 2)} %`, `${fmt(diffMedian * 100, 2)} %`, '', ''],
          ['median of paired differences / known median', '', '', `${fmt(diffPaired * 100, 2)} % (${ms(median(pairs))})`, '', ''],
        ],
      },
    ],
    verdicts: [
      { what: 'abs Δ mean', value: Math.abs(diffMean), shown: `${fmt(Math.abs(diffMean) * 100, 2)} %`, floor: `< ${GOAL * 100} % (goal)`, pass: Math.abs(diffMean) < GOAL },
      { what: 'abs Δ median', value: Math.abs(diffMedian), shown: `${fmt(Math.abs(diffMedian) * 100, 2)} %`, floor: `< ${GOAL * 100} % (goal)`, pass: Math.abs(diffMedian) < GOAL },
    ],
    figures: { diffMean, diffMedian, diffPaired },
  };
}
