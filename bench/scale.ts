// Benchmark — does mailpassd stay flat as the mailbox table grows?
//
// For each size (10k and 100k mailboxes over 1,000 domains; 1M only with
// `--scale-max 1000000` or MAILPASSD_BENCH_SCALE_MAX=1000000, because generating
// and measuring it takes long on this machine): a fresh database, filled by ONE
// statement — `INSERT … SELECT … FROM generate_series` with one argon2id hash
// (shipped parameters) computed once in this process for every row, and one
// password_history row per mailbox the same way — then ANALYZE. On it:
//
//  verify     a memo-on (warm) and a memo-off (cold) daemon, measured like
//             bench/warm.ts and bench/cold.ts (autocannon, latency as the client
//             sees it), but over 100 users spread across the table, not one, so
//             the index lookups touch the whole table's pages
//  rotation   POST /v1/mailboxes/<addr>/rotate (wait_ms 5000, both daemons are
//             nodes) of distinct mailboxes, as in bench/rotation.ts
//  list       `mailpassd mailbox list --domain <one domain> --json`, wall time of
//             the CLI (start-up included; `mailbox show` of one mailbox is the
//             start-up baseline next to it)
//  console    the web console's mailbox table (first page, 50 rows) of one
//             domain, server-rendered, as a signed-in global admin (GETs with
//             the session cookie, as bench/console.ts)
//  memory     each daemon's RSS after its load
//  size       pg_total_relation_size of mailboxes (+ indexes, TOAST) and of
//             password_history, per mailbox
import pg from 'pg';
import { availableParallelism } from 'node:os';
import { MAIN } from '../harness/paths.js';
import { cleanEnv, run as runCommand } from '../harness/process.js';
import { hashPassword } from '../src/auth/hash.js';
import type { BenchContext } from './lib/context.js';
import { createToken, startBenchDaemon, strongPassword, type BenchDaemon } from './lib/daemon.js';
import { cpuMsOf } from './lib/procs.js';
import { postJson, timedGets, verify } from './lib/http.js';
import { grantAdmin, signInHttp } from '../harness/console.js';
import { hammer, type Hammered, type Round } from './lib/load.js';
import type { BenchResult, Verdict } from './lib/report.js';
import { fmt, median, ms, percentile } from './lib/stats.js';

export const name = 'scale';
export const title = 'Scale: verify, rotation, listing, memory and size at 10k / 100k (/ 1M) mailboxes over 1,000 domains';
const DOMAINS = 1000;
const USERS = 100;
const FLAT = 0.1;

const domainOf = (i: number) => `d${i % DOMAINS}.scale.example`;
const addressOf = (i: number) => `user${i}@${domainOf(i)}`;

/** The sizes to run: --quick runs the smallest only; the largest is capped by --scale-max. */
export function sizes(ctx: BenchContext): number[] {
  if (ctx.quick) return [10_000];
  return [10_000, 100_000, 1_000_000].filter((n) => n <= ctx.scaleMax);
}

async function generate(url: string, n: number, hash: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const t0 = performance.now();
    await c.query(`INSERT INTO domains (name) SELECT 'd' || i || '.scale.example' FROM generate_series(0, ${DOMAINS - 1}) i`);
    await c.query(
      `INSERT INTO mailboxes (address, domain, display_name, password_hash)
       SELECT 'user' || i || '@d' || (i % ${DOMAINS}) || '.scale.example', 'd' || (i % ${DOMAINS}) || '.scale.example', 'User ' || i, $1
       FROM generate_series(0, $2::int - 1) i`,
      [hash, n],
    );
    await c.query('INSERT INTO password_history (mailbox_id, password_hash) SELECT id, password_hash FROM mailboxes');
    await c.query('ANALYZE');
    return (performance.now() - t0) / 1000;
  } finally {
    await c.end();
  }
}

async function tableBytes(url: string, n: number): Promise<{ mailboxes: number; history: number; database: number }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ m: string; h: string; d: string }>(
      "SELECT pg_total_relation_size('mailboxes') AS m, pg_total_relation_size('password_history') AS h, pg_database_size(current_database()) AS d",
    );
    const row = r.rows[0]!;
    return { mailboxes: Number(row.m) / n, history: Number(row.h) / n, database: Number(row.d) / n };
  } finally {
    await c.end();
  }
}

