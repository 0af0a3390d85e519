// Benchmark 1 — warm auth throughput.
// The same user and password over and over with the verification memo on, so
// argon2 is skipped and what remains is the daemon's own per-request cost:
// HTTP + schema validation + the indexed SELECT + memo HMAC + logging. It is
// compared with a bare fastify route doing only the SELECT (baseline-server.js).
// The machine is noisy (client, servers and PostgreSQL share 2 cores), so the
// variants alternate in rounds and the medians are compared.
import type { BenchContext, Profile } from './lib/context.js';
import { hammer, summarizeRounds, throughputRow, THROUGHPUT_COLUMNS, type Round } from './lib/load.js';
import { verify } from './lib/http.js';
import { cpuMsOf } from './lib/procs.js';
import type { BenchResult } from './lib/report.js';
import { fmt } from './lib/stats.js';

export const name = 'warm';
export const title = 'Warm auth throughput (memo on) vs bare fastify + one SELECT';
const FLOOR = 0.7;
const CONNECTIONS = 50;

interface Target {
  key: 'baseline' | 'warn' | 'info';
  label: string;
  daemon?: Profile;
  url?: string;
  pid?: number;
}

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const seconds = ctx.seconds(8);
  const rounds = ctx.quick ? 1 : 5;
  const body = { user: ctx.user, password: ctx.password, service: 'imap', remote_ip: '192.0.2.10' };
  const targets: Target[] = [
    { key: 'baseline', label: 'baseline (fastify + SELECT)', url: `${(await ctx.baseline()).url}/v1/passdb/verify`, pid: (await ctx.baseline()).pid },
    { key: 'warn', label: 'mailpassd, log level warn', daemon: 'warm-warn' },
    { key: 'info', label: 'mailpassd, log level info (default)', daemon: 'warm-info' },
  ];
  for (const t of targets) {
    if (!t.daemon) continue;
    const d = await ctx.daemon(t.daemon);
    t.url = `${d.authUrl}/v1/passdb/verify`;
    t.pid = d.pid;
    // Must really be the memo path: an 'ok' that argon2 computed once, then memo hits.
    const answer = await verify(d.authUrl, ctx.user, ctx.password);
    if (answer !== 'ok') throw new Error(`warm auth preflight on ${t.daemon} answered ${answer}`);
  }

  // Warm-up: JIT, pool connections, memo entry — not recorded.
  for (const t of targets) await hammer({ url: t.url!, body, connections: CONNECTIONS, seconds: Math.min(2, seconds) });

  const runs: Record<Target['key'], Round[]> = { baseline: [], warn: [], info: [] };
  for (let r = 1; r <= rounds; r++) {
    for (const t of targets) {
      await ctx.settle();
      const cpu0 = cpuMsOf(t.pid!);
      const res = { ...(await hammer({ url: t.url!, body, connections: CONNECTIONS, seconds })), cpuPerReq: 0 };
      // Server process CPU per request: a cost that other load on the machine hardly changes.
      res.cpuPerReq = (cpuMsOf(t.pid!) - cpu0) / res.total;
      runs[t.key].push(res);
      console.log(`  round ${r} ${t.label.padEnd(38)} ${fmt(res.rps).padStart(7)} req/s  p50 ${res.p50} ms  p99 ${res.p99} ms  errors ${res.errors} non2xx ${res.non2xx}`);
    }
  }
  for (const t of targets) if (t.daemon) ctx.recordMemory(t.daemon, 'after warm load');

  const summary = (key: Target['key']) => summarizeRounds(runs[key]);
  const s = { baseline: summary('baseline'), warn: summary('warn'), info: summary('info') };
  const ratioWarn = s.warn.rps / s.baseline.rps;
  const ratioInfo = s.info.rps / s.baseline.rps;

  return {
    setup: [
      `autocannon, ${CONNECTIONS} connections, ${seconds} s per run, ${rounds} alternating round(s) (baseline → warn → info), medians reported; 2 s unrecorded warm-up per target.`,
      `Body: \`{user, password, service:"imap", remote_ip}\` — the same user and password every request, so every mailpassd answer after the first is a memo hit ("ok", no argon2).`,
      'Baseline: bare fastify 5 (logger off, no schema), one POST route running `SELECT * FROM mailboxes WHERE address = $1` (named, pg pool of 10 like the daemon) on the same database.',
    ],
    tables: [
      {
        columns: THROUGHPUT_COLUMNS,
        rows: targets.map((t) => throughputRow(t.label, s[t.key], runs[t.key])),
      },
    ],
    verdicts: [
      { what: 'mailpassd (warn) / baseline req/s', value: ratioWarn, shown: fmt(ratioWarn, 2), floor: `≥ ${FLOOR}`, pass: ratioWarn >= FLOOR },
      { what: 'mailpassd (info, the default) / baseline req/s — reported', value: ratioInfo, shown: fmt(ratioInfo, 2), floor: `≥ ${FLOOR}`, pass: ratioInfo >= FLOOR },
    ],
    notes: [
      `Cross-check, less sensitive to other processes in this VM (not to host-level contention: the VM reports no steal time) — server-process CPU per request (median over rounds): baseline ${fmt(s.baseline.cpuPerReq * 1000, 0)} µs, mailpassd warn ${fmt(s.warn.cpuPerReq * 1000, 0)} µs (baseline/mailpassd = ${fmt(s.baseline.cpuPerReq / s.warn.cpuPerReq, 2)}), info ${fmt(s.info.cpuPerReq * 1000, 0)} µs (${fmt(s.baseline.cpuPerReq / s.info.cpuPerReq, 2)}). PostgreSQL and the client (autocannon, ~1 core) cost the same per request for all three and are not included, so this ratio is stricter than the throughput ratio.`,
      `Per-round ratios (each mailpassd run against the baseline run of the same round): warn ${runs.warn.map((x, i) => fmt(x.rps / runs.baseline[i]!.rps, 2)).join(' / ')}; info ${runs.info.map((x, i) => fmt(x.rps / runs.baseline[i]!.rps, 2)).join(' / ')}.`,
    ],
    figures: { ...s, ratioWarn, ratioInfo, cpuRatioWarn: s.baseline.cpuPerReq / s.warn.cpuPerReq },
  };
}
