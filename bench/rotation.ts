// Benchmark 5 — rotation-to-effect latency across three nodes.
//
// Three daemons (distinct node ids) on one database, as on three mail nodes;
// every rotation goes through daemon 1's admin API with wait_ms 5000 and is
// timed from the call until the old password is refused and the new one
// accepted on all three nodes. Each set-up has its own database:
//
//  listeners  no Dovecot (doveadm = none): probes ask each daemon's auth
//             listener directly — mailpassd's own share.
//  dovecot    each daemon with its own Dovecot 2.3 (shipped Lua snippet, auth
//             cache on as shipped), run twice: reached through the doveadm
//             HTTP API, and with MAILPASSD_DOVEADM=local -c <that Dovecot>;
//             the daemon flushes its Dovecot's cache and kicks there.
//             Probes are IMAP logins on each Dovecot, and an IMAP session held
//             open on each node before the call must have been closed (kicked).
//             A fourth Dovecot on daemon 1's listener that nobody flushes is
//             the control: after each rotation it must still accept the old
//             password from its cache — the stale login the flush prevents.
//
// Why the probes start when the call answers, not during it: every probe is a
// full argon2 verify (~25-100 ms of CPU here), so probing continuously is a
// saturating argon2 stream per node on a 2-core machine that would slow the
// rotation it measures (which hashes the new password and verifies it against
// the history). Probing from the answer gives an upper bound of the time to
// effect: the effect exists no later than the first probe round that sees it.
import { spawnSync } from 'node:child_process';
import type { DovecotInstance } from '../harness/dovecot.js';
import { loginProbe, openSession, type ImapSession } from '../harness/imap.js';
import { freePort, sleep } from '../harness/process.js';
import type { BenchContext } from './lib/context.js';
import { NO_THROTTLE, addMailbox, createToken, startBenchDaemon, strongPassword, type BenchDaemon } from './lib/daemon.js';
import { dovecotDir, dovecotMissing, dovecotVersion, mailRoot, nextSource, startBenchDovecot } from './lib/dovecot.js';
import { postJson, verify } from './lib/http.js';
import type { BenchResult, Verdict } from './lib/report.js';
import { fmt, median, ms, percentile } from './lib/stats.js';

export const name = 'rotation';
export const title = 'Rotation-to-effect latency, 3 nodes on one database: auth listeners, and through Dovecot 2.3 (flush + kick)';
const FLOOR_MS = 1000;
/** Issue 15's goal for the effect through Dovecot on three nodes (the floor above is DESIGN's promise). */
const GOAL_MS = 300;
const POLL_MS = 10;
const GIVE_UP_MS = 10_000;
const DOVECOT_AUTH_CACHE_TTL_S = 3600; // Dovecot's default `auth_cache_ttl = 1 hour`
const SHIPPED_AUTH_CACHE_TTL_S = 300; // config/dovecot/*/mailpassd.conf: `auth_cache_ttl = 5 mins`
const USER = 'rotate.me@example.org';
// A set-up's first rotation runs argon2 on fresh libuv threads (~4× slower until
// each thread's memory is mapped) and makes 2.3 start its doveadm server.
const WARMUP_ROTATIONS = 1;

/** Polls until `probe()` says the change is in force; ms since t0, or Infinity after GIVE_UP_MS. */
async function until(probe: () => Promise<boolean>, t0: number): Promise<number> {
  for (;;) {
    if (await probe()) return performance.now() - t0;
    if (performance.now() - t0 > GIVE_UP_MS) return Infinity;
    await sleep(POLL_MS);
  }
}

/** One probe round on an auth listener: the new password verifies, then the old one is refused. */
async function listenerRound(authUrl: string, old: string, fresh: string): Promise<boolean> {
  const now = await verify(authUrl, USER, fresh);
  if (now === 'ok') return (await verify(authUrl, USER, old)) === 'password_mismatch';
  if (now !== 'password_mismatch') throw new Error(`rotation poll: ${authUrl} answered ${now}`);
  return false;
}