interface SizeResult {
  n: number;
  generateS: number;
  warm: Round;
  cold: Round;
  rotationMs: number[];
  listMs: number;
  showMs: number;
  listed: number;
  warmRss: number;
  coldRss: number;
  bytes: { mailboxes: number; history: number; database: number };
  consolePage: { p50: number; p99: number };
}

async function measureSize(ctx: BenchContext, n: number, hash: string, password: string): Promise<SizeResult> {
  const pgc = await ctx.postgres();
  const url = await pgc.createDatabase(`bench_scale_${n}_${Date.now()}`);
  const env = cleanEnv({ MAILPASSD_DATABASE_URL: url });
  const migrated = await runCommand(process.execPath, [MAIN, 'migrate'], 60_000, env);
  if (migrated.code !== 0) throw new Error(`migrate failed: ${migrated.stderr}`);
  const generateS = await generate(url, n, hash);
  console.log(`  ${fmt(n)} mailboxes generated in ${fmt(generateS, 1)} s`);

  const daemons: BenchDaemon[] = [];
  try {
    const warmD = await startBenchDaemon({ databaseUrl: url, nodeId: `scale-warm-${n}` });
    daemons.push(warmD);
    const coldD = await startBenchDaemon({ databaseUrl: url, nodeId: `scale-cold-${n}`, env: { MAILPASSD_AUTH_MEMO_TTL_SECONDS: '0' } });
    daemons.push(coldD);

    // Users spread over the whole table (and all its index pages), the same indexes at every size.
    const users = Array.from({ length: USERS }, (_, k) => addressOf(Math.floor((k * n) / USERS) + (k % 7)));
    const bodies = users.map((user) => JSON.stringify({ user, password, service: 'imap', remote_ip: '192.0.2.10' }));
    // The warm daemon's memo learns each user once (one argon2 each); the preflight also proves every answer is ok.
    for (const user of users) {
      const answer = await verify(warmD.authUrl, user, password);
      if (answer !== 'ok') throw new Error(`preflight ${user} answered ${answer}`);
    }
    const seconds = ctx.seconds(5);
    const rounds = ctx.quick ? 1 : 3;
    const warmUrl = `${warmD.authUrl}/v1/passdb/verify`;
    await hammer({ url: warmUrl, bodies, connections: 50, seconds: Math.min(2, seconds) }); // warm-up, not recorded
    // Daemon CPU per request: what other load on the machine hardly changes (bench/warm.ts does the same).
    const timed = async (d: BenchDaemon, url: string, connections: number) => {
      const cpu0 = cpuMsOf(d.pid);
      const h = await hammer({ url, bodies, connections, seconds });
      return { ...h, cpuPerReq: (cpuMsOf(d.pid) - cpu0) / Math.max(1, h.total) };
    };
    const warmRuns: Round[] = [];
    for (let r = 0; r < rounds; r++) {
      await ctx.settle();
      warmRuns.push(await timed(warmD, warmUrl, 50));
    }
    const warm = pick(warmRuns);
    console.log(`  warm: ${fmt(warm.rps)} req/s p50 ${warm.p50} ms p99 ${warm.p99} ms (errors ${warm.errors + warm.non2xx})`);
    await ctx.settle();
    const cold = await timed(coldD, `${coldD.authUrl}/v1/passdb/verify`, availableParallelism() * 4);
    console.log(`  cold: ${fmt(cold.rps, 1)} req/s p50 ${cold.p50} ms p99 ${cold.p99} ms (errors ${cold.errors + cold.non2xx})`);
    const warmRss = warmD.memory().rssMiB;
    const coldRss = coldD.memory().rssMiB;

    const token = await createToken(warmD, 'bench-scale');
    const rotationMs: number[] = [];
    const rotations = ctx.quick ? 2 : 6;
    for (let k = 0; k <= rotations; k++) {
      await ctx.settle();
      const address = addressOf(Math.floor(((k + 0.5) * n) / (rotations + 1)));
      const t0 = performance.now();
      const answer = await postJson(`${warmD.adminUrl}/v1/mailboxes/${encodeURIComponent(address)}/rotate`, { password: strongPassword(), wait_ms: 5000 }, { authorization: `Bearer ${token}` });
      const took = performance.now() - t0;
      if (answer.status !== 200) throw new Error(`rotate ${address}: ${answer.status} ${answer.text}`);
      if (k > 0) rotationMs.push(took); // the first is a warm-up
    }
    console.log(`  rotation: median ${fmt(median(rotationMs))} ms over ${rotationMs.length}`);

    const cliMs = async (args: string[]): Promise<{ ms: number; out: string }> => {
      const t0 = performance.now();
      const r = await runCommand(process.execPath, [MAIN, ...args], 120_000, env);
      if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
      return { ms: performance.now() - t0, out: r.stdout };
    };
    const lists: number[] = [];
    const shows: number[] = [];
    let listed = 0;
    for (let k = 0; k < 3; k++) {
      await ctx.settle();
      const l = await cliMs(['mailbox', 'list', '--domain', domainOf(7), '--json']);
      lists.push(l.ms);
      listed = (JSON.parse(l.out) as unknown[]).length;
      shows.push((await cliMs(['mailbox', 'show', addressOf(7), '--json'])).ms);
    }
    console.log(`  mailbox list --domain: ${fmt(median(lists))} ms for ${listed} mailboxes (mailbox show: ${fmt(median(shows))} ms)`);

    // Every mailbox shares the one password: the admin signs in with it.
    const admin = addressOf(3);
    await grantAdmin(warmD, admin, { global: true });
    await ctx.settle();
    const page = await timedGets(`${warmD.adminUrl}/domains/${encodeURIComponent(domainOf(7))}`, await signInHttp(warmD.adminUrl, admin, password), ctx.quick ? 10 : 40, (b) => b > 1000);
    const consolePage = { p50: median(page.times), p99: percentile(page.times, 99) };
    console.log(`  console table page: p50 ${ms(consolePage.p50)} p99 ${ms(consolePage.p99)}`);
    return { n, generateS, warm, cold, rotationMs, listMs: median(lists), showMs: median(shows), listed, consolePage, warmRss, coldRss, bytes: await tableBytes(url, n) };
  } finally {
    for (const d of daemons.reverse()) await d.stop();
  }
}

