// Private Dovecot 2.3 instances for the benchmarks: the harness's instance
// (harness/dovecot.ts) with one passdb —
//   'mailpassd' — the shipped config/dovecot/2.3/mailpassd.conf + Lua script,
//                 copied with only its documented edits (script path, URL);
//   'sql'       — Dovecot's own passdb sql (dovecot-pgsql) on the mailboxes table;
//   'static'    — passdb static nopassword=y: Dovecot's own cost per login —
// without auth_verbose, in one of Dovecot's two documented login process modes
// (LoginMode) or, when none is named, the harness's "high-performance" set-up
// the rotation benchmark uses. Plus the IMAP load — a login per connection, each
// from its own source address — from the Node client (loginRun) or from the
// independent Python client (pythonLoginRun, imap-logins.py), and the CPU the
// instance's auth processes use (AuthCpu).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dovecotVersion, startDovecot, VMAIL_GID, VMAIL_UID, type DovecotInstance, type SqlConnection } from '../../harness/dovecot.js';
import { loginProbe } from '../../harness/imap.js';
import { createMailRoot } from '../../harness/system.js';
import { benchDir, childrenOf, cpuMsOf, onCleanup } from './procs.js';

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
  /** Dovecot's documented login process mode; unset: the harness's high-performance set-up (rotation.ts). */
  mode?: LoginMode;
  /** Global settings for the benchmarks' own passdbs (sql/static); they go before the passdb, so never to override the shipped snippet. */
  settings?: string[];
}

/**
 * Dovecot 2.3's two login process modes, as doc.dovecot.org/2.3/admin_manual/login_processes
 * gives them:
 *   'high-security'    — the default: a new imap-login process per connection
 *                        (`service_count = 1`); written out although it is the default;
 *   'high-performance' — long-running imap-login processes serving many connections:
 *                        `service_count = 0`, `process_min_avail` = the number of CPU
 *                        cores, `vsz_limit = 1G`, `client_limit` left at its default
 *                        ($default_client_limit = 1000 connections per process).
 * Only imap-login changes; imap processes are forked per login in both modes, as by default.
 */
export type LoginMode = 'high-security' | 'high-performance';
export const LOGIN_MODES: LoginMode[] = ['high-security', 'high-performance'];

export function loginModeConfig(mode: LoginMode): string[] {
  const settings = mode === 'high-security' ? ['service_count = 1'] : ['service_count = 0', `process_min_avail = ${availableParallelism()}`, 'vsz_limit = 1G'];
  // A second `service imap-login` block adds to the one holding the listener (Dovecot merges sections of one name).
  return [`# login process mode: ${mode}`, 'service imap-login {', ...settings.map((l) => `  ${l}`), '}'];
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
    highPerformance: o.mode === undefined,
    ...(o.mode || o.settings ? { extraConfig: [...(o.mode ? loginModeConfig(o.mode) : []), ...(o.settings ?? [])].join('\n') } : {}),
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
  /** The client's own CPU (user + system) over the run, in ms: the bench process for the Node client (including whatever else it does meanwhile), the python3 process for the Python one. */
  clientCpuMs: number;
}

/** Runs `jobs` through IMAP (connect → LOGIN → LOGOUT) at a fixed concurrency. */
export async function loginRun(port: number, jobs: { user: string; password: string }[], concurrency: number): Promise<LoginRun> {
  let next = 0;
  const latencies: number[] = [];
  const failures: string[] = [];
  const t0 = performance.now();
  const c0 = process.cpuUsage();
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
  const c = process.cpuUsage(c0);
  return { n: jobs.length, seconds, rate: jobs.length / seconds, latencies, failures: failures.length, failureSamples: failures.slice(0, 3), clientCpuMs: (c.user + c.system) / 1000 };
}