/** One probe round through a Dovecot: two IMAP logins at once, the old password refused and the new accepted. */
async function imapRound(port: number, old: string, fresh: string): Promise<boolean> {
  const [o, n] = await Promise.all([
    loginProbe(port, USER, old, { localAddress: nextSource(), timeoutMs: 15_000 }),
    loginProbe(port, USER, fresh, { localAddress: nextSource(), timeoutMs: 15_000 }),
  ]);
  for (const r of [o, n]) if (r.result.startsWith('error') || r.result === 'tempfail') throw new Error(`IMAP probe on port ${port}: ${r.result}`);
  return o.result === 'no' && n.result === 'ok';
}

/**
 * `n` rotations of USER through the first daemon's admin API; `hooks.before(current)` runs before each
 * call (untimed), `hooks.effect(old, fresh, t0)` returns the time to effect on
 * all nodes, `hooks.after(old, fresh)` runs after it (untimed). The first
 * WARMUP_ROTATIONS are run in full but not recorded.
 */
type Counts = Record<string, number>;
interface Hooks {
  before?(current: string): Promise<Counts>;
  effect(old: string, fresh: string, t0: number): Promise<number>;
  after?(old: string, fresh: string): Promise<Counts>;
}
interface Rotations {
  effect: number[];
  callDone: number[];
  incomplete: number;
  seen: Counts;
  gaveUp: number;
}

async function rotateMany({ n, daemons, token, initial, hooks }: { n: number; daemons: BenchDaemon[]; token: string; initial: string; hooks: Hooks }): Promise<Rotations> {
  const api = daemons[0]!.adminUrl;
  const nodes = daemons.length;
  let warmups = WARMUP_ROTATIONS;
  /** Sums of what the hooks counted (objects of numbers), recorded rotations only. */
  const seen: Counts = {};
  const effect: number[] = [];
  const callDone: number[] = [];
  let incomplete = 0;
  let rejected = 0;
  let current = initial;
  while (effect.length < n) {
    const fresh = strongPassword();
    const pre = (await hooks.before?.(current)) ?? {};
    const t0 = performance.now();
    const answer = await postJson(`${api}/v1/mailboxes/${encodeURIComponent(USER)}/rotate`, { password: fresh, wait_ms: 5000 }, { authorization: `Bearer ${token}` });
    const at = performance.now() - t0;
    if (answer.status === 422) {
      // A policy refusal of a random password would be a bench artefact, not a latency: try another.
      if (++rejected > 10) throw new Error(`rotation refused repeatedly: ${answer.text}`);
      continue;
    }
    if (answer.status !== 200) throw new Error(`rotation call failed: HTTP ${answer.status}: ${answer.text}`);
    const took = await hooks.effect(current, fresh, t0);
    const complete = answer.body.complete && answer.body.nodes.filter((x: { applied: boolean }) => x.applied).length >= nodes;
    const post = (await hooks.after?.(current, fresh)) ?? {};
    if (warmups > 0) warmups--;
    else {
      for (const [k, v] of Object.entries({ ...pre, ...post })) seen[k] = (seen[k] ?? 0) + v;
      effect.push(took);
      callDone.push(at);
      if (!complete) incomplete++;
    }
    current = fresh;
    await sleep(100); // let the nodes' cursors and heartbeats settle between rotations
  }
  return { effect, callDone, incomplete, seen, gaveUp: effect.filter((x) => !Number.isFinite(x)).length };
}

async function startNodes(databaseUrl: string, prefix: string, envFor: (i: number) => Record<string, string>, count = 3): Promise<BenchDaemon[]> {
  const daemons: BenchDaemon[] = [];
  for (let i = 1; i <= count; i++) daemons.push(await startBenchDaemon({ databaseUrl, nodeId: `${prefix}-${i}`, logLevel: 'warn', env: { ...NO_THROTTLE, ...envFor(i) } }));
  return daemons;
}

async function listenerPhase(ctx: BenchContext, n: number, nodes = 3): Promise<Rotations> {
  const pg = await ctx.postgres();
  const daemons = await startNodes(await pg.createDatabase(`bench_rotation_${nodes}`), `rot${nodes}`, () => ({}), nodes);
  try {
    const initial = strongPassword();
    await addMailbox(daemons[0]!, USER, initial);
    const token = await createToken(daemons[0]!, 'bench');
    for (const d of daemons) if ((await verify(d.authUrl, USER, initial)) !== 'ok') throw new Error(`rotation preflight failed on ${d.nodeId}`);
    const run = await rotateMany({
      n,
      daemons,
      token,
      initial,
      hooks: {
        effect: async (old, fresh, t0) => Math.max(...(await Promise.all(daemons.map((d) => until(() => listenerRound(d.authUrl, old, fresh), t0))))),
      },
    });
    console.log(`  ${nodes} listeners: effect p50 ${ms(median(run.effect))} p99 ${ms(percentile(run.effect, 99))}; API answered p50 ${ms(median(run.callDone))}; incomplete ${run.incomplete}`);
    return run;
  } finally {
    for (const d of daemons) await d.stop();
  }
}