/** The round with the median throughput (its latencies belong together). */
function pick<T extends Hammered>(runs: T[]): T {
  const m = median(runs.map((r) => r.rps));
  return runs.reduce((best, r) => (Math.abs(r.rps - m) < Math.abs(best.rps - m) ? r : best));
}

const within = (base: number, x: number) => Math.abs(x - base) / base;

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const password = strongPassword();
  const hash = await hashPassword(password, { memory_cost: 19456, time_cost: 2, parallelism: 1 } as Parameters<typeof hashPassword>[1]);
  const results: SizeResult[] = [];
  for (const n of sizes(ctx)) {
    console.log(`  -- ${fmt(n)} mailboxes`);
    results.push(await measureSize(ctx, n, hash, password));
  }
  const first = results[0]!;
  const last = results[results.length - 1]!;
  const verdicts: Verdict[] = [];
  if (results.length > 1) {
    const span = `${fmt(first.n)} → ${fmt(last.n)}`;
    const warmP50 = within(first.warm.p50, last.warm.p50);
    const warmRps = within(first.warm.rps, last.warm.rps);
    const rot = within(median(first.rotationMs), median(last.rotationMs));
    const warmCpu = within(first.warm.cpuPerReq, last.warm.cpuPerReq);
    const rss = within(first.warmRss, last.warmRss);
    verdicts.push(
      { what: `warm verify p50, change ${span}`, value: warmP50, shown: `${fmt(warmP50 * 100, 0)} %`, floor: `≤ ${FLAT * 100} %`, pass: warmP50 <= FLAT },
      { what: `warm verify req/s, change ${span}`, value: warmRps, shown: `${fmt(warmRps * 100, 0)} %`, floor: `≤ ${FLAT * 100} %`, pass: warmRps <= FLAT },
      { what: `warm verify daemon CPU per request, change ${span} (less load-sensitive)`, value: warmCpu, shown: `${fmt(warmCpu * 100, 0)} %`, floor: `≤ ${FLAT * 100} %`, pass: warmCpu <= FLAT },
      { what: `rotation median, change ${span}`, value: rot, shown: `${fmt(rot * 100, 0)} %`, floor: `≤ ${FLAT * 100} %`, pass: rot <= FLAT },
      { what: `warm daemon RSS after its load, change ${span} (bounded by the memo and throttle caps, not the table)`, value: rss, shown: `${fmt(rss * 100, 0)} %`, floor: `≤ ${FLAT * 100} %`, pass: rss <= FLAT },
    );
  }
  return {
    setup: [
      `Sizes: ${results.map((r) => fmt(r.n)).join(', ')} mailboxes over ${DOMAINS} domains (1,000,000 only with \`--scale-max 1000000\` or MAILPASSD_BENCH_SCALE_MAX=1000000: its generation and measurements take long here). Each size a fresh database, filled by one \`INSERT … SELECT … FROM generate_series\` with one argon2id hash (19456/2/1) computed once for all rows, one password_history row per mailbox, then ANALYZE.`,
      `Verify: ${USERS} users spread across the table, round-robin, the right password; warm = memo on (each user verified once before), 50 connections, ${ctx.quick ? 1 : 3} round(s) of ${ctx.seconds(5)} s, the median round; cold = memo off (argon2 every time), ${availableParallelism() * 4} connections, one round. Latency as autocannon sees it.`,
      'Rotation: admin API rotate of distinct mailboxes across the table, wait_ms 5000 (both daemons are nodes, so it includes the fan-out), median after one unrecorded rotation.',
      '`mailbox list --domain`: the built CLI, wall time with its start-up (median of 3); `mailbox show` of one mailbox beside it is the start-up baseline.',
      `Console table page: the web console's first page (50 rows) of one domain's mailbox table, server-rendered, as a signed-in global admin: ${ctx.quick ? 10 : 40} sequential GETs with the session cookie on one keep-alive connection after 10 unrecorded, request → last byte.`,
    ],
    tables: [
      {
        columns: ['mailboxes', 'generate', 'warm req/s', 'warm p50 / p99', 'warm daemon CPU per request', 'cold req/s', 'cold p50 / p99', 'cold daemon CPU per request', 'rotation median (max)', 'list --domain (rows)', 'show (baseline)', 'console table page p50 / p99', 'RSS warm / cold daemon', 'bytes per mailbox: mailboxes / history / database'],
        rows: results.map((r) => [
          fmt(r.n),
          `${fmt(r.generateS, 1)} s`,
          fmt(r.warm.rps),
          `${ms(r.warm.p50)} / ${ms(r.warm.p99)}`,
          `${fmt(r.warm.cpuPerReq * 1000, 0)} µs`,
          fmt(r.cold.rps, 1),
          `${ms(r.cold.p50)} / ${ms(r.cold.p99)}`,
          ms(r.cold.cpuPerReq),
          `${ms(median(r.rotationMs))} (${ms(Math.max(...r.rotationMs))})`,
          `${ms(r.listMs)} (${r.listed})`,
          ms(r.showMs),
          `${ms(r.consolePage.p50)} / ${ms(r.consolePage.p99)}`,
          `${fmt(r.warmRss)} / ${fmt(r.coldRss)} MiB`,
          `${fmt(r.bytes.mailboxes, 0)} / ${fmt(r.bytes.history, 0)} / ${fmt(r.bytes.database, 0)}`,
        ]),
      },
    ],
    verdicts,
    notes: [
      'Cold verify is argon2-bound (the same ~20-50 ms of CPU whatever the table size); warm verify is where the table size could show (HTTP + the indexed SELECT + memo).',
    ],
    figures: results,
  };
}
