// Benchmark — app-password logins (issue 13).
// An app password is found by HMAC-SHA-256 under the cluster key through the
// (mailbox_id, secret_hmac) index, in the same query as the mailbox row, and
// needs no argon2: with the verification memo OFF its logins must still run at
// close to the bare fastify + SELECT baseline. Main-password logins (memo on,
// as in `warm`) are measured alongside: the app-password join must not slow them.
import type { BenchContext } from './lib/context.js';
import { hammer, summarizeRounds, throughputRow, THROUGHPUT_COLUMNS, type Round } from './lib/load.js';
import { verify } from './lib/http.js';
import { cpuMsOf } from './lib/procs.js';
import type { BenchResult } from './lib/report.js';
import { fmt, median } from './lib/stats.js';

export const name = 'app-passwords';
export const title = 'App-password logins (memo off, no argon2) and main-password logins vs bare fastify + one SELECT';
const FLOOR = 0.8;
const CONNECTIONS = 50;

interface Target {
  key: 'baseline' | 'app' | 'main';
  label: string;
  url: string;
  password: string;
  pid: number;
}

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const seconds = ctx.seconds(8);
  const rounds = ctx.quick ? 1 : 5;
  const pgc = await ctx.postgres();
  const cold = await ctx.daemon('cold');
  const warm = await ctx.daemon('warm-warn');
  const added = JSON.parse(await cold.cliOk(['app-password', 'add', ctx.user, '--name', `bench-${Date.now()}`, '--json'])) as { password: string };
  const targets: Target[] = [
    { key: 'baseline', label: 'baseline (fastify + SELECT)', url: `${(await ctx.baseline()).url}/v1/passdb/verify`, password: ctx.password, pid: (await ctx.baseline()).pid },
    { key: 'app', label: 'mailpassd, app password, memo off', url: `${cold.authUrl}/v1/passdb/verify`, password: added.password, pid: cold.pid },
    { key: 'main', label: 'mailpassd, main password, memo on', url: `${warm.authUrl}/v1/passdb/verify`, password: ctx.password, pid: warm.pid },
  ];
  if ((await verify(cold.authUrl, ctx.user, added.password)) !== 'ok') throw new Error('app password preflight failed');
  if ((await verify(warm.authUrl, ctx.user, ctx.password)) !== 'ok') throw new Error('main password preflight failed');
  const bodyOf = (t: Target) => ({ user: ctx.user, password: t.password, service: 'imap', remote_ip: '192.0.2.10' });

  for (const t of targets) await hammer({ url: t.url, body: bodyOf(t), connections: CONNECTIONS, seconds: Math.min(2, seconds) });
  /** One measured run: throughput, the server's CPU per request and PostgreSQL's (only this target's backends are busy). */
  const measure = async (t: Target, connections: number, secs: number, label: string): Promise<Round & { pgPerReq: number }> => {
    await ctx.settle();
    const cpu0 = cpuMsOf(t.pid);
    const pg0 = pgc.cpuMs();
    const res = await hammer({ url: t.url, body: bodyOf(t), connections, seconds: secs });
    // Server process CPU per request: less sensitive to the other load on this shared machine.
    const round = { ...res, cpuPerReq: (cpuMsOf(t.pid) - cpu0) / res.total, pgPerReq: (pgc.cpuMs() - pg0) / res.total };
    console.log(`  ${label.padEnd(46)} ${fmt(res.rps).padStart(7)} req/s  p50 ${res.p50} ms  p99 ${res.p99} ms  cpu/req ${fmt(round.cpuPerReq * 1000, 0)} µs  pg/req ${fmt(round.pgPerReq * 1000, 0)} µs  errors ${res.errors} non2xx ${res.non2xx}`);
    return round;
  };
  const runs: Record<Target['key'], Round[]> = { baseline: [], app: [], main: [] };
  const pgPerReq: Record<Target['key'], number[]> = { baseline: [], app: [], main: [] };
  const batches0 = await lookupBatches(cold.adminUrl);
  for (let r = 1; r <= rounds; r++) {
    for (const t of targets) {
      const round = await measure(t, CONNECTIONS, seconds, `round ${r} ${t.label}`);
      pgPerReq[t.key].push(round.pgPerReq);
      runs[t.key].push(round);
    }
  }
  const batches1 = await lookupBatches(cold.adminUrl);
  const perStatement = (batches1.sum - batches0.sum) / (batches1.count - batches0.count);
  // Without concurrency nothing is batched: the same pair, one connection, side by side.
  const singleSeconds = Math.min(4, seconds);
  const single: Record<'baseline' | 'app', Round[]> = { baseline: [], app: [] };
  for (let r = 1; r <= rounds; r++) {
    for (const t of targets.filter((x): x is Target & { key: 'baseline' | 'app' } => x.key !== 'main')) {
      single[t.key].push(await measure(t, 1, singleSeconds, `round ${r} ${t.label}, 1 connection`));
    }
  }
  const summary = (key: Target['key']) => summarizeRounds(runs[key]);
  const s = { baseline: summary('baseline'), app: summary('app'), main: summary('main') };
  const ratioApp = s.app.rps / s.baseline.rps;
  const pgUs = (key: Target['key']) => fmt(median(pgPerReq[key]) * 1000, 0);
  const ratioMain = s.main.rps / s.baseline.rps;
  const single1 = { baseline: summarizeRounds(single.baseline), app: summarizeRounds(single.app) };
  const ratioSingle = single1.app.rps / single1.baseline.rps;
  return {
    setup: [
      `autocannon, ${CONNECTIONS} connections, ${seconds} s per run, ${rounds} alternating round(s), medians reported; 2 s unrecorded warm-up per target.`,
      'App password: daemon profile `cold` (MAILPASSD_AUTH_MEMO_TTL_SECONDS=0), so nothing is remembered: every request computes the HMAC and has its row read (mailbox, domain and app password in one statement); none runs argon2.',
      'Main password: profile `warm-warn` (memo on, as in the `warm` benchmark).',
      'Both daemons as shipped read login rows in batches under load (src/auth/auth-rows.ts: at most two reads at the database, the lookups that queue meanwhile go in one statement); the baseline sends one statement per request. The same pair is also measured over one connection, where nothing can be batched.',
    ],
    tables: [
      {
        columns: THROUGHPUT_COLUMNS,
        rows: targets.map((t) => throughputRow(t.label, s[t.key], runs[t.key])),
      },
    ],
    verdicts: [
      { what: 'app-password logins (memo off) / baseline req/s', value: ratioApp, shown: fmt(ratioApp, 2), floor: `≥ ${FLOOR}`, pass: ratioApp >= FLOOR },
      { what: 'main-password logins (memo on) / baseline req/s — compare with `warm` (warn)', value: ratioMain, shown: fmt(ratioMain, 2), floor: '≥ 0.7', pass: ratioMain >= 0.7 },
      { what: 'app-password logins (memo off) / baseline req/s, one connection (nothing to batch) — reported', value: ratioSingle, shown: fmt(ratioSingle, 2), floor: 'reported', pass: true },
    ],
    notes: [
      `Server-process CPU per request (median): baseline ${fmt(s.baseline.cpuPerReq * 1000, 0)} µs, app password ${fmt(s.app.cpuPerReq * 1000, 0)} µs (baseline/app = ${fmt(s.baseline.cpuPerReq / s.app.cpuPerReq, 2)}), main password ${fmt(s.main.cpuPerReq * 1000, 0)} µs (${fmt(s.baseline.cpuPerReq / s.main.cpuPerReq, 2)}).`,
      `Logins per statement during the app-password runs (the daemon's mailpassd_auth_lookup_batch_size histogram): ${fmt(perStatement, 1)}. One connection: baseline ${fmt(single1.baseline.rps)} req/s, app password ${fmt(single1.app.rps)} req/s (medians of ${rounds}, ${singleSeconds} s each).`,
      `PostgreSQL CPU per request (median; the cluster's processes during each target's run): baseline ${pgUs('baseline')} µs, app password ${pgUs('app')} µs, main password ${pgUs('main')} µs. An app-password login reads three indexes (the mailbox, its domain — a disabled domain refuses its mailboxes —, and the app password by (mailbox, HMAC)), a main password's two; the baseline's SELECT reads one. The answer also carries what Dovecot's prefetch userdb needs (home, uid, gid, mail, the app password's id: ~250 bytes) where the baseline answers \`{"result":"ok"}\`, which the client and the kernel pay for too. Client (autocannon), servers and PostgreSQL share the 2 cores, so each request's total CPU sets the throughput ratio.`,
    ],
    figures: { ...s, ratioApp, ratioMain, ratioSingle, single: single1, perStatement, pgPerReq },
  };
}

/** The daemon's login-lookup batch histogram: statements (count) and the logins they read (sum). */
async function lookupBatches(adminUrl: string): Promise<{ count: number; sum: number }> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { count: value('mailpassd_auth_lookup_batch_size_count'), sum: value('mailpassd_auth_lookup_batch_size_sum') };
}