/**
 * How each node reaches its Dovecot, as the README's table says for 2.3:
 * 'http' — the doveadm HTTP API (the form that works for an unprivileged daemon);
 * 'local' — `doveadm -c <config>` run by the daemon (root here; unprivileged it cannot kick on 2.3).
 */
type Mode = keyof typeof MODES;
/** What the hooks counted over the recorded rotations. */
interface DovecotCounts {
  cacheHits: number;
  sessionsOpened: number;
  laterRounds: number;
  firstRoundAll: number;
  kicked: number;
  staleAccepted: number;
  newRefused: number;
}
type DovecotRun = Rotations & DovecotCounts;

async function dovecotPhase(ctx: BenchContext, n: number, mode: Mode): Promise<DovecotRun> {
  const pg = await ctx.postgres();
  const dbUrl = await pg.createDatabase(`bench_rotation_${mode}`);
  const home = mailRoot();
  const apiKey = strongPassword(32);
  // What the daemon needs to reach its Dovecot is fixed before the daemon starts.
  const reserved: { dir: string; configPath: string; doveadmPort: number }[] = [];
  for (const i of [1, 2, 3]) reserved.push({ ...dovecotDir(`${mode}${i}`), doveadmPort: await freePort() });
  const doveadmEnv = (r: { configPath: string; doveadmPort: number }): Record<string, string> =>
    mode === 'http'
      ? { MAILPASSD_DOVEADM: `http://127.0.0.1:${r.doveadmPort}/doveadm/v1`, MAILPASSD_DOVEADM_API_KEY: apiKey }
      : { MAILPASSD_DOVEADM: 'local', MAILPASSD_DOVEADM_CONFIG: r.configPath };
  const daemons = await startNodes(dbUrl, `rot${mode}`, (i) => ({
    MAILPASSD_USERDB_HOME: `${home}/%d/%n`,
    MAILPASSD_USERDB_UID: '5000',
    MAILPASSD_USERDB_GID: '5000',
    ...doveadmEnv(reserved[i - 1]!),
  }));
  const instances: DovecotInstance[] = [];
  try {
    const initial = strongPassword();
    await addMailbox(daemons[0]!, USER, initial);
    const token = await createToken(daemons[0]!, 'bench');
    for (let i = 0; i < 3; i++) {
      const doveadmHttp = mode === 'http' ? { port: reserved[i]!.doveadmPort, apiKey } : null;
      instances.push(await startBenchDovecot({ kind: 'mailpassd', label: `${mode}${i + 1}`, authUrl: daemons[i]!.authUrl, home, reserved: reserved[i]!, refuseAtOnce: true, doveadmHttp }));
    }
    const control = await startBenchDovecot({ kind: 'mailpassd', label: `${mode}-unflushed`, authUrl: daemons[0]!.authUrl, home, refuseAtOnce: true });
    instances.push(control);
    const nodes = instances.slice(0, 3);
    for (const dc of instances) {
      const ok = await loginProbe(dc.imapPort, USER, initial, { localAddress: nextSource(), timeoutMs: 15_000 });
      const no = await loginProbe(dc.imapPort, USER, `${initial}-wrong`, { localAddress: nextSource(), timeoutMs: 15_000 });
      if (ok.result !== 'ok' || no.result !== 'no') throw new Error(`preflight through Dovecot ${dc.label}: right → ${ok.result}, wrong → ${no.result}\n${dc.log().slice(-2000)}`);
    }

    let sessions: ImapSession[] = [];
    let rounds = 0;
    const run = await rotateMany({
      n,
      daemons,
      token,
      initial,
      hooks: {
        async before(current: string) {
          // The control's cache still holds the previous password (that is its point): empty it, untimed.
          const flushed = spawnSync('doveadm', ['-c', control.configPath, 'auth', 'cache', 'flush', USER], { encoding: 'utf8' });
          if (flushed.status !== 0 || /error/i.test(flushed.stderr)) throw new Error(`control flush: ${flushed.stderr}`);
          // The current password into every cache (a cache hit answers in a few ms), and a session per node to be kicked.
          let cacheHits = 0;
          rounds = 0;
          for (const dc of instances) {
            const r = await loginProbe(dc.imapPort, USER, current, { localAddress: nextSource(), timeoutMs: 15_000 });
            if (r.result !== 'ok') throw new Error(`pre-login through ${dc.label} answered ${r.result}`);
            if (dc !== control && r.ms < 50) cacheHits++;
          }
          sessions = await Promise.all(nodes.map((dc) => openSession(dc.imapPort, USER, current, { localAddress: nextSource(), timeoutMs: 15_000 })));
          // Dovecot forks replacement imap processes after these logins; let that finish before the call.
          await sleep(300);
          return { cacheHits, sessionsOpened: sessions.length };
        },
        effect: async (old, fresh, t0) => Math.max(...(await Promise.all(nodes.map((dc) => until(() => (rounds++, imapRound(dc.imapPort, old, fresh)), t0))))),
        async after(old: string, fresh: string) {
          const laterRounds = rounds - nodes.length; // 0 when every node showed the effect in its first round
          const closedBy = performance.now();
          const closed = await Promise.all(sessions.map((s) => Promise.race([s.closedAt.then((at) => at <= closedBy), sleep(0).then(() => false)])));
          const kicked = closed.filter(Boolean).length;
          for (const s of sessions) s.close();
          // The control Dovecot was never flushed: its cache still has the old password.
          const [stale, neu] = await Promise.all([old, fresh].map((p) => loginProbe(control.imapPort, USER, p, { localAddress: nextSource(), timeoutMs: 15_000 })));
          if (!stale || !neu) throw new Error('control probe: no answer');
          return { laterRounds, firstRoundAll: laterRounds === 0 ? 1 : 0, kicked, staleAccepted: stale.result === 'ok' ? 1 : 0, newRefused: neu.result === 'no' ? 1 : 0 };
        },
      },
    });
    console.log(
      `  dovecot (${mode}): effect p50 ${ms(median(run.effect))} p99 ${ms(percentile(run.effect, 99))}; API answered p50 ${ms(median(run.callDone))}; first probe round saw it on all nodes ${run.seen.firstRoundAll}/${run.effect.length}; sessions kicked ${run.seen.kicked}/${run.seen.sessionsOpened}; un-flushed control accepted the old password ${run.seen.staleAccepted}/${run.effect.length}`,
    );
    return { ...run, ...(run.seen as unknown as DovecotCounts) };
  } finally {
    for (const dc of instances) await dc.stop();
    for (const d of daemons) await d.stop();
  }
}

