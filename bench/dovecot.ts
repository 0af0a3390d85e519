// Benchmark — IMAP logins per second through Dovecot 2.3: mailpassd (shipped
// Lua passdb, auth cache as shipped) versus Dovecot's own `passdb sql`
// (dovecot-pgsql) on the same table and the same argon2id hashes, with
// `passdb static nopassword=y` as the ceiling (Dovecot's own cost per login:
// login process, auth round trip, imap process). First logins (each user once)
// and repeat logins (the same users again) are reported separately.
// Rotation through Dovecot is measured by rotation.js.
import { randomInt } from 'node:crypto';
import type { DovecotInstance, SqlConnection } from '../harness/dovecot.js';
import { loginProbe } from '../harness/imap.js';
import type { BenchContext } from './lib/context.js';
import { createToken, startBenchDaemon, strongPassword, type BenchDaemon } from './lib/daemon.js';
import { dovecotMissing, dovecotVersion, loginRun, mailRoot, nextSource, startBenchDovecot, type BenchDovecotOptions, type LoginRun } from './lib/dovecot.js';
import { postJson } from './lib/http.js';
import { storedHash } from './lib/postgres.js';
import type { BenchResult } from './lib/report.js';
import { fmt, median, ms, percentile } from './lib/stats.js';

export const name = 'dovecot';
export const title = 'IMAP logins/s through Dovecot 2.3: mailpassd vs passdb sql vs static ceiling';
const CONCURRENCY = 8;
const FIRST_GOAL = 0.9;
const REPEAT_GOAL = 3;

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

