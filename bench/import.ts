// Benchmark — `mailbox import` of a large passwd-file.
//
// A file of N lines (1,000,000; 100,000 with --quick) over 1,000 domains, each
// line `address<TAB>argon2id hash<TAB>name` with one precomputed hash (the
// import keeps hashes as they are: no hashing is measured), imported by the
// built CLI (`mailpassd mailbox import --create-domains --file …`) into a fresh
// database of the run's cluster. Reported: wall time of the command, rows/s,
// and the CLI's peak RSS (VmHWM, read from /proc while it runs) — flat memory
// is the point of streaming, so it must not grow with N.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import pg from 'pg';
import { MAIN } from '../harness/paths.js';
import { cleanEnv, run as runCommand, spawnNode } from '../harness/process.js';
import { hashPassword } from '../src/auth/hash.js';
import type { BenchContext } from './lib/context.js';
import { benchDir, cpuMsOf, memoryOf, onCleanup } from './lib/procs.js';
import type { BenchResult } from './lib/report.js';
import { fmt } from './lib/stats.js';

export const name = 'import';
export const title = 'mailbox import: a passwd-file streamed into one transaction (hashes kept)';
const FLOOR_ROWS_PER_S = 20_000;
const DOMAINS = 1000;

/** Writes the file line by line (the benchmark holds no million-line string either). */
async function writePasswdFile(file: string, lines: number, hash: string): Promise<void> {
  const out = createWriteStream(file);
  for (let i = 0; i < lines; i++) if (!out.write(`user${i}@d${i % DOMAINS}.import.example\t${hash}\tUser ${i}\n`)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
}

export interface Imported {
  seconds: number;
  rate: number;
  hwmMiB: number;
  /** CPU seconds of the CLI process and of its PostgreSQL backend. */
  cliCpuS: number;
  pgCpuS: number;
  output: string;
}

/**
 * The CLI's and its database backend's CPU time, polled while it runs (the
 * backend is found by application_name; its last reading before exit counts).
 * On a machine shared with other work these barely move, unlike the wall time.
 */
function cpuWatcher(url: string, cliPid: number): { stop(): Promise<{ cliCpuS: number; pgCpuS: number; hwmMiB: number }> } {
  const client = new pg.Client({ connectionString: url });
  let backend: number | null = null;
  let cli = 0;
  let pgCpu = 0;
  let hwm = 0;
  let stopped = false;
  const connected = client.connect();
  const tick = async () => {
    while (!stopped) {
      try {
        hwm = Math.max(hwm, memoryOf(cliPid).hwmMiB);
        cli = Math.max(cli, cpuMsOf(cliPid));
      } catch {
        // the CLI exited between two readings
      }
      try {
        await connected;
        backend ??= (await client.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'mailpassd' LIMIT 1")).rows[0]?.pid ?? null;
        if (backend !== null) pgCpu = Math.max(pgCpu, cpuMsOf(backend));
      } catch {
        // the backend exited
      }
      await new Promise((res) => setTimeout(res, 100));
    }
  };
  const loop = tick();
  return {
    async stop() {
      stopped = true;
      await loop;
      await client.end();
      return { cliCpuS: cli / 1000, pgCpuS: pgCpu / 1000, hwmMiB: hwm };
    },
  };
}

export async function importOnce(ctx: BenchContext, lines: number): Promise<Imported> {
  const pg = await ctx.postgres();
  const url = await pg.createDatabase(`bench_import_${lines}_${Date.now()}`);
  const env = cleanEnv({ MAILPASSD_DATABASE_URL: url });
  const migrated = await runCommand(process.execPath, [MAIN, 'migrate'], 60_000, env);
  if (migrated.code !== 0) throw new Error(`migrate failed: ${migrated.stderr}`);
  const dir = benchDir('import');
  const file = path.join(dir, 'passwd.tsv');
  const hash = await hashPassword('Bench-Import-Password', { memory_cost: 19456, time_cost: 2, parallelism: 1 } as Parameters<typeof hashPassword>[1]);
  await writePasswdFile(file, lines, hash);

  await ctx.settle();
  const started = performance.now();
  const child = spawnNode([MAIN, 'mailbox', 'import', '--create-domains', '--json', '--file', file], { env, logFile: path.join(dir, 'import.log') });
  onCleanup(() => child.stop());
  const watcher = cpuWatcher(url, child.pid);
  const code = await child.exited;
  const seconds = (performance.now() - started) / 1000;
  const cpu = await watcher.stop();
  if (code !== 0) throw new Error(`import exited ${code}: ${child.log().slice(-2000)}`);
  return { seconds, rate: lines / seconds, ...cpu, output: child.log() };
}

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const lines = ctx.quick ? 100_000 : 1_000_000;
  const r = await importOnce(ctx, lines);
  const report = JSON.parse(r.output.slice(r.output.indexOf('{'))) as { new: number; imported: number };
  if (report.imported !== lines) throw new Error(`imported ${report.imported} of ${lines}`);
  const cpuRate = lines / (r.cliCpuS + r.pgCpuS);
  console.log(`  ${lines} lines in ${fmt(r.seconds, 1)} s: ${fmt(r.rate)} rows/s, peak RSS ${fmt(r.hwmMiB)} MiB; CPU: CLI ${fmt(r.cliCpuS, 1)} s, PostgreSQL backend ${fmt(r.pgCpuS, 1)} s`);
  return {
    setup: [
      `${fmt(lines)} lines over ${DOMAINS} domains (created by the import), one precomputed argon2id hash (m=19456 t=2 p=1) for all; a fresh database.`,
      '`mailpassd mailbox import --create-domains --json --file …` (built CLI, not a TTY: no progress bar); timed from spawn to exit (includes start-up and the COMMIT).',
      'Peak RSS: VmHWM of the CLI process, read from /proc every 100 ms. CPU: user+system time of the CLI and of its PostgreSQL backend (found by application_name), read the same way.',
    ],
    tables: [
      {
        columns: ['lines', 'wall time', 'rows/s', 'CLI peak RSS', 'CPU: CLI', 'CPU: PostgreSQL backend', 'rows per CPU second (CLI + backend)'],
        rows: [[fmt(lines), `${fmt(r.seconds, 1)} s`, fmt(r.rate), `${fmt(r.hwmMiB)} MiB`, `${fmt(r.cliCpuS, 1)} s`, `${fmt(r.pgCpuS, 1)} s`, fmt(cpuRate)]],
      },
    ],
    verdicts: [{ what: 'import rows/s (hashes kept)', value: r.rate, shown: fmt(r.rate), floor: `≥ ${fmt(FLOOR_ROWS_PER_S)}`, pass: r.rate >= FLOOR_ROWS_PER_S }],
    notes: [
      `Rows per CPU second (${fmt(cpuRate)}) is what the import costs whatever else runs: the CLI and its backend mostly take turns (the CLI parses and stages a batch, then waits), so on an otherwise idle machine the wall-clock rate approaches it. Wall time on a shared machine also holds the time other work had the cores.`,
    ],
    figures: { lines, seconds: r.seconds, rate: r.rate, hwmMiB: r.hwmMiB, cliCpuS: r.cliCpuS, pgCpuS: r.pgCpuS, cpuRate },
  };
}