const row = (label: string, xs: number[]): string[] => [label, ms(median(xs)), ms(percentile(xs, 99)), ms(Math.max(...xs)), String(xs.length)];

/** The doveadm forms measured, both held to the floor. */
const MODES = {
  http: 'doveadm HTTP API (README: the 2.3 form for an unprivileged daemon)',
  local: '`doveadm -c` run by the daemon through its spawner (README: the 2.4 form; run as root here, since unprivileged 2.3 cannot kick)',
};

function dovecotVerdicts(mode: Mode, dc: DovecotRun, n: number): Verdict[] {
  const p99 = percentile(dc.effect, 99);
  return [
    { what: `Dovecot, ${mode}: effect p99 (flush + kick included)`, value: p99, shown: ms(p99), floor: `< ${FLOOR_MS} ms`, pass: p99 < FLOOR_MS && dc.gaveUp === 0 },
    { what: `Dovecot, ${mode}: effect p99 — goal`, value: p99, shown: ms(p99), floor: `< ${GOAL_MS} ms`, pass: p99 < GOAL_MS && dc.gaveUp === 0 },
    { what: `Dovecot, ${mode}: in force when the API answered (first probe round on all 3 nodes saw it)`, value: dc.firstRoundAll, shown: `${dc.firstRoundAll} / ${dc.effect.length}`, floor: 'all', pass: dc.firstRoundAll === dc.effect.length },
    { what: `Dovecot, ${mode}: rotations answered complete (3 nodes applied)`, value: n - dc.incomplete, shown: `${n - dc.incomplete} / ${n}`, floor: 'all', pass: dc.incomplete === 0 },
    { what: `Dovecot, ${mode}: sessions open before the call closed by the effect`, value: dc.kicked, shown: `${dc.kicked} / ${dc.sessionsOpened}`, floor: 'all', pass: dc.kicked === dc.sessionsOpened },
    { what: `Dovecot, ${mode}: un-flushed control still accepted the old password`, value: dc.staleAccepted, shown: `${dc.staleAccepted} / ${dc.effect.length}`, floor: 'all (the probes see a cache)', pass: dc.staleAccepted === dc.effect.length },
  ];
}

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const n = ctx.quick ? 10 : 60;
  const listeners = await listenerPhase(ctx, n);
  const ten = await listenerPhase(ctx, ctx.quick ? 5 : 30, 10);
  const missing = dovecotMissing();
  const dovecot: Partial<Record<Mode, DovecotRun>> = {};
  if (!missing) for (const mode of Object.keys(MODES) as Mode[]) dovecot[mode] = await dovecotPhase(ctx, n, mode);
  const ttlMs = DOVECOT_AUTH_CACHE_TTL_S * 1000;
  const headline = dovecot.http ?? listeners;
  const p99 = percentile(headline.effect, 99);

  const rows = [row('listeners: call → effect on all 3 auth listeners', listeners.effect), row('listeners: call → API answered (all nodes applied)', listeners.callDone), row('10 listeners: call → effect on all 10', ten.effect), row('10 listeners: call → API answered (all 10 applied)', ten.callDone)];
  for (const [mode, dc] of Object.entries(dovecot) as [Mode, DovecotRun][]) {
    rows.push(row(`Dovecot, ${mode}: call → old refused and new accepted over IMAP on all 3 Dovecots`, dc.effect), row(`Dovecot, ${mode}: call → API answered (3 × flush + kick done)`, dc.callDone));
  }
  rows.push(["Dovecot default `auth_cache_ttl` (old password kept by an un-flushed cache)", '', ms(ttlMs), '', ''], ['shipped snippet `auth_cache_ttl`', '', ms(SHIPPED_AUTH_CACHE_TTL_S * 1000), '', '']);

  const verdicts = [
    { what: 'listeners: effect p99', value: percentile(listeners.effect, 99), shown: ms(percentile(listeners.effect, 99)), floor: `< ${FLOOR_MS} ms`, pass: percentile(listeners.effect, 99) < FLOOR_MS && listeners.gaveUp === 0 },
    { what: 'listeners: rotations answered complete (3 nodes applied)', value: n - listeners.incomplete, shown: `${n - listeners.incomplete} / ${n}`, floor: 'all', pass: listeners.incomplete === 0 },
    { what: '10 listeners: effect p99', value: percentile(ten.effect, 99), shown: ms(percentile(ten.effect, 99)), floor: `< ${FLOOR_MS} ms`, pass: percentile(ten.effect, 99) < FLOOR_MS && ten.gaveUp === 0 },
    { what: '10 listeners: rotations answered complete (10 nodes applied)', value: ten.effect.length - ten.incomplete, shown: `${ten.effect.length - ten.incomplete} / ${ten.effect.length}`, floor: 'all', pass: ten.incomplete === 0 },
    ...(Object.entries(dovecot) as [Mode, DovecotRun][]).flatMap(([mode, dc]) => dovecotVerdicts(mode, dc, n)),
  ];

  const setup = [
    `${n} rotations per set-up (after ${WARMUP_ROTATIONS} unrecorded warm-up rotation) of one mailbox through daemon 1's admin API (\`POST /v1/mailboxes/<addr>/rotate\`, \`wait_ms\` 5000, kick on), 100 ms apart; a new random 20-character password each time; the shipped argon2id parameters (19456/2/1) and policy (history 5, zxcvbn). Everything (3 daemons, their Dovecots, PostgreSQL, the client) shares this machine's 2 cores; on real nodes each flush and kick runs on its own machine.`,
    `listeners: 3 daemons, doveadm = none. When the call answers, each auth listener is polled every ${POLL_MS} ms: new password → "ok", then old → "password_mismatch". Effect = the slowest listener, timed from the call (an upper bound: see rotation.js).`,
    `10 listeners: the same with ten daemons on one database (auth listeners, doveadm none), ${ctx.quick ? 5 : 30} rotations: each daemon holds database.pool_size (10) connections at most, its LISTEN connection included — 100 for ten nodes (README: the connection budget).`,
  ];
  if (!missing) {
    const any = Object.values(dovecot)[0]!;
    setup.push(
      `Dovecot: ${dovecotVersion()}. Per set-up, 3 daemons on their own database, each with its own private Dovecot (shipped \`config/dovecot/2.3/mailpassd.conf\` + Lua script, auth cache as shipped: 10M, ttl 5 min), reached as ${Object.entries(MODES).map(([m, what]) => `${m} = ${what}`).join('; ')}. Before each call: a login with the current password on every Dovecot (cached: ${any.cacheHits} of ${3 * any.effect.length} answered in < 50 ms in the first set-up), an IMAP session left open on each node, then 300 ms for Dovecot to replace the imap processes those logins took.`,
      `When the call answers, each node's Dovecot is probed with rounds of two concurrent IMAP logins (connect → LOGIN), the old password and the new, ${POLL_MS} ms apart, until the old is refused and the new accepted. Effect = the slowest node, timed from the call. Each session opened before the call must be closed by then (kicked).`,
      "Probe Dovecots deliver a refusal when it is decided: Dovecot 2.3 otherwise holds every refused login in a queue flushed by a 500 ms timer (even with `auth_failure_delay = 0`; the default delay is 2 s), which would time Dovecot's tarpit rather than the change. A field-only `passdb { driver = static, args = noauthenticate nodelay=y }` before the shipped passdb does this; the password decision, the cache and the shipped passdb are unchanged. Bench only.",
      "Control: a fourth Dovecot on daemon 1's listener, configured the same, that no node flushes (the bench empties its cache before each call, untimed); after each rotation its cache must still accept the old password — so the probes do see a cache, and the flush is what refuses the old password on the three nodes.",
    );
  } else {
    setup.push(`Dovecot: not run here (${missing}); the verdict is the listeners' figure, without a Dovecot flush.`);
  }

  const headlineWhat = dovecot.http ? 'through-Dovecot (doveadm HTTP API)' : 'listener';
  return {
    setup,
    tables: [{ columns: ['measure', 'p50', 'p99', 'max', 'n'], rows }],
    verdicts,
    notes: [
      `For scale: Dovecot's default auth cache keeps a changed password valid for up to ${DOVECOT_AUTH_CACHE_TTL_S} s unless flushed — ${fmt(ttlMs / p99, 0)}× the ${headlineWhat} p99 here (with the shipped 5-minute TTL: ${fmt((SHIPPED_AUTH_CACHE_TTL_S * 1000) / p99, 0)}×).`,
      'p99 is the nearest-rank percentile: with 60 rotations it is the slowest one.',
      'Each rotation runs, on each of the 3 nodes, one doveadm HTTP request (flush and kick together) or two doveadm processes (flush, then kick; each doveadm execs doveconf to parse its config, then itself again) — all on the same 2 cores. The daemon runs doveadm from a spawner child: forking the daemon itself write-protected its memory and made the next argon2 verify on each thread 4-5× slower (see src/dovecot/spawner.ts).',
      ...Object.entries(dovecot).map(([mode, dc]) => `${mode}: the un-flushed control also refused the new password in ${dc.newRefused} of ${dc.effect.length} rotations — with this passdb (the Lua script verifies, Dovecot caches the verified password) a stale entry answers both ways until its TTL.`),
    ],
    figures: {
      listenersP50: median(listeners.effect),
      listenersP99: percentile(listeners.effect, 99),
      tenListenersP99: percentile(ten.effect, 99),
      ...Object.fromEntries(Object.entries(dovecot).flatMap(([mode, dc]) => [[`${mode}P50`, median(dc.effect)], [`${mode}P99`, percentile(dc.effect, 99)], [`${mode}CallP50`, median(dc.callDone)]])),
    },
  };
}
