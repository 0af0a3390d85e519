// What the benchmarks share within one run: one PostgreSQL cluster, one seeded
// mailbox, and daemons started on first use and reused (so memory after a load
// is measured on the daemon that carried it). Everything is stopped at cleanup.
import path from 'node:path';
import { ROOT } from '../../harness/paths.js';
import { cleanEnv, freePort, sleep, spawnNode, waitFor } from '../../harness/process.js';
import { addMailbox, NO_THROTTLE, startBenchDaemon, strongPassword, type BenchDaemon } from './daemon.js';
import { startPostgres, type BenchPostgres } from './postgres.js';
import { benchDir, foreignCpuBusy, onCleanup, type Memory } from './procs.js';

/**
 * Daemon variants used by the throughput, timing and memory benchmarks.
 * Shipped throttle limits unless a profile says why not: parallel right logins
 * of one user from one ip must pass them (raising them hid issue 10 §8).
 */
const PROFILES = {
  // The configuration benchmarks use: memo on, quiet logs.
  'warm-warn': { logLevel: 'warn', env: {} },
  // The shipped default log level: one JSON line per verify.
  'warm-info': { logLevel: 'info', env: {} },
  // Verification memo off: every verify runs argon2.
  cold: { logLevel: 'warn', env: { MAILPASSD_AUTH_MEMO_TTL_SECONDS: '0' } },
  // Hundreds of deliberate wrong passwords from one ip: the throttle would (rightly) cut them off.
  timing: { logLevel: 'warn', env: NO_THROTTLE },
} satisfies Record<string, { logLevel: string; env: Record<string, string> }>;

export type Profile = keyof typeof PROFILES;

/**
 * The bare fastify + pg server of the warm-auth comparison (baseline-server.ts),
 * run like the daemon: its own process, log to a file.
 */
export async function startBaseline(databaseUrl: string, opts: { poolSize?: number; logDir?: string; nodeArgs?: string[] } = {}): Promise<{ url: string; pid: number; stop(): Promise<unknown> }> {
  const port = await freePort();
  const proc = spawnNode([path.join(ROOT, 'bench', 'lib', 'baseline-server.ts')], {
    env: cleanEnv({ BASELINE_DATABASE_URL: databaseUrl, BASELINE_PORT: String(port), BASELINE_POOL_SIZE: String(opts.poolSize ?? 10) }),
    logFile: path.join(opts.logDir ?? benchDir('baseline'), 'baseline.log'),
    // The server is TypeScript like the rest of bench/; tsx only transpiles it at load.
    nodeArgs: ['--import', 'tsx', ...(opts.nodeArgs ?? [])],
  });
  onCleanup(() => proc.stop());
  const url = `http://127.0.0.1:${port}`;
  await waitFor('the baseline server', 10_000, async () => {
    if (proc.child.exitCode !== null) throw new Error(`baseline server exited:\n${proc.log().slice(-3000)}`);
    return (await fetch(`${url}/healthz`)).ok ? true : null;
  }).catch((err: Error) => {
    throw new Error(`baseline server did not start: ${err.message}\n${proc.log().slice(-3000)}`, { cause: err });
  });
  return { url, pid: proc.pid, stop: () => proc.stop() };
}

export class BenchContext {
  readonly quick: boolean;
  /** The largest table the scale benchmark builds (--scale-max or MAILPASSD_BENCH_SCALE_MAX; default 100,000). */
  readonly scaleMax: number;
  readonly user = 'bench.user@example.org';
  readonly unknownUser = 'nobody@example.org';
  readonly password = strongPassword();
  private readonly daemons = new Map<Profile, BenchDaemon>();
  /** daemon name → { phase → {rssMiB, hwmMiB} }, filled by the load benchmarks. */
  readonly memory = new Map<string, Record<string, Memory>>();
  private pg: BenchPostgres | null = null;
  private seeded = false;
  private baselineServer: { url: string; pid: number } | null = null;
  /** Busy shares seen by settle() during the current benchmark. */
  busySeen: number[] = [];

  constructor({ quick, scaleMax = 100_000 }: { quick: boolean; scaleMax?: number }) {
    this.quick = quick;
    this.scaleMax = scaleMax;
  }

  async postgres(): Promise<BenchPostgres> {
    this.pg ??= await startPostgres();
    return this.pg;
  }

  async daemon(name: Profile): Promise<BenchDaemon> {
    const known = this.daemons.get(name);
    if (known) return known;
    const profile = PROFILES[name];
    const pg = await this.postgres();
    const d = await startBenchDaemon({
      databaseUrl: pg.url,
      nodeId: `bench-${name}`,
      logLevel: profile.logLevel,
      env: profile.env,
    });
    this.daemons.set(name, d);
    if (!this.seeded) {
      await addMailbox(d, this.user, this.password);
      this.seeded = true;
    }
    await sleep(500); // let start-up work (JIT of the CLI-free path, pool warm-up) settle before an idle reading
    this.recordMemory(name, 'idle');
    return d;
  }

  recordMemory(name: Profile, phase: string): void {
    const d = this.daemons.get(name);
    if (!d) return;
    const phases = this.memory.get(name) ?? {};
    phases[phase] = d.memory();
    this.memory.set(name, phases);
  }

  /** The bare fastify + pg baseline server (see baseline-server.ts). */
  async baseline(): Promise<{ url: string; pid: number }> {
    this.baselineServer ??= await startBaseline((await this.postgres()).url);
    return this.baselineServer;
  }

  /**
   * Waits (at most `maxMs`) until the machine is quiet: with the benchmark idle,
   * less than `threshold` of the CPUs busy. Other sessions' test runs share this
   * machine; starting a measured run inside one of their bursts is avoidable
   * noise. Returns the last busy share seen, which the reports print.
   */
  async settle(maxMs = 3000, threshold = 0.2): Promise<number> {
    const deadline = Date.now() + maxMs;
    let busy = await foreignCpuBusy(500);
    while (busy > threshold && Date.now() < deadline) busy = await foreignCpuBusy(500);
    this.busySeen.push(busy);
    return busy;
  }

  /** Durations shrink with --quick (a smoke test of the harness, not a measurement). */
  seconds(full: number): number {
    return this.quick ? Math.max(1, Math.round(full / 5)) : full;
  }
}