/** The same jobs through the independent Python client (imap-logins.py, stdlib imaplib): connect → LOGIN → LOGOUT. */
export async function pythonLoginRun(port: number, jobs: { user: string; password: string }[], concurrency: number, opts: { ownSources?: boolean } = {}): Promise<LoginRun> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'imap-logins.py');
  const input = JSON.stringify({ port, concurrency, jobs: jobs.map((j) => ({ ...j, ...(opts.ownSources === false ? {} : { source: nextSource() }) })) });
  const child = spawn('python3', [script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  child.stdin.end(input);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`imap-logins.py exited ${code}: ${err.slice(-2000)}`);
  const r = JSON.parse(out) as { n: number; seconds: number; latencies_ms: number[]; failures: number; failure_samples: string[]; cpu_seconds: number };
  return { n: r.n, seconds: r.seconds, rate: r.n / r.seconds, latencies: r.latencies_ms, failures: r.failures, failureSamples: r.failure_samples, clientCpuMs: r.cpu_seconds * 1000 };
}

/** Dovecot's master process (its children are every service process of the instance). */
export function masterPid(dc: DovecotInstance): number {
  return Number(readFileSync(path.join(dc.baseDir, 'master.pid'), 'utf8').trim());
}

function titleOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

export interface CpuReading {
  /** CPU ms (user + system) per group over the measured span. */
  ms: Record<string, number>;
  /** Processes seen per group. */
  pids: Record<string, number>;
  /**
   * Every process of the instance: the master itself, the children it reaped
   * during the span (its cutime/cstime: the fork-per-login imap-login and imap
   * processes) and the live children — Dovecot's whole CPU cost of the logins.
   */
  dovecotMs: number;
}

/**
 * CPU used by the processes of one Dovecot instance, grouped by process title
 * ('auth' = `…/auth`, 'auth worker' = `…/auth -w`), plus any extra pids (the
 * mailpassd daemon), and the instance's total, from /proc/<pid>/stat. The
 * master's children are polled every 100 ms so processes started during the run
 * are counted from zero; a grouped process that exits keeps its last reading (at
 * most 100 ms of it lost — auth processes and workers live for the whole run).
 */
export function sampleCpu(master: number, groups: Record<string, (title: string) => boolean>, extra: Record<string, number> = {}): { stop(): CpuReading } {
  const base = new Map<number, number>();
  const last = new Map<number, { group: string | null; ms: number }>();
  const masterBase = cpuMsOf(master, { reapedChildren: true });
  const read = (initial: boolean) => {
    const pids: [number, string | null][] = Object.entries(extra).map(([g, p]) => [p, g]);
    for (const pid of childrenOf(master)) {
      const title = titleOf(pid);
      pids.push([pid, Object.keys(groups).find((g) => groups[g]!(title)) ?? null]);
    }
    for (const [pid, group] of pids) {
      let ms: number;
      try {
        ms = cpuMsOf(pid);
      } catch {
        continue; // exited between listing and reading
      }
      if (initial) base.set(pid, ms);
      last.set(pid, { group, ms });
    }
  };
  read(true);
  const timer = setInterval(() => read(false), 100);
  return {
    stop: () => {
      clearInterval(timer);
      const live = new Set(childrenOf(master));
      read(false);
      const ms: Record<string, number> = {};
      const pids: Record<string, number> = {};
      // Reaped children are all in the master's cutime; only what they had used before the span is taken off.
      let dovecotMs = cpuMsOf(master, { reapedChildren: true }) - masterBase;
      for (const [pid, { group, ms: v }] of last) {
        const b = base.get(pid) ?? 0;
        if (group) {
          ms[group] = (ms[group] ?? 0) + v - b;
          pids[group] = (pids[group] ?? 0) + 1;
        }
        if (Object.values(extra).includes(pid)) continue;
        dovecotMs += live.has(pid) ? v - b : -b;
      }
      return { ms, pids, dovecotMs };
    },
  };
}

/** The auth side of Dovecot: the auth process and its workers (argon2 runs in one of them, see dovecot.ts). */
export const AUTH_GROUPS: Record<string, (title: string) => boolean> = {
  // Titles carry the instance_name: `dovecot-<instance>/auth`; a worker is the same binary run as `…/auth -w`.
  auth: (t) => /\/auth$/.test(t),
  'auth worker': (t) => /\/auth -w/.test(t),
};
