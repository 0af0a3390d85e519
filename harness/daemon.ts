/**
 * `mailpassd serve` as a real process (the built dist/), on free loopback
 * ports with its own data directory, and data created through the real CLI,
 * exactly as an operator would. Tests and benchmarks differ only in the
 * environment they pass (see CHEAP_HASH and SHIPPED_HASH).
 */
import { chownSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, type CliResult } from './cli.js';
import { MAIN } from './paths.js';
import { cleanEnv, freePort, spawnNode, waitFor } from './process.js';
import { tempDir } from './tmp.js';

/** Cheap argon2: keeps test suites fast where the cost is not what is tested. */
export const CHEAP_HASH = { MAILPASSD_HASH_MEMORY_COST: '4096', MAILPASSD_HASH_TIME_COST: '1' } as const;

/**
 * The shipped hash parameters (19456/2/1), set explicitly so a changed default
 * in src/ does not silently change what a benchmark measures.
 */
export const SHIPPED_HASH = { MAILPASSD_HASH_MEMORY_COST: '19456', MAILPASSD_HASH_TIME_COST: '2', MAILPASSD_HASH_PARALLELISM: '1' } as const;

export interface Daemon {
  pid: number;
  nodeId: string;
  authUrl: string;
  adminUrl: string;
  authListen: string;
  env: Record<string, string>;
  /** Everything the daemon wrote (pino JSON lines), also after stop(). */
  logs(): string;
  /** Runs a CLI command against the same database and config. */
  cli(args: string[], input?: string | Buffer): Promise<CliResult>;
  /** The same, but throws on a non-zero exit; resolves with stdout. */
  cliOk(args: string[], input?: string | Buffer): Promise<string>;
  /** Sends `signal` (SIGTERM), waits for the exit (SIGKILL after `killAfterMs`, 15 s by default); resolves with the exit code. */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface DaemonOptions {
  databaseUrl: string;
  /** Added last: may override anything, the listeners included. */
  env?: Record<string, string>;
  nodeId?: string;
  /** MAILPASSD_LOG_LEVEL (default info, the shipped level). */
  logLevel?: string;
  /** Wait for /readyz before returning (default true). */
  waitReady?: boolean;
  readyTimeoutMs?: number;
  /** Node flags for the daemon (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /**
   * Run the daemon as this (unprivileged) uid/gid instead of our own user;
   * its data directory is handed to it. Supplementary groups are dropped, so
   * the gid is the only group it has (e2e: the `mailpassd` grants).
   */
  user?: { uid: number; gid: number };
}

/**
 * Starts the daemon. A port is free when picked but may be taken by a
 * parallel test file before the daemon binds it: that start is retried on new ports.
 */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (attempt >= 4 || !/address already in use/.test((err as Error).message)) throw err;
    }
  }
}

async function startOnce(opts: DaemonOptions): Promise<Daemon> {
  const [authPort, adminPort] = [await freePort(), await freePort()];
  const data = tempDir('daemon');
  const env: Record<string, string> = {
    MAILPASSD_DATABASE_URL: opts.databaseUrl,
    MAILPASSD_DATA_DIR: data.dir,
    MAILPASSD_AUTH_LISTEN: `127.0.0.1:${authPort}`,
    MAILPASSD_ADMIN_LISTEN: `127.0.0.1:${adminPort}`,
    MAILPASSD_NODE_ID: opts.nodeId ?? `node-${authPort}`,
    MAILPASSD_LOG_LEVEL: opts.logLevel ?? 'info',
    ...opts.env,
  };
  if (opts.user) chownSync(data.dir, opts.user.uid, opts.user.gid);
  const logFile = join(data.dir, 'daemon.log');
  const proc = spawnNode([MAIN, 'serve'], { env: cleanEnv(env), logFile, ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}), ...(opts.user ? { user: opts.user } : {}) });
  let finalLog: string | null = null;
  const logs = () => finalLog ?? proc.log();
  const authUrl = env.MAILPASSD_AUTH_LISTEN!.startsWith('unix:') ? '' : `http://${env.MAILPASSD_AUTH_LISTEN}`;
  const adminUrl = `http://${env.MAILPASSD_ADMIN_LISTEN}`;
  if (opts.waitReady !== false) {
    try {
      await waitFor(`${adminUrl}/readyz`, opts.readyTimeoutMs ?? 30_000, async () => {
        if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`daemon exited with ${proc.child.exitCode ?? proc.child.signalCode}`);
        const res = await fetch(`${adminUrl}/readyz`, { signal: AbortSignal.timeout(1000) });
        return res.status === 200 ? true : null;
      });
    } catch (err) {
      await proc.stop('SIGKILL');
      const output = readFileSync(logFile, 'utf8');
      data.remove();
      throw new Error(`${(err as Error).message}\n${output}`, { cause: err });
    }
  }
  const cli = (args: string[], input?: string | Buffer) => runCli(args, { env, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
  return {
    pid: proc.pid,
    nodeId: env.MAILPASSD_NODE_ID!,
    authUrl,
    adminUrl,
    authListen: env.MAILPASSD_AUTH_LISTEN!,
    env,
    logs,
    cli,
    cliOk: async (args, input) => {
      const r = await cli(args, input);
      if (r.code !== 0) throw new Error(`mailpassd ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
      return r.stdout;
    },
    stop: async (signal = 'SIGTERM', killAfterMs?: number) => {
      const code = await proc.stop(signal, killAfterMs);
      finalLog ??= proc.log();
      data.remove();
      return code;
    },
    exited: proc.exited,
  };
}

/** Domain (if missing) + mailbox with `password` (and a display name), through the CLI; throws on failure. */
export async function addMailbox(d: Daemon, address: string, password: string, name?: string): Promise<void> {
  const domain = address.split('@')[1]!;
  const dom = await d.cli(['domain', 'add', domain]);
  if (dom.code !== 0 && !/already exists/.test(dom.stderr)) throw new Error(`domain add failed: ${dom.stderr}`);
  await d.cliOk(['mailbox', 'add', address, '--password-stdin', ...(name ? ['--name', name] : [])], password);
}

/** An admin API token (global, or scoped to `domain`), through the CLI. */
export async function createToken(d: Daemon, name = `t${Date.now()}${Math.random().toString(36).slice(2, 6)}`, domain?: string): Promise<string> {
  const out = await d.cliOk(['token', 'create', '--name', name, '--json', ...(domain ? ['--domain', domain] : [])]);
  return (JSON.parse(out) as { token: string }).token;
}
