// Benchmark — IMAP logins per second through Dovecot 2.3: mailpassd (shipped
// Lua passdb, auth cache as shipped) versus Dovecot's own `passdb sql`
// (dovecot-pgsql) on the same table and the same argon2id hashes, with
// `passdb static nopassword=y` as the ceiling (Dovecot's own cost per login:
// login process, auth round trip, imap process). First logins (each user once)
// and repeat logins (the same users again) are reported separately.
//
// Fairness (issue 15): ONE Dovecot runs at a time (started, measured, stopped,
// then the next), each in both of Dovecot's documented login process modes;
// passdb sql as Dovecot ships it (no auth cache) and with a cache; mailpassd
// from a freshly started daemon per measurement (its verification memo empty,
// so a "first" login really runs argon2); the mail homes exist before anything
// is measured; and an independent Python client (stdlib imaplib) repeats the
// default-mode measurements. Rotation through Dovecot is measured by rotation.ts.
import { randomInt } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import type { DovecotInstance, SqlConnection } from '../harness/dovecot.js';
import { loginProbe } from '../harness/imap.js';
import { libsodiumVerifyCost, mailpassdVerifyCost, nodeArgon2VerifyCost } from './lib/argon2-cost.js';
import type { BenchContext } from './lib/context.js';
import { createToken, startBenchDaemon, strongPassword, type BenchDaemon } from './lib/daemon.js';
import {
  AUTH_GROUPS,
  dovecotMissing,
  dovecotVersion,
  LOGIN_MODES,
  loginModeConfig,
  loginRun,
  mailRoot,
  masterPid,
  nextSource,
  pythonLoginRun,
  sampleCpu,
  startBenchDovecot,
  type BenchDovecotOptions,
  type CpuReading,
  type LoginMode,
  type LoginRun,
} from './lib/dovecot.js';
import { postJson } from './lib/http.js';
import { storedHash } from './lib/postgres.js';
import type { BenchResult, Verdict } from './lib/report.js';
import { fmt, median, ms, percentile } from './lib/stats.js';

export const name = 'dovecot';
export const title = 'IMAP logins/s through Dovecot 2.3: mailpassd vs passdb sql vs static ceiling, one Dovecot at a time, both login process modes';
const CONCURRENCY = 8;
const ROUNDS = 2;
/** First logins: mailpassd ÷ the faster passdb sql variant. */
const FIRST_GOAL = 0.9;
/** Repeat logins: mailpassd ÷ the static ceiling (Dovecot's own cost per login). */
const REPEAT_CEILING_GOAL = 0.85;
/** Repeat logins: mailpassd ÷ passdb sql — where the ceiling leaves room for it (see repeatSqlFloor). */
const REPEAT_SQL_GOAL = 3;

function shuffle<T>(xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

interface User {
  user: string;
  password: string;
}

async function createUsers(d: BenchDaemon, token: string, n: number): Promise<User[]> {
  const users: User[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const user = `dc${String(i).padStart(4, '0')}@bench-dovecot.example.org`;
      for (let attempt = 0; ; attempt++) {
        const password = strongPassword();
        const r = await postJson(`${d.adminUrl}/v1/mailboxes`, { address: user, password }, { authorization: `Bearer ${token}` });
        if (r.status === 201) {
          users.push({ user, password });
          break;
        }
        if (r.status !== 422 || attempt > 5) throw new Error(`create ${user}: HTTP ${r.status} ${r.text}`);
      }
    }
  };
  await Promise.all([worker(), worker()]);
  return users.sort((a, b) => a.user.localeCompare(b.user));
}

type Key = 'mailpassd' | 'sql' | 'sqlcache' | 'sqlworker' | 'static';
type Client = 'node' | 'python';
const KEYS: Key[] = ['static', 'sql', 'sqlcache', 'sqlworker', 'mailpassd'];
const SQL_KEYS: Key[] = ['sql', 'sqlcache', 'sqlworker'];
/** The independent client repeats these, in the default mode. */
const PYTHON_KEYS: Key[] = ['static', 'sql', 'mailpassd'];
const LABELS: Record<Key, string> = {
  mailpassd: 'mailpassd (shipped Lua passdb, cache as shipped: 10M, ttl 5 min)',
  sql: 'passdb sql (Dovecot default: no auth cache)',
  sqlcache: 'passdb sql + auth_cache_size 10M',
  sqlworker: 'passdb sql + auth_cache_size 10M + auth_cache_verify_password_with_worker',
  static: 'passdb static nopassword=y (ceiling)',
};
const MODE_LABEL: Record<LoginMode, string> = { 'high-security': 'high-security (default)', 'high-performance': 'high-performance' };