type Key = 'mailpassd' | 'sql' | 'sqlcache' | 'static';
interface Backend {
  key: Key;
  label: string;
  opts: BenchDovecotOptions;
  dovecot?: DovecotInstance;
}

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const missing = dovecotMissing();
  if (missing) throw new Error(`dovecot benchmark: ${missing}`);
  const nUsers = ctx.quick ? 40 : 200;

  const pg = await ctx.postgres();
  const dbUrl = await pg.createDatabase('bench_dovecot');
  const u = new URL(dbUrl);
  const pgConn: SqlConnection = { host: u.hostname, port: u.port, dbname: u.pathname.slice(1), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  if (/\s/.test(pgConn.password)) throw new Error('embedded PostgreSQL password has whitespace; cannot put it in a connect string');
  const home = mailRoot();

  const d = await startBenchDaemon({
    databaseUrl: dbUrl,
    nodeId: 'bench-dovecot',
    logLevel: 'warn',
    // Shipped throttle limits: the logins are right passwords (one wrong per backend, from its own source address).
    env: {
      MAILPASSD_USERDB_HOME: `${home}/%d/%n`,
      MAILPASSD_USERDB_UID: '5000',
      MAILPASSD_USERDB_GID: '5000',
    },
  });
  const instances: DovecotInstance[] = [];
  try {
    await d.cliOk(['domain', 'add', 'bench-dovecot.example.org']);
    const token = await createToken(d, 'bench-dovecot');
    const tUsers = performance.now();
    const users = await createUsers(d, token, nUsers + 1);
    const warmUser = users.pop()!; // used only to warm each instance's processes, never measured
    console.log(`  ${users.length} mailboxes (+1 warm-up) created through the admin API in ${fmt((performance.now() - tUsers) / 1000, 1)} s`);
    const sampleHash = await storedHash(dbUrl, users[0]!.user);
    if (!/\$m=19456,t=2,p=1\$/.test(sampleHash)) throw new Error(`stored hash not in m=,t=,p= order with the default parameters: ${sampleHash.slice(0, 40)}…`);

    const backends: Backend[] = [
      { key: 'mailpassd', label: 'mailpassd (Lua passdb, cache as shipped: 10M, ttl 5 min)', opts: { kind: 'mailpassd', authUrl: d.authUrl, home } },
      { key: 'sql', label: 'passdb sql (Dovecot default: auth cache off)', opts: { kind: 'sql', label: 'sql', pg: pgConn, home } },
      { key: 'sqlcache', label: 'passdb sql + auth_cache_size 10M', opts: { kind: 'sql', label: 'sqlcache', pg: pgConn, home, cache: '10M' } },
      { key: 'static', label: 'passdb static nopassword=y (ceiling)', opts: { kind: 'static', home } },
    ];
    for (const b of backends) {
      const dc = await startBenchDovecot(b.opts);
      b.dovecot = dc;
      instances.push(dc);
      // Preflight + warm-up of login/auth/imap processes with a user outside the measured set.
      for (let i = 0; i < 3; i++) {
        const r = await loginProbe(dc.imapPort, warmUser.user, warmUser.password, { localAddress: nextSource(), timeoutMs: 15_000 });
        if (r.result !== 'ok') throw new Error(`preflight login through ${b.key} answered ${r.result}\n${dc.log().slice(-2000)}`);
      }
      const wrong = await loginProbe(dc.imapPort, users[0]!.user, 'definitely-wrong', { localAddress: nextSource(), timeoutMs: 15_000 });
      if (b.key !== 'static' && wrong.result !== 'no') throw new Error(`wrong password through ${b.key} answered ${wrong.result}`);
    }

    // Measured passes, one backend at a time (first pass, then repeat pass).
    const res = {} as Record<Key, Record<'first' | 'repeat', LoginRun>>;
    for (const b of backends) {
      const passes = {} as Record<'first' | 'repeat', LoginRun>;
      res[b.key] = passes;
      for (const pass of ['first', 'repeat'] as const) {
        await ctx.settle();
        const r = await loginRun(b.dovecot!.imapPort, shuffle(users), CONCURRENCY);
        passes[pass] = r;
        console.log(`  ${b.key.padEnd(9)} ${pass.padEnd(6)} ${fmt(r.rate).padStart(6)} logins/s  p50 ${ms(median(r.latencies))}  p99 ${ms(percentile(r.latencies, 99))}  failures ${r.failures}${r.failures ? ` e.g. ${r.failureSamples.join('; ')}` : ''}`);
      }
    }

    const r = res;
    const sqlBestFirst = Math.max(r.sql.first.rate, r.sqlcache.first.rate);
    const sqlBestRepeat = Math.max(r.sql.repeat.rate, r.sqlcache.repeat.rate);
    const firstRatio = r.mailpassd.first.rate / sqlBestFirst;
    const repeatRatio = r.mailpassd.repeat.rate / sqlBestRepeat;
    const failures = Object.values(r).reduce((s, x) => s + x.first.failures + x.repeat.failures, 0);
    const ceilF = r.static.first.rate;
    const ceilR = r.static.repeat.rate;
    const row = (b: Backend, pass: 'first' | 'repeat') => {
      const x = r[b.key][pass];
      return [b.label, pass, fmt(x.rate), ms(median(x.latencies)), ms(percentile(x.latencies, 99)), String(x.failures), fmt(x.rate / (pass === 'first' ? ceilF : ceilR), 2)];
    };
    return {
      setup: [
        `${dovecotVersion()}: four private instances (own base_dir, loopback IMAP port, \`ssl = no\`), all started before measuring. One embedded PostgreSQL (database \`bench_dovecot\`), one mailpassd daemon (argon2id 19456/2/1, memo on as default, shipped throttle limits).`,
        `${users.length} mailboxes created through the admin API with random 20-character passwords; hashes written by mailpassd (\`$argon2id$v=19$m=19456,t=2,p=1$…\`, the order Dovecot's {ARGON2ID} accepts). All four instances use the same users and hashes.`,
        "mailpassd: the shipped `config/dovecot/2.3/mailpassd.conf` + `mailpassd-auth.lua` with only the documented edits (script path, MAILPASSD_AUTH_URL) — auth cache as shipped (10M, ttl 5 min, verify with worker).",
        "passdb sql: `driver = pgsql`, `default_pass_scheme = ARGON2ID`, `password_query = SELECT address AS user, password_hash AS password FROM mailboxes WHERE address = '%u'`, userdb static (same uid/gid/home); run with Dovecot's default (no auth cache) and with `auth_cache_size = 10M`.",
        'Ceiling: `passdb static nopassword=y` + the same userdb static — every login succeeds without any password work: login process + auth + imap process start, i.e. Dovecot’s own cost per login.',
        `Load: a Node IMAP client, connect → \`a LOGIN\` → \`b LOGOUT\`, ${CONCURRENCY} concurrent connections, each from a different 127.x.y.z source address (no per-IP auth penalty). First pass = every user once (shuffled); repeat pass = the same users again (reshuffled), right after. Latency = connect → LOGIN answer. 3 warm-up logins per instance with a separate user. One run; client, Dovecot, mailpassd and PostgreSQL share the machine's cores.`,
        `Goal denominators: the faster of the two passdb sql variants in the same pass.`,
      ],
      tables: [
        { columns: ['passdb', 'pass', 'logins/s', 'p50', 'p99', 'failures', '÷ static ceiling'], rows: backends.flatMap((b) => [row(b, 'first'), row(b, 'repeat')]) },
      ],
      verdicts: [
        { what: 'first logins: mailpassd / passdb sql', value: firstRatio, shown: `${fmt(firstRatio, 2)} (${fmt(r.mailpassd.first.rate)} vs ${fmt(sqlBestFirst)}/s)`, floor: `≥ ${FIRST_GOAL}`, pass: firstRatio >= FIRST_GOAL },
        { what: 'repeat logins: mailpassd / passdb sql', value: repeatRatio, shown: `${fmt(repeatRatio, 2)} (${fmt(r.mailpassd.repeat.rate)} vs ${fmt(sqlBestRepeat)}/s)`, floor: `≥ ${REPEAT_GOAL}`, pass: repeatRatio >= REPEAT_GOAL },
        { what: 'failed logins in the measured passes', value: failures, shown: String(failures), floor: '0', pass: failures === 0 },
      ],
      notes: [
        `Against the ceiling: mailpassd first ${fmt(r.mailpassd.first.rate / ceilF, 2)}, repeat ${fmt(r.mailpassd.repeat.rate / ceilR, 2)}; passdb sql first ${fmt(r.sql.first.rate / ceilF, 2)}, repeat ${fmt(r.sql.repeat.rate / ceilR, 2)} (with cache: ${fmt(r.sqlcache.first.rate / ceilF, 2)} / ${fmt(r.sqlcache.repeat.rate / ceilR, 2)}).`,
        `Ratios against each sql variant: first ${fmt(r.mailpassd.first.rate / r.sql.first.rate, 2)} (no cache) / ${fmt(r.mailpassd.first.rate / r.sqlcache.first.rate, 2)} (cache); repeat ${fmt(r.mailpassd.repeat.rate / r.sql.repeat.rate, 2)} / ${fmt(r.mailpassd.repeat.rate / r.sqlcache.repeat.rate, 2)}.`,
      ],
      figures: { res: Object.fromEntries(Object.entries(r).map(([k, v]) => [k, { first: v.first.rate, repeat: v.repeat.rate }])), firstRatio, repeatRatio },
    };
  } finally {
    for (const inst of instances) await inst.stop();
    await d.stop();
  }
}
