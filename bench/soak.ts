// Benchmark — daemon memory over a soak at a steady login rate. A fixed request
// rate straight at the auth listener, mixed like a mail server's day: repeat
// logins that succeed (memo hits), wrong passwords from ever-new IPs (argon2,
// throttle entries for fresh IPs), unknown users. VmRSS from /proc every 10 s.
// Flat = growth over the second half below 5 % of the RSS at its start.
import { randomInt } from 'node:crypto';
import { sleep } from '../harness/process.js';
import type { BenchContext } from './lib/context.js';
import { createToken, startBenchDaemon, strongPassword } from './lib/daemon.js';
import { postJson } from './lib/http.js';
import { memoryOf } from './lib/procs.js';
import type { BenchResult } from './lib/report.js';
import { fmt, median, percentile } from './lib/stats.js';

export const name = 'soak';
export const title = 'Daemon memory (RSS) over a steady-rate soak (no leak)';
const RATE = 200; // requests per second
const MIX = { ok: 0.9, wrong: 0.06, unknown: 0.04 }; // ~20 argon2/s: below saturation on 2 cores
const SAMPLE_S = 10;
const GROWTH_LIMIT = 0.05;
const N_USERS = 50;

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den ? num / den : NaN;
}

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const seconds = ctx.quick ? 30 : 300;
  const pg = await ctx.postgres();
  const url = await pg.createDatabase('bench_soak');
  // Shipped throttle limits (not raised): the throttle's per-IP state is part of what must not grow.
  const d = await startBenchDaemon({ databaseUrl: url, nodeId: 'bench-soak', logLevel: 'warn' });
  try {
    await d.cliOk(['domain', 'add', 'soak.example.org']);
    const token = await createToken(d, 'soak');
    const users: { user: string; password: string }[] = [];
    for (let i = 0; i < N_USERS; i++) {
      const user = `soak${i}@soak.example.org`;
      const password = strongPassword();
      const r = await postJson(`${d.adminUrl}/v1/mailboxes`, { address: user, password }, { authorization: `Bearer ${token}` });
      if (r.status !== 201) throw new Error(`create ${user}: HTTP ${r.status} ${r.text}`);
      users.push({ user, password });
    }
    await sleep(1000);
    await ctx.settle();

    const verifyUrl = `${d.authUrl}/v1/passdb/verify`;
    const counts: Record<string, number> = {};
    const latencies: number[] = [];
    let ipCounter = 0;
    const one = async () => {
      const x = Math.random();
      const u = users[randomInt(users.length)]!;
      let body: Record<string, string>;
      let expect: string;
      // A wrong guess may also be refused before argon2 once its user has had
      // auth.max_failures_per_user (50) failures in the window, from any ips:
      // the per-user cap doing its job, not a wrong answer. A right password never may.
      let alsoRight: string | null = null;
      if (x < MIX.ok) {
        body = { user: u.user, password: u.password, remote_ip: `192.0.2.${1 + randomInt(50)}` };
        expect = 'ok';
      } else if (x < MIX.ok + MIX.wrong) {
        const n = ipCounter++;
        body = { user: u.user, password: strongPassword(), remote_ip: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` };
        expect = 'password_mismatch';
        alsoRight = 'throttled';
      } else {
        body = { user: `nobody${randomInt(1e9)}@soak.example.org`, password: strongPassword(), remote_ip: `198.51.100.${1 + randomInt(200)}` };
        expect = 'user_unknown';
      }
      const t = performance.now();
      let result: string;
      try {
        const r = await postJson(verifyUrl, { ...body, service: 'imap' });
        result = r.body?.result ?? `http_${r.status}`;
      } catch (err) {
        result = `error_${(err as NodeJS.ErrnoException).code ?? 'unknown'}`;
      }
      latencies.push(performance.now() - t);
      const key = result === expect ? expect : result === alsoRight ? `${expect} (${result}: per-user cap)` : `${expect}→${result}`;
      counts[key] = (counts[key] ?? 0) + 1;
    };

    const samples: { t: number; rss: number; hwm: number }[] = [];
    const t0 = performance.now();
    const sample = () => {
      const m = memoryOf(d.pid);
      samples.push({ t: (performance.now() - t0) / 1000, rss: m.rssMiB, hwm: m.hwmMiB });
    };
    sample();
    const sampler = setInterval(sample, SAMPLE_S * 1000);
    const inflight = new Set<Promise<void>>();
    let sent = 0;
    let maxInflight = 0;
    // Open-loop pacing: start requests on schedule whatever the answers do (capped at 500 in flight).
    while (performance.now() - t0 < seconds * 1000) {
      const due = Math.floor(((performance.now() - t0) / 1000) * RATE);
      while (sent < due && inflight.size < 500) {
        const p: Promise<void> = one().finally(() => inflight.delete(p));
        inflight.add(p);
        sent++;
      }
      maxInflight = Math.max(maxInflight, inflight.size);
      await sleep(5);
    }
    await Promise.all(inflight);
    clearInterval(sampler);
    sample();
    const elapsed = (performance.now() - t0) / 1000;

    const start = samples[0]!.rss;
    const peak = Math.max(...samples.map((s) => s.rss));
    const end = samples.at(-1)!.rss;
    const half = samples.filter((s) => s.t >= elapsed / 2);
    const halfStart = half[0]!.rss;
    const growth = (end - halfStart) / halfStart;
    const slopePerMin = slope(half.map((s) => s.t), half.map((s) => s.rss)) * 60;
    const unexpected = Object.entries(counts).filter(([k]) => k.includes('→')).reduce((a, [, v]) => a + v, 0);
    console.log(`  ${sent} requests in ${fmt(elapsed, 0)} s (${fmt(sent / elapsed)}/s); RSS start ${fmt(start, 1)} peak ${fmt(peak, 1)} end ${fmt(end, 1)} MiB; second half ${fmt(growth * 100, 1)} %, slope ${fmt(slopePerMin, 2)} MiB/min; answers ${JSON.stringify(counts)}`);

    return {
      setup: [
        `One daemon (argon2id 19456/2/1, memo on, shipped throttle limits), ${N_USERS} mailboxes. Open-loop load of ${RATE} req/s for ${seconds} s straight at \`POST /v1/passdb/verify\`: ${MIX.ok * 100} % correct passwords of random users (memo hits) from 50 IPs, ${MIX.wrong * 100} % wrong passwords, each from a new IP (10.x.y.z: new throttle state every time; argon2 every time until that user reaches the shipped per-user cap of 50 failures per window, then refused before argon2 as \`throttled\`, which counts as expected), ${MIX.unknown * 100} % unknown (random) users.`,
        `VmRSS from /proc/<pid>/status every ${SAMPLE_S} s. Criterion: RSS growth over the second half (last sample vs first sample of the second half) < ${GROWTH_LIMIT * 100} %; the least-squares slope of the second half is shown too.`,
      ],
      tables: [
        {
          columns: ['requests', 'achieved req/s', 'p50', 'p99', 'max in flight', 'answers'],
          rows: [[String(sent), fmt(sent / elapsed), `${fmt(median(latencies))} ms`, `${fmt(percentile(latencies, 99))} ms`, String(maxInflight), Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')]],
        },
        {
          columns: ['RSS start', 'peak', 'end', 'second half: start → end', 'slope (second half)', 'VmHWM'],
          rows: [[`${fmt(start, 1)} MiB`, `${fmt(peak, 1)} MiB`, `${fmt(end, 1)} MiB`, `${fmt(halfStart, 1)} → ${fmt(end, 1)} MiB (${fmt(growth * 100, 1)} %)`, `${fmt(slopePerMin, 2)} MiB/min`, `${fmt(samples.at(-1)!.hwm, 1)} MiB`]],
        },
        { columns: ['t (s)', 'VmRSS (MiB)'], rows: samples.map((s) => [fmt(s.t, 0), fmt(s.rss, 1)]) },
      ],
      verdicts: [
        { what: 'RSS growth over the second half of the soak', value: growth, shown: `${fmt(growth * 100, 1)} % (${fmt(slopePerMin, 2)} MiB/min)`, floor: `< ${GROWTH_LIMIT * 100} %`, pass: growth < GROWTH_LIMIT },
        { what: 'unexpected answers', value: unexpected, shown: String(unexpected), floor: '0', pass: unexpected === 0 },
        { what: 'achieved rate', value: sent / elapsed, shown: `${fmt(sent / elapsed)} req/s`, floor: `≥ ${RATE * 0.95}`, pass: sent / elapsed >= RATE * 0.95 },
      ],
      figures: { start, peak, end, growth, slopePerMin, samples },
    };
  } finally {
    await d.stop();
  }
}
