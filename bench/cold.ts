// Benchmark 2 — cold auth throughput.
// Memo off (MAILPASSD_AUTH_MEMO_TTL_SECONDS=0): every request runs argon2id with
// the default parameters, so throughput is bounded by the CPU. The ceiling is raw
// argon2.verify of the same stored hash in one Node process with as many verifies
// in flight as the daemon allows (auth.argon2_concurrency defaults to the cores);
// the ratio is what HTTP, the SELECT, queueing and the rest cost on top.
import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import type { BenchContext } from './lib/context.js';
import { hammer, type Hammered } from './lib/load.js';
import { verify } from './lib/http.js';
import { storedHash } from './lib/postgres.js';
import { cpuMsOf } from './lib/procs.js';
import type { BenchResult } from './lib/report.js';
import { fmt, median, ms } from './lib/stats.js';

export const name = 'cold';
export const title = 'Cold auth throughput (memo off) vs raw argon2.verify';
const FLOOR = 0.9;

/** `inFlight` verify loops until the deadline; returns verifies/s and this process's CPU ms per verify. */
async function rawArgon2(hash: string, password: string, inFlight: number, seconds: number): Promise<{ rate: number; cpuPerVerify: number }> {
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  let count = 0;
  const loop = async () => {
    while (performance.now() < deadline) {
      if (!(await argon2.verify(hash, password))) throw new Error('raw argon2 baseline: hash does not verify');
      count++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  const cpu = process.cpuUsage(cpu0);
  return { rate: count / ((performance.now() - started) / 1000), cpuPerVerify: (cpu.user + cpu.system) / 1000 / count };
}

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const seconds = ctx.seconds(6);
  const rounds = ctx.quick ? 1 : 5;
  const inFlight = availableParallelism();
  // More connections than argon2 slots so the daemon's queue never runs dry.
  const connections = inFlight * 4;
  const d = await ctx.daemon('cold');
  const hash = await storedHash((await ctx.postgres()).url, ctx.user);
  if ((await verify(d.authUrl, ctx.user, ctx.password)) !== 'ok') throw new Error('cold auth preflight did not answer ok');
  const url = `${d.authUrl}/v1/passdb/verify`;
  const body = { user: ctx.user, password: ctx.password, service: 'imap', remote_ip: '192.0.2.10' };

  await rawArgon2(hash, ctx.password, inFlight, 1); // warm-up: argon2 thread pool, allocator
  await hammer({ url, body, connections, seconds: Math.min(2, seconds) });

  const raw: number[] = [];
  const rawCpu: number[] = [];
  const daemon: (Hammered & { cpuPerVerify: number })[] = [];
  for (let r = 1; r <= rounds; r++) {
    await ctx.settle();
    const rr = await rawArgon2(hash, ctx.password, inFlight, seconds);
    raw.push(rr.rate);
    rawCpu.push(rr.cpuPerVerify);
    console.log(`  round ${r} raw argon2.verify (${inFlight} in flight)     ${fmt(rr.rate, 1).padStart(6)} verifies/s`);
    await ctx.settle();
    const cpu0 = cpuMsOf(d.pid);
    const hammered = await hammer({ url, body, connections, seconds });
    const res = { ...hammered, cpuPerVerify: (cpuMsOf(d.pid) - cpu0) / hammered.total };
    daemon.push(res);
    console.log(`  round ${r} mailpassd cold (${connections} connections)     ${fmt(res.rps, 1).padStart(6)} req/s  p50 ${res.p50} ms  p99 ${res.p99} ms  errors ${res.errors} non2xx ${res.non2xx}`);
  }
  ctx.recordMemory('cold', 'after cold load');

  const rawMed = median(raw);
  const rps = median(daemon.map((x) => x.rps));
  const ratio = rps / rawMed;
  return {
    setup: [
      `argon2id m=19456 t=2 p=1 (defaults), ${inFlight} cores. ${rounds} alternating round(s) of ${seconds} s (raw → daemon), medians reported.`,
      `Raw: \`argon2.verify(stored_hash, password)\` with ${inFlight} in flight in one Node process (= the daemon's auth.argon2_concurrency default).`,
      `Daemon: autocannon with ${connections} connections against the memo-off daemon; every answer is "ok" after a full argon2 verify.`,
    ],
    tables: [
      {
        columns: ['target', 'verifies/s (median)', 'p50', 'p99', 'errors + non-2xx', 'per round', 'CPU per verify'],
        rows: [
          [`raw argon2.verify × ${inFlight}`, fmt(rawMed, 1), '', '', '0', raw.map((x) => fmt(x, 1)).join(' / '), ms(median(rawCpu))],
          [
            'mailpassd, memo off',
            fmt(rps, 1),
            ms(median(daemon.map((x) => x.p50))),
            ms(median(daemon.map((x) => x.p99))),
            String(daemon.reduce((a, x) => a + x.errors + x.non2xx, 0)),
            daemon.map((x) => fmt(x.rps, 1)).join(' / '),
            ms(median(daemon.map((x) => x.cpuPerVerify))),
          ],
        ],
      },
    ],
    verdicts: [{ what: 'mailpassd cold / raw argon2 verifies/s', value: ratio, shown: fmt(ratio, 2), floor: `≥ ${FLOOR}`, pass: ratio >= FLOOR }],
    notes: [
      `Cross-check, less sensitive to other processes in this VM (not to host-level contention: the VM reports no steal time; argon2 is memory-bound, so a busy host inflates it) — CPU per verify (median over rounds; raw: this process, daemon: the daemon process, all threads): raw ${ms(median(rawCpu))}, daemon ${ms(median(daemon.map((x) => x.cpuPerVerify)))} → raw/daemon = ${fmt(median(rawCpu) / median(daemon.map((x) => x.cpuPerVerify)), 2)}.`,
      `Per-round ratios (daemon run / raw run just before it): ${daemon.map((x, i) => fmt(x.rps / raw[i]!, 2)).join(' / ')}.`],
    figures: { raw: rawMed, rps, ratio, cpuRatio: median(rawCpu) / median(daemon.map((x) => x.cpuPerVerify)) },
  };
}
