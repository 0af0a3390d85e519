// What the benchmarks share within one run: one PostgreSQL cluster, one seeded
// mailbox, and daemons started on first use and reused (so memory after a load
// is measured on the daemon that carried it). Everything is stopped at cleanup.
import path from 'node:path';
import { addMailbox, NO_THROTTLE, ROOT, startDaemon, strongPassword } from './daemon.js';
import { startPostgres } from './postgres.js';
import { cleanEnv, foreignCpuBusy, freePort, sleep, spawnNode, tempDir } from './procs.js';

/** Daemon variants used by the throughput, timing and memory benchmarks. */
// Shipped throttle limits unless a profile says why not: 50 parallel right
// logins of one user from one ip must pass them (raising them hid issue 10 §8).
const PROFILES = {
  // The configuration benchmarks use: memo on, quiet logs.
  'warm-warn': { logLevel: 'warn', env: {} },
  // The shipped default log level: one JSON line per verify.
  'warm-info': { logLevel: 'info', env: {} },
  // Verification memo off: every verify runs argon2.
  cold: { logLevel: 'warn', env: { MAILPASSD_AUTH_MEMO_TTL_SECONDS: '0' } },
  // Hundreds of deliberate wrong passwords from one ip: the throttle would (rightly) cut them off.
  timing: { logLevel: 'warn', env: NO_THROTTLE },
};

export class BenchContext {
  constructor({ quick }) {
    this.quick = quick;
    this.user = 'bench.user@example.org';
    this.unknownUser = 'nobody@example.org';
    this.password = strongPassword();
    this.daemons = new Map();
    /** daemon name → { phase → {rssMiB, hwmMiB} }, filled by the load benchmarks. */
    this.memory = new Map();
    this.pg = null;
    this.seeded = false;
    /** Busy shares seen by settle() during the current benchmark. */
    this.busySeen = [];
  }

  async postgres() {
    this.pg ??= await startPostgres();
    return this.pg;
  }

  async daemon(name) {
    if (this.daemons.has(name)) return this.daemons.get(name);
    const profile = PROFILES[name];
    if (!profile) throw new Error(`unknown daemon profile ${name}`);
    const pg = await this.postgres();
    const d = await startDaemon({
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

  recordMemory(name, phase) {
    const d = this.daemons.get(name);
    if (!d) return;
    if (!this.memory.has(name)) this.memory.set(name, {});
    this.memory.get(name)[phase] = d.memory();
  }

  /** The bare fastify + pg baseline server (see baseline-server.js). */
  async baseline() {
    if (this.baselineServer) return this.baselineServer;
    const pg = await this.postgres();
    const port = await freePort();
    const dir = tempDir('baseline');
    const proc = spawnNode([path.join(ROOT, 'bench', 'lib', 'baseline-server.js')], {
      env: cleanEnv({ BASELINE_DATABASE_URL: pg.url, BASELINE_PORT: String(port), BASELINE_POOL_SIZE: '10' }),
      logFile: path.join(dir, 'baseline.log'),
    });
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${url}/healthz`)).ok) break;
      } catch {
        /* starting */
      }
      if (i > 200 || proc.child.exitCode !== null) throw new Error(`baseline server did not start:\n${proc.logTail()}`);
      await sleep(50);
    }
    this.baselineServer = { url, pid: proc.pid };
    return this.baselineServer;
  }

  /**
   * Waits (at most `maxMs`) until the machine is quiet: with the benchmark idle,
   * less than `threshold` of the CPUs busy. Other sessions' test runs share this
   * machine; starting a measured run inside one of their bursts is avoidable
   * noise. Returns the last busy share seen, which the reports print.
   */
  async settle(maxMs = 3000, threshold = 0.2) {
    const deadline = Date.now() + maxMs;
    let busy = await foreignCpuBusy(500);
    while (busy > threshold && Date.now() < deadline) busy = await foreignCpuBusy(500);
    this.busySeen.push(busy);
    return busy;
  }

  /** Durations shrink with --quick (a smoke test of the harness, not a measurement). */
  seconds(full) {
    return this.quick ? Math.max(1, Math.round(full / 5)) : full;
  }
}
