// Private Dovecot 2.3 instances for the benchmarks: the harness's instance
// (harness/dovecot.ts) with one passdb —
//   'mailpassd' — the shipped config/dovecot/2.3/mailpassd.conf + Lua script,
//                 copied with only its documented edits (script path, URL);
//   'sql'       — Dovecot's own passdb sql (dovecot-pgsql) on the mailboxes table;
//   'static'    — passdb static nopassword=y: Dovecot's own cost per login —
// all in Dovecot's "high-performance" login mode and without auth_verbose, so
// the comparison measures the passdb. Plus the IMAP load: a login per
// connection, each from its own source address.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { dovecotVersion, startDovecot, VMAIL_GID, VMAIL_UID, type DovecotInstance, type SqlConnection } from '../../harness/dovecot.js';
import { loginProbe } from '../../harness/imap.js';
import { createMailRoot } from '../../harness/system.js';
import { benchDir, onCleanup } from './procs.js';

export { dovecotVersion };

/** Checks what the benchmark needs; returns a reason string when it cannot run. */
export function dovecotMissing(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (private Dovecot instances)';
  const v = dovecotVersion();
  if (!v.startsWith('2.3.')) return `needs Dovecot 2.3, found ${JSON.stringify(v)}`;
  if (!existsSync('/usr/lib/dovecot/modules/libdriver_pgsql.so')) return 'needs dovecot-pgsql (apt-get install -y dovecot-pgsql)';
  return null;
}

/** Mail homes root owned by the uid/gid both userdbs hand out; removed at cleanup. */
export function mailRoot(): string {
  const root = createMailRoot(VMAIL_UID, VMAIL_GID);
  onCleanup(root.remove);
  return root.dir;
}

/** Reserves a directory and config path before the daemon (which needs the path for doveadm -c) starts. */
export function dovecotDir(label: string): { dir: string; configPath: string } {
  const dir = benchDir(`dovecot-${label}`);
  return { dir, configPath: path.join(dir, 'dovecot.conf') };
}

export interface BenchDovecotOptions {
  kind: 'mailpassd' | 'sql' | 'static';
  label?: string;
  authUrl?: string;
  pg?: SqlConnection;
  home: string;
  /** undefined = as that passdb is deployed (shipped snippet / Dovecot default: off), false = auth_cache_size 0, a string = that auth_cache_size. */
  cache?: false | string;
  /** Deliver refusals when decided (harness/dovecot.ts, REFUSE_AT_ONCE). */
  refuseAtOnce?: boolean;
  /** Opens the doveadm HTTP API the way the README tells 2.3 users to (`doveadm_api_key` + `service doveadm { inet_listener http }`). */
  doveadmHttp?: { port: number; apiKey: string } | null;
  reserved?: { dir: string };
}

/** Starts one private Dovecot, stopped at cleanup. */
export async function startBenchDovecot(o: BenchDovecotOptions): Promise<DovecotInstance> {
  const label = o.label ?? o.kind;
  const dc = await startDovecot({
    passdb: o.kind === 'mailpassd' ? 'lua' : o.kind,
    label: `bench-${label}`,
    dir: o.reserved?.dir ?? dovecotDir(label).dir,
    home: o.home,
    ...(o.authUrl ? { authUrl: o.authUrl } : {}),
    ...(o.pg ? { sql: o.pg } : {}),
    ...(o.cache === undefined ? {} : { cache: o.cache === false ? false : { size: o.cache } }),
    ...(o.doveadmHttp ? { doveadmApiKey: o.doveadmHttp.apiKey, doveadmHttpPort: o.doveadmHttp.port } : {}),
    refuseAtOnce: o.refuseAtOnce ?? false,
    pop3: false,
    authVerbose: false,
    highPerformance: true,
  });
  onCleanup(() => dc.stop());
  return dc;
}

/** Source addresses 127.2.1.1 … : a different one per connection so Dovecot's per-IP penalties never apply. */
let srcCounter = 0;
export function nextSource(): string {
  const n = srcCounter++;
  return `127.${2 + (Math.floor(n / 62500) % 250)}.${1 + (Math.floor(n / 250) % 250)}.${1 + (n % 250)}`;
}

export interface LoginRun {
  n: number;
  seconds: number;
  rate: number;
  /** connect → LOGIN answer, of the logins that succeeded. */
  latencies: number[];
  failures: number;
  failureSamples: string[];
}

/** Runs `jobs` through IMAP (connect → LOGIN → LOGOUT) at a fixed concurrency. */
export async function loginRun(port: number, jobs: { user: string; password: string }[], concurrency: number): Promise<LoginRun> {
  let next = 0;
  const latencies: number[] = [];
  const failures: string[] = [];
  const t0 = performance.now();
  const worker = async () => {
    while (next < jobs.length) {
      const j = jobs[next++]!;
      const r = await loginProbe(port, j.user, j.password, { localAddress: nextSource(), timeoutMs: 15_000 });
      if (r.result === 'ok') latencies.push(r.ms);
      else failures.push(`${j.user}: ${r.result}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { n: jobs.length, seconds, rate: jobs.length / seconds, latencies, failures: failures.length, failureSamples: failures.slice(0, 3) };
}