interface Measured {
  key: Key;
  mode: LoginMode;
  client: Client;
  first: LoginRun;
  repeat: LoginRun;
  /** CPU of Dovecot's auth processes (+ the mailpassd daemon) during the first pass. */
  firstCpu: CpuReading;
  repeatCpu: CpuReading;
  /** Other load on the machine just before each pass (ctx.settle). */
  firstLoad: number;
  repeatLoad: number;
}

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const missing = dovecotMissing();
  if (missing) throw new Error(`dovecot benchmark: ${missing}`);
  const nUsers = ctx.quick ? 40 : 120;

  const pg = await ctx.postgres();
  const dbUrl = await pg.createDatabase('bench_dovecot');
  const u = new URL(dbUrl);
  const pgConn: SqlConnection = { host: u.hostname, port: u.port, dbname: u.pathname.slice(1), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  if (/\s/.test(pgConn.password)) throw new Error('embedded PostgreSQL password has whitespace; cannot put it in a connect string');
  const home = mailRoot();
  const daemonEnv = {
    MAILPASSD_USERDB_HOME: `${home}/%d/%n`,
    MAILPASSD_USERDB_UID: '5000',
    MAILPASSD_USERDB_GID: '5000',
  };
  // Shipped throttle limits and memo: the logins are right passwords (one wrong per measurement, from its own source address).
  const startDaemon = () => startBenchDaemon({ databaseUrl: dbUrl, nodeId: 'bench-dovecot', logLevel: 'warn', env: daemonEnv });

  let live: { dc?: DovecotInstance; d?: BenchDaemon } = {};
  try {
    const creator = await startDaemon();
    live.d = creator;
    await creator.cliOk(['domain', 'add', 'bench-dovecot.example.org']);
    const token = await createToken(creator, 'bench-dovecot');
    const tUsers = performance.now();
    const users = await createUsers(creator, token, nUsers + 1);
    const warmUser = users.pop()!; // used only to warm each instance's processes, never measured
    console.log(`  ${users.length} mailboxes (+1 warm-up) created through the admin API in ${fmt((performance.now() - tUsers) / 1000, 1)} s`);
    await creator.stop();
    live = {};
    const sampleHash = await storedHash(dbUrl, users[0]!.user);
    if (!/\$m=19456,t=2,p=1\$/.test(sampleHash)) throw new Error(`stored hash not in m=,t=,p= order with the default parameters: ${sampleHash.slice(0, 40)}…`);

    // argon2 alone, both libraries, on the stored hashes (sequential; before any Dovecot runs).
    const pairs = await Promise.all(users.slice(0, ctx.quick ? 4 : 12).map(async (x) => ({ hash: (await storedHash(dbUrl, x.user)).replace(/^\{[A-Z0-9-]+\}/, ''), password: x.password })));
    await ctx.settle();
    const sodium = await libsodiumVerifyCost(pairs, 2);
    await ctx.settle();
    const nodeArgon2 = await nodeArgon2VerifyCost(pairs, 2);
    await ctx.settle();
    const ours = await mailpassdVerifyCost(pairs, 2);
    console.log(`  argon2id verify, one at a time, CPU: libsodium ${fmt(sodium.cpuMsPerVerify, 1)} ms, node argon2 package ${fmt(nodeArgon2.cpuMsPerVerify, 1)} ms, mailpassd verifyPassword ${fmt(ours.cpuMsPerVerify, 1)} ms`);

    // The mail homes (maildir) are made by the first login of each user; make them
    // all before measuring, so no variant pays for them (through static, untimed).
    {
      const dc = await startBenchDovecot({ kind: 'static', label: 'homes', home, mode: 'high-performance' });
      live.dc = dc;
      const r = await loginRun(dc.imapPort, [...users, warmUser], CONCURRENCY);
      if (r.failures) throw new Error(`creating mail homes: ${r.failureSamples.join('; ')}`);
      await dc.stop();
      live = {};
    }

    const optsOf = (key: Key, mode: LoginMode, authUrl?: string): BenchDovecotOptions => {
      if (key === 'mailpassd') return { kind: 'mailpassd', label: `mailpassd-${mode}`, authUrl: authUrl!, home, mode };
      if (key === 'static') return { kind: 'static', label: `static-${mode}`, home, mode };
      return {
        kind: 'sql',
        label: `${key}-${mode}`,
        pg: pgConn,
        home,
        mode,
        ...(key === 'sql' ? {} : { cache: '10M' }),
        // Dovecot's own advice for strong hashes: verify cached hashes in the auth workers, on all cores.
        ...(key === 'sqlworker' ? { settings: ['auth_cache_verify_password_with_worker = yes'] } : {}),
      };
    };

    /** Start one Dovecot (and for mailpassd a fresh daemon), warm it, measure first + repeat, stop both. */
    const measure = async (key: Key, mode: LoginMode, client: Client): Promise<Measured> => {
      const d = key === 'mailpassd' ? await startDaemon() : undefined;
      live.d = d;
      const dc = await startBenchDovecot(optsOf(key, mode, d?.authUrl));
      live.dc = dc;
      try {
        // Preflight + warm-up of login/auth/imap processes with a user outside the measured set.
        for (let i = 0; i < 3; i++) {
          const r = await loginProbe(dc.imapPort, warmUser.user, warmUser.password, { localAddress: nextSource(), timeoutMs: 15_000 });
          if (r.result !== 'ok') throw new Error(`preflight login through ${key} (${mode}) answered ${r.result}\n${dc.log().slice(-2000)}`);
        }
        if (key !== 'static') {
          const wrong = await loginProbe(dc.imapPort, users[0]!.user, 'definitely-wrong', { localAddress: nextSource(), timeoutMs: 15_000 });
          if (wrong.result !== 'no') throw new Error(`wrong password through ${key} answered ${wrong.result}`);
        }
        const master = masterPid(dc);
        const extra: Record<string, number> = d ? { mailpassd: d.pid } : {};
        const pass = async () => {
          // Other sessions' work shares these two cores: wait longer than usual for a quiet moment, and record what was left.
          const load = await ctx.settle(4000);
          const jobs = shuffle(users);
          const cpu = sampleCpu(master, AUTH_GROUPS, extra);
          // The Python client connects from 127.0.0.1 like the outside measurement did: with no failed login from an
          // address Dovecot's per-IP auth penalty never applies, so its figures must match the Node client's.
          const r = client === 'node' ? await loginRun(dc.imapPort, jobs, CONCURRENCY) : await pythonLoginRun(dc.imapPort, jobs, CONCURRENCY, { ownSources: false });
          return { r, cpu: cpu.stop(), load };
        };
        const first = await pass();
        const repeat = await pass();
        for (const [p, x] of [['first', first], ['repeat', repeat]] as const) {
          const r = x.r;
          const authMs = (x.cpu.ms.auth ?? 0) + (x.cpu.ms['auth worker'] ?? 0);
          console.log(
            `  ${mode.padEnd(16)} ${client.padEnd(6)} ${key.padEnd(9)} ${p.padEnd(6)} ${fmt(r.rate).padStart(6)} logins/s  p50 ${ms(median(r.latencies))}  p99 ${ms(percentile(r.latencies, 99))}  ` +
              `CPU/login: Dovecot ${fmt(x.cpu.dovecotMs / r.n, 1)} ms (auth ${fmt(authMs / r.n, 1)})${d ? `, mailpassd ${fmt((x.cpu.ms.mailpassd ?? 0) / r.n, 1)} ms` : ''}, client ${fmt(r.clientCpuMs / r.n, 1)} ms  other load ${fmt(x.load * 100, 0)} %  failures ${r.failures}${r.failures ? ` e.g. ${r.failureSamples.join('; ')}` : ''}`,
          );
        }
        return { key, mode, client, first: first.r, repeat: repeat.r, firstCpu: first.cpu, repeatCpu: repeat.cpu, firstLoad: first.load, repeatLoad: repeat.load };
      } finally {
        await dc.stop();
        if (d) await d.stop();
        live = {};
      }
    };

    // Other sessions' work on these cores only ever lowers a rate, so every Node
    // measurement is taken in ROUNDS separate rounds (a fresh Dovecot each) and the
    // best pass is reported; the per-round rates are shown next to it.
    const results: Measured[] = [];
    const idleRuns: Measured[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of LOGIN_MODES) for (const key of KEYS) results.push(await measure(key, mode, 'node'));
      // The independent client, in the default mode (the one the outside measurement used), in every round like the Node one.
      for (const key of PYTHON_KEYS) results.push(await measure(key, 'high-security', 'python'));
      // The earlier bench kept all its Dovecots running while it measured one: does an idle instance cost the measured one anything?
      const idle: DovecotInstance[] = [];
      try {
        for (const k of ['static', 'sqlcache', 'sqlworker'] as const) idle.push(await startBenchDovecot({ ...optsOf(k, 'high-performance'), label: `idle-${k}-${round}` }));
        idleRuns.push(await measure('sql', 'high-performance', 'node'));
      } finally {
        for (const x of idle) await x.stop();
      }
    }

    const all = (key: Key, mode: LoginMode, client: Client) => results.filter((x) => x.key === key && x.mode === mode && x.client === client);
    /** The best first pass and the best repeat pass (each with its own CPU and load readings) over the rounds. */
    const best = (xs: Measured[]): Measured => {
      const f = xs.reduce((a, b) => (b.first.rate > a.first.rate ? b : a));
      const r = xs.reduce((a, b) => (b.repeat.rate > a.repeat.rate ? b : a));
      return { key: f.key, mode: f.mode, client: f.client, first: f.first, firstCpu: f.firstCpu, firstLoad: f.firstLoad, repeat: r.repeat, repeatCpu: r.repeatCpu, repeatLoad: r.repeatLoad };
    };
    const get = (key: Key, mode: LoginMode, client: Client = 'node'): Measured => best(all(key, mode, client));
    const withIdle = best(idleRuns);
    const authCpu = (c: CpuReading) => (c.ms.auth ?? 0) + (c.ms['auth worker'] ?? 0);
    const failures = [...results, ...idleRuns].reduce((s, x) => s + x.first.failures + x.repeat.failures, 0);

    const rows: string[][] = [];
    for (const client of ['node', 'python'] as const) {
      for (const mode of LOGIN_MODES) {
        for (const key of KEYS) {
          if (!all(key, mode, client).length) continue;
          const m = get(key, mode, client);
          const ceil = get('static', mode, client);
          for (const p of ['first', 'repeat'] as const) {
            const r = m[p];
            const cpu = p === 'first' ? m.firstCpu : m.repeatCpu;
            rows.push([
              MODE_LABEL[mode],
              client === 'node' ? 'Node' : 'Python',
              LABELS[key],
              p,
              fmt(r.rate),
              all(key, mode, client).map((x) => fmt(x[p].rate)).join(' / '),
              ms(median(r.latencies)),
              ms(percentile(r.latencies, 99)),
              String(r.failures),
              fmt(r.rate / ceil[p].rate, 2),
              `${fmt((p === 'first' ? m.firstLoad : m.repeatLoad) * 100, 0)} %`,
              `${fmt(cpu.dovecotMs / r.n, 1)} ms (${fmt(authCpu(cpu) / r.n, 1)})`,
              key === 'mailpassd' ? `${fmt((cpu.ms.mailpassd ?? 0) / r.n, 1)} ms` : '',
              `${fmt(r.clientCpuMs / r.n, 1)} ms`,
            ]);
          }
        }
      }
    }

    const verdicts: Verdict[] = [];
    const notes: string[] = [];
    const perLogin = (m: Measured, p: 'first' | 'repeat') => {
      const c = p === 'first' ? m.firstCpu : m.repeatCpu;
      const n = m[p].n;
      return { dovecot: c.dovecotMs / n, auth: (c.ms.auth ?? 0) / n, workers: (c.ms['auth worker'] ?? 0) / n, workerPids: c.pids['auth worker'] ?? 0, mailpassd: (c.ms.mailpassd ?? 0) / n };
    };
    for (const mode of LOGIN_MODES) {
      const mp = get('mailpassd', mode);
      const ceil = get('static', mode);
      const bestSql = (p: 'first' | 'repeat') => SQL_KEYS.map((k) => get(k, mode)).reduce((a, b) => (b[p].rate > a[p].rate ? b : a));
      const sqlF = bestSql('first');
      const sqlR = bestSql('repeat');
      const firstRatio = mp.first.rate / sqlF.first.rate;
      const repeatCeil = mp.repeat.rate / ceil.repeat.rate;
      const repeatSql = mp.repeat.rate / sqlR.repeat.rate;
      // ×3 over sql only where the ceiling leaves room: at most what 0.85 of the ceiling allows.
      const repeatSqlFloor = Math.min(REPEAT_SQL_GOAL, (REPEAT_CEILING_GOAL * ceil.repeat.rate) / sqlR.repeat.rate);
      const tag = MODE_LABEL[mode];
      verdicts.push(
        { what: `${tag}: first logins, mailpassd ÷ fastest passdb sql variant (${sqlF.key})`, value: firstRatio, shown: `${fmt(firstRatio, 2)} (${fmt(mp.first.rate)} vs ${fmt(sqlF.first.rate)}/s)`, floor: `≥ ${FIRST_GOAL}`, pass: firstRatio >= FIRST_GOAL },
        { what: `${tag}: repeat logins, mailpassd ÷ static ceiling`, value: repeatCeil, shown: `${fmt(repeatCeil, 2)} (${fmt(mp.repeat.rate)} vs ${fmt(ceil.repeat.rate)}/s)`, floor: `≥ ${REPEAT_CEILING_GOAL}`, pass: repeatCeil >= REPEAT_CEILING_GOAL },
        {
          what: `${tag}: repeat logins, mailpassd ÷ fastest passdb sql variant (${sqlR.key}); floor ×${REPEAT_SQL_GOAL}, or ${REPEAT_CEILING_GOAL} × ceiling ÷ sql where that is lower`,
          value: repeatSql,
          shown: `${fmt(repeatSql, 2)} (${fmt(mp.repeat.rate)} vs ${fmt(sqlR.repeat.rate)}/s)`,
          floor: `≥ ${fmt(repeatSqlFloor, 2)}`,
          pass: repeatSql >= repeatSqlFloor,
        },
      );
    }
    verdicts.push({ what: 'failed logins in the measured passes', value: failures, shown: String(failures), floor: '0', pass: failures === 0 });

    // Cold gap: CPU per first login, against argon2 alone — insensitive to the other load that moves the rates.
    for (const mode of LOGIN_MODES) {
      const sql = perLogin(get('sql', mode), 'first');
      const mp = perLogin(get('mailpassd', mode), 'first');
      const st = perLogin(get('static', mode), 'first');
      const mpServer = mp.dovecot + mp.mailpassd;
      const cores = availableParallelism();
      // sql verifies in the one auth process: that process caps it at one core, whatever the other cores do.
      const sqlCap = Math.min((cores * 1000) / sql.dovecot, 1000 / sql.auth);
      const mpCap = (cores * 1000) / mpServer;
      notes.push(
        `CPU per first login, ${MODE_LABEL[mode]} (/proc/<pid>/stat; Dovecot = all of the instance's processes, auth = \`dovecot/auth\` + \`auth -w\` workers): ` +
          `static ${fmt(st.dovecot, 1)} ms; passdb sql ${fmt(sql.dovecot, 1)} ms, of which ${fmt(sql.auth, 1)} ms in the single \`dovecot/auth\` process (argon2 runs there: pgsql is an asynchronous driver, so no auth worker is used — ${sql.workerPids} seen; libsodium argon2 alone ${fmt(sodium.cpuMsPerVerify, 1)} ms); ` +
          `mailpassd ${fmt(mpServer, 1)} ms = Dovecot ${fmt(mp.dovecot, 1)} ms (auth ${fmt(mp.auth, 1)} + ${mp.workerPids} auth workers running the Lua script ${fmt(mp.workers, 1)}) + daemon ${fmt(mp.mailpassd, 1)} ms (its verifyPassword alone ${fmt(ours.cpuMsPerVerify, 1)} ms; the node \`argon2\` package ${fmt(nodeArgon2.cpuMsPerVerify, 1)} ms — it builds argon2's opt.c with -msse2 only, while libsodium picks SSSE3/AVX2 code at run time). ` +
          `Gap ${fmt(mpServer - sql.dovecot, 1)} ms per login, of which argon2 (mailpassd's verify − libsodium) ${fmt(ours.cpuMsPerVerify - sodium.cpuMsPerVerify, 1)} ms. ` +
          `CPU-bound rates on ${cores} idle cores (client and PostgreSQL left out): sql ≤ ${fmt(sqlCap)}/s (its auth process is one core), mailpassd ≤ ${fmt(mpCap)}/s — ratio ${fmt(mpCap / sqlCap, 2)}.`,
      );
    }
    for (const mode of LOGIN_MODES) {
      const mp = perLogin(get('mailpassd', mode), 'repeat');
      const st = perLogin(get('static', mode), 'repeat');
      notes.push(`CPU per repeat login, ${MODE_LABEL[mode]}: mailpassd (Dovecot cache hits) ${fmt(mp.dovecot + mp.mailpassd, 1)} ms (daemon ${fmt(mp.mailpassd, 1)}) vs static ceiling ${fmt(st.dovecot, 1)} ms → CPU ratio ceiling ÷ mailpassd ${fmt(st.dovecot / (mp.dovecot + mp.mailpassd), 2)}.`);
    }
    const hs = (k: Key, c: Client) => get(k, 'high-security', c);
    notes.push(
      `Node vs Python client, high-security mode (Python ÷ Node logins/s, first / repeat): ${PYTHON_KEYS.map((k) => `${k} ${fmt(hs(k, 'python').first.rate / hs(k, 'node').first.rate, 2)} / ${fmt(hs(k, 'python').repeat.rate / hs(k, 'node').repeat.rate, 2)}`).join('; ')}. ` +
        `Client CPU per login, first pass: Node ${PYTHON_KEYS.map((k) => fmt(hs(k, 'node').first.clientCpuMs / hs(k, 'node').first.n, 1)).join(' / ')} ms, Python ${PYTHON_KEYS.map((k) => fmt(hs(k, 'python').first.clientCpuMs / hs(k, 'python').first.n, 1)).join(' / ')} ms (${PYTHON_KEYS.join(' / ')}).`,
    );
    {
      const sqlHs = perLogin(get('sql', 'high-security'), 'first');
      const sqlHp = get('sql', 'high-performance');
      const cap = 1000 / perLogin(sqlHp, 'first').auth;
      const loads = results.flatMap((x) => [x.firstLoad, x.repeatLoad]);
      const workersSeen = Math.max(...LOGIN_MODES.map((m) => get('sql', m).firstCpu.pids['auth worker'] ?? 0));
      notes.push(
        'How it was checked — why earlier runs put the peer at 13–35 logins/s while an outside Python client measured 59/61/s: ' +
          `(1) where argon2 runs: passdb sql with dovecot-pgsql verifies in the single \`dovecot/auth\` process — pgsql is an asynchronous driver, so Dovecot hands it to no auth worker (workers seen in the sql first passes: ${workersSeen}) and \`auth_worker_max_count\` does not apply; that process spends ${fmt(sqlHs.auth, 1)} ms CPU per login (libsodium argon2 alone: ${fmt(sodium.cpuMsPerVerify, 1)} ms), so sql is capped near one core, ≤ ${fmt(cap)}/s here, in either login mode. The query is not the limit: with the auth cache (no query on a repeat) sql repeats at ${fmt(get('sqlcache', 'high-security').repeat.rate)}/s vs ${fmt(get('sql', 'high-security').repeat.rate)}/s without (high-security). ` +
          `(2) Other Dovecots: sql in high-performance mode with three other instances running idle did ${fmt(withIdle.first.rate)}/s first, ${fmt(withIdle.repeat.rate)}/s repeat (best of ${idleRuns.length}: ${idleRuns.map((x) => fmt(x.first.rate)).join(' / ')}), vs ${fmt(sqlHp.first.rate)}/s and ${fmt(sqlHp.repeat.rate)}/s alone; Dovecot CPU per first login ${fmt(perLogin(withIdle, 'first').dovecot, 1)} vs ${fmt(perLogin(sqlHp, 'first').dovecot, 1)} ms — ${withIdle.first.rate >= 0.9 * sqlHp.first.rate ? 'idle instances cost nothing measurable' : `lower here, but its passes started under ${fmt(withIdle.firstLoad * 100, 0)} % other load and an idle Dovecot uses no CPU`}. ` +
          `(3) The client: Python (stdlib imaplib, every connection from 127.0.0.1 like the outside measurement) ÷ Node (its own source address per connection), first / repeat: ${PYTHON_KEYS.map((k) => `${k} ${fmt(get(k, 'high-security', 'python').first.rate / get(k, 'high-security', 'node').first.rate, 2)} / ${fmt(get(k, 'high-security', 'python').repeat.rate / get(k, 'high-security', 'node').repeat.rate, 2)}`).join('; ')}; Dovecot's CPU per sql login is the same under both (${fmt(perLogin(get('sql', 'high-security', 'python'), 'first').dovecot, 1)} vs ${fmt(perLogin(get('sql', 'high-security'), 'first').dovecot, 1)} ms), each client uses under ${fmt(Math.ceil(Math.max(...results.map((x) => x.first.clientCpuMs / x.first.n)) * 10) / 10, 1)} ms CPU per login, and no measured login follows a failed one from its address, so neither the client nor Dovecot's per-IP auth penalty holds the rates down. ` +
          `(4) Other load: this machine is shared; before the passes of this run the other load ranged ${fmt(Math.min(...loads) * 100, 0)}–${fmt(Math.max(...loads) * 100, 0)} %. It lowers the rates, not the CPU per login. The earlier results were taken with every variant, the ceiling included, far below today's — static ceiling 63/s (2026-11-25) and 193/s (2026-12-02 04:25, high-performance with pre-forked imap processes) against ${fmt(get('static', 'high-performance').first.rate)}/s here in high-performance mode — i.e. under heavy other load; the 04:25 run had sql at 35.5/s (${fmt(35.5 / get('sql', 'high-performance').first.rate, 2)} of today's) but mailpassd at 41.9/s (${fmt(41.9 / get('mailpassd', 'high-performance').first.rate, 2)} of today's): a verifier that is one process (Dovecot's auth) loses more to competing processes than mailpassd's two argon2 threads, which is where the 1.75× and 1.18× first-login ratios came from. Hence one Dovecot at a time, ${ROUNDS} rounds with the best pass kept, the load recorded per pass, and CPU per login as the load-insensitive cross-check.`,
      );
    }
    notes.push(`Other load before each measured pass (first/repeat): ${[...results, ...idleRuns].map((x) => `${x.key}·${x.mode === 'high-security' ? 'hs' : 'hp'}·${x.client}${idleRuns.includes(x) ? ' (3 idle Dovecots)' : ''} ${fmt(x.firstLoad * 100, 0)}/${fmt(x.repeatLoad * 100, 0)} %`).join(', ')}. 1-min load average at the end ${loadavg()[0]!.toFixed(2)}.`);

    return {
      setup: [
        `${dovecotVersion()}, ${availableParallelism()} cores. ONE private Dovecot at a time (own base_dir, loopback IMAP port, \`ssl = no\`, auth_verbose off): started, warmed (3 logins of a user outside the measured set, one wrong password from its own address), measured (first pass, repeat pass), stopped — then the next. Nothing else of the bench runs meanwhile. One embedded PostgreSQL (database \`bench_dovecot\`).`,
        `Login process modes (doc.dovecot.org/2.3/admin_manual/login_processes): high-security = Dovecot's default, a new imap-login process per connection (\`${loginModeConfig('high-security').slice(2, -1).map((l) => l.trim()).join('; ')}\`); high-performance = \`service imap-login { ${loginModeConfig('high-performance').slice(2, -1).map((l) => l.trim()).join('; ')} }\` (process_min_avail = the cores), client_limit at its default (1000 connections per process). imap processes: Dovecot's default (one per login) in both.`,
        `${users.length} mailboxes created through the admin API with random 20-character passwords; hashes written by mailpassd (\`$argon2id$v=19$m=19456,t=2,p=1$…\`, the order Dovecot's {ARGON2ID} accepts); every variant logs in the same users with the same hashes. Mail homes made before measuring (one untimed login per user through a static instance), so no variant pays maildir creation.`,
        "mailpassd: the shipped `config/dovecot/2.3/mailpassd.conf` + `mailpassd-auth.lua` with only the documented edits (script path; MAILPASSD_AUTH_URL and the secret file after the include) — auth cache as shipped (10M, ttl 5 min, verify with worker). A freshly started daemon per measurement (argon2id 19456/2/1, memo on as default, shipped throttle limits), so its verification memo is empty at the first pass.",
        "passdb sql: `driver = pgsql`, `default_pass_scheme = ARGON2ID`, `password_query = SELECT address AS user, password_hash AS password FROM mailboxes WHERE address = '%u'`, userdb static (same uid/gid/home). Three variants: Dovecot's default (no auth cache); `auth_cache_size = 10M`; and 10M + `auth_cache_verify_password_with_worker = yes` (Dovecot's advice for strong hashes: cached hashes verified in auth workers). Goal denominators: the fastest sql variant of the pass. Ceiling: `passdb static nopassword=y` + the same userdb static: Dovecot's own cost per login.",
        `Load: connect → LOGIN → LOGOUT, ${CONCURRENCY} concurrent connections, each from a different 127.x.y.z source address. First pass = every user once (shuffled); repeat = the same users again (reshuffled). The Node client (harness/imap.ts via bench/lib/dovecot.ts) in both modes, ${ROUNDS} rounds (a fresh Dovecot, and daemon, each): other sessions' work on this shared machine only lowers a rate, so the best pass of the rounds is reported and each round's rate shown. The independent Python client (bench/lib/imap-logins.py: stdlib imaplib, ${CONCURRENCY} threads, every connection from 127.0.0.1), in the same rounds, in the default mode for ${PYTHON_KEYS.join(', ')}. Latency = connect → LOGIN answer. Before each pass the bench waits up to 4 s for the machine to be quiet and records the other load it saw.`,
        `CPU per login (insensitive to the other load that moves the rates): user+system time from /proc/<pid>/stat over the pass ÷ logins — Dovecot = the whole instance (master, its live children polled every 100 ms, and the fork-per-login children it reaped, from its cutime/cstime); in brackets its \`dovecot/auth\` process + \`auth -w\` workers; the mailpassd daemon; the client (the bench process for Node, python3 for Python). argon2 alone: ${sodium.n} sequential verifies of stored hashes, CPU per verify: libsodium ${fmt(sodium.cpuMsPerVerify, 1)} ms (what Dovecot's {ARGON2ID} calls; ctypes, bench/lib/sodium-verify.py), the node \`argon2\` package ${fmt(nodeArgon2.cpuMsPerVerify, 1)} ms, mailpassd's verifyPassword (src/auth/hash.ts) ${fmt(ours.cpuMsPerVerify, 1)} ms.`,
      ],
      tables: [{ columns: ['login mode', 'client', 'passdb', 'pass', 'logins/s (best)', 'per round', 'p50', 'p99', 'failures', '÷ static ceiling', 'other load before', 'Dovecot CPU/login (auth + workers)', 'mailpassd CPU/login', 'client CPU/login'], rows }],
      verdicts,
      notes,
      figures: {
        results: results.map((x) => ({ key: x.key, mode: x.mode, client: x.client, first: x.first.rate, repeat: x.repeat.rate, firstCpu: x.firstCpu, repeatCpu: x.repeatCpu })),
        argon2: { libsodium: sodium, node: nodeArgon2, mailpassd: ours },
      },
    };
  } finally {
    await live.dc?.stop();
    await live.d?.stop();
  }
}
