// Orchestrator: `npm run bench -- [--only name[,name]] [--quick] [--scale-max N]` (tsx bench/run.ts …).
// Runs the benchmarks in order against the built code in dist/ (npm run bench
// builds first), prints figures and ratios, rewrites bench/RESULTS.md. A missed
// floor is reported, not fatal; only a crash makes the exit status non-zero.
import { cpus, availableParallelism, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchContext } from './lib/context.js';
import { closeClient } from './lib/http.js';
import { cleanupAll } from './lib/procs.js';
import { printSection, writeResults, type BenchResult, type Section } from './lib/report.js';
import * as warm from './warm.js';
import * as cold from './cold.js';
import * as checkpassword from './checkpassword.js';
import * as timing from './timing.js';
import * as rotation from './rotation.js';
import * as memory from './memory.js';
import * as dovecot from './dovecot.js';
import * as soak from './soak.js';
import * as failover from './failover.js';
import * as appPasswords from './app-passwords.js';
import * as consoleBench from './console.js';
import * as importBench from './import.js';
import * as scale from './scale.js';

/** What each benchmark module exports. */
interface Bench {
  name: string;
  title: string;
  /** Benchmarks whose daemons this one reads (memory reads warm's and cold's). */
  needs?: string[];
  /** false: only reports figures others took, so no waiting for a quiet machine. */
  measures?: boolean;
  run(ctx: BenchContext): Promise<BenchResult>;
}

const BENCHES: Bench[] = [warm, cold, checkpassword, timing, rotation, memory, dovecot, soak, appPasswords, consoleBench, importBench, scale, failover];
const HERE = path.dirname(fileURLToPath(import.meta.url));

interface Args {
  only: string[] | null;
  quick: boolean;
  /** The scale benchmark's largest table: 1,000,000 takes long, so it is asked for. */
  scaleMax: number;
}

function parseArgs(argv: string[]): Args {
  const opts: Args = { only: null, quick: false, scaleMax: Number(process.env.MAILPASSD_BENCH_SCALE_MAX ?? 100_000) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') opts.quick = true;
    else if (a === '--scale-max') opts.scaleMax = Number(argv[++i]);
    else if (a.startsWith('--scale-max=')) opts.scaleMax = Number(a.slice(12));
    else if (a === '--only') opts.only = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (a.startsWith('--only=')) opts.only = a.slice(7).split(',').filter(Boolean);
    else if (a === '--help' || a === '-h') {
      console.log(`usage: npm run bench -- [--only ${BENCHES.map((b) => b.name).join('|')}[,…]] [--quick] [--scale-max 1000000]`);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(opts.scaleMax) || opts.scaleMax < 10_000) throw new Error('--scale-max: a whole number of mailboxes, at least 10000');
  const names = BENCHES.map((b) => b.name);
  for (const n of opts.only ?? []) if (!names.includes(n)) throw new Error(`unknown benchmark ${n} (have: ${names.join(', ')})`);
  return opts;
}

/** --only memory also runs warm and cold: memory is read on the daemons they load. */
function selected(only: string[] | null): Bench[] {
  if (!only) return BENCHES;
  const want = new Set(only);
  for (const b of BENCHES) if (want.has(b.name)) for (const dep of b.needs ?? []) want.add(dep);
  return BENCHES.filter((b) => want.has(b.name));
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const ctx = new BenchContext({ quick: opts.quick, scaleMax: opts.scaleMax });
  const machine = `${availableParallelism()} cores (nproc), ${cpus()[0]?.model?.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, ${process.platform}-${process.arch}`;
  const command = ['tsx bench/run.ts', ...process.argv.slice(2)].join(' ');
  const when = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  console.log(`mailpassd benchmarks — ${when}\n${machine}\n${command}`);

  const sections: Section[] = [];
  let crashed = false;
  const started = Date.now();
  try {
    for (const bench of selected(opts.only)) {
      console.log(`\n-- ${bench.name}: ${bench.title}`);
      const t0 = Date.now();
      ctx.busySeen = [];
      const busy = bench.measures === false ? 0 : await ctx.settle(10_000);
      let section: Section;
      try {
        section = { name: bench.name, title: bench.title, quick: opts.quick, ...(await bench.run(ctx)) };
      } catch (err) {
        crashed = true;
        section = { name: bench.name, title: bench.title, quick: opts.quick, error: (err as Error).stack ?? String(err), verdicts: [], tables: [] };
      }
      // Other work on the machine (a test suite, a build) shows up here and explains outliers.
      const worst = Math.max(0, ...ctx.busySeen);
      section.load = bench.measures === false ? 'no measurement of its own' : `other load on the machine (CPU busy while the bench idled): ${(busy * 100).toFixed(0)} % at start, highest at the start of a measured run (after waiting up to 3 s for quiet) ${(worst * 100).toFixed(0)} %; 1-min load average at the end ${loadavg()[0]!.toFixed(2)}`;
      section.seconds = Math.round((Date.now() - t0) / 1000);
      console.log(`  (${section.seconds} s; ${section.load})`);
      sections.push(section);
    }
  } finally {
    closeClient();
    await cleanupAll();
  }

  console.log(`\n======== results (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  for (const s of sections) printSection(s);
  const file = path.join(HERE, 'RESULTS.md');
  writeResults(file, { order: BENCHES.map((b) => b.name), sections, machine, command, when });
  console.log(`\nwrote ${path.relative(process.cwd(), file) || file}`);
  return crashed ? 1 : 0;
}

// Stop what we started if the run is interrupted.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: stopping benchmark processes`);
    cleanupAll().finally(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  async (err) => {
    console.error((err as Error).stack ?? err);
    await cleanupAll();
    process.exit(1);
  },
);
