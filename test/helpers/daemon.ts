import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync } from 'node:fs';
import { MAIN, runCli, type CliResult } from './cli.js';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';

export interface TestDaemon {
  pid: number;
  authUrl: string;
  adminUrl: string;
  authListen: string;
  env: Record<string, string>;
  /** Everything the daemon wrote (pino JSON lines on stderr). */
  logs(): string;
  /** Runs a CLI command against the same database and config. */
  cli(args: string[], input?: string | Buffer): Promise<CliResult>;
  /** SIGTERM, waits for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface DaemonOptions {
  databaseUrl: string;
  env?: Record<string, string>;
  nodeId?: string;
  /** Wait for /readyz before returning (default true). */
  waitReady?: boolean;
  /**
   * Run the daemon as this (unprivileged) uid/gid instead of the test's own
   * user; its data directory is handed to it. Supplementary groups are
   * dropped, so the gid is the only group it has (e2e: the `mailpassd` grants).
   */
  user?: { uid: number; gid: number };
}

async function waitFor(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`daemon not ready at ${url} after ${timeoutMs} ms`);
}

/**
 * Starts `mailpassd serve` as a real process on free loopback ports. A port is
 * free when picked but may be taken by a parallel test file before the daemon
 * binds it: that start is retried on new ports.
 */
export async function startTestDaemon(opts: DaemonOptions): Promise<TestDaemon> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (attempt >= 4 || !/address already in use/.test((err as Error).message)) throw err;
    }
  }
}

async function startOnce(opts: DaemonOptions): Promise<TestDaemon> {
  const [authPort, adminPort] = [await freePort(), await freePort()];
  const data = tempDir('daemon');
  const env: Record<string, string> = {
    MAILPASSD_DATABASE_URL: opts.databaseUrl,
    MAILPASSD_DATA_DIR: data.dir,
    MAILPASSD_AUTH_LISTEN: `127.0.0.1:${authPort}`,
    MAILPASSD_ADMIN_LISTEN: `127.0.0.1:${adminPort}`,
    MAILPASSD_NODE_ID: opts.nodeId ?? `node-${authPort}`,
    MAILPASSD_LOG_LEVEL: 'info',
    // Cheap argon2 keeps the suites fast; the benchmark uses the defaults.
    MAILPASSD_HASH_MEMORY_COST: '4096',
    MAILPASSD_HASH_TIME_COST: '1',
    MAILPASSD_ROTATION_HEARTBEAT_MS: '500',
    MAILPASSD_ROTATION_POLL_INTERVAL_MS: '500',
    MAILPASSD_ROTATION_STALE_AFTER_MS: '3000',
    ...opts.env,
  };
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MAILPASSD_') && v !== undefined) clean[k] = v;
  if (opts.user) chownSync(data.dir, opts.user.uid, opts.user.gid);
  const child = spawn(process.execPath, [MAIN, 'serve'], {
    env: { ...clean, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const authUrl = env.MAILPASSD_AUTH_LISTEN!.startsWith('unix:') ? '' : `http://${env.MAILPASSD_AUTH_LISTEN}`;
  const adminUrl = `http://${env.MAILPASSD_ADMIN_LISTEN}`;
  try {
    if (opts.waitReady !== false) await waitFor(`${adminUrl}/readyz`, child, 30_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${output}`, { cause: err });
  }
  return {
    pid: child.pid!,
    authUrl,
    adminUrl,
    authListen: env.MAILPASSD_AUTH_LISTEN!,
    env,
    logs: () => output,
    cli: (args, input) => runCli(args, { env, ...(input !== undefined ? { input } : {}) }),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      data.remove();
      return code;
    },
    exited,
  };
}

/** POST JSON to a daemon listener and return status + parsed body. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* text body */
  }
  return { status: res.status, body: parsed, text };
}

export async function verify(d: TestDaemon, user: string, password: string, extra: Record<string, string> = {}) {
  return postJson(`${d.authUrl}/v1/passdb/verify`, { user, password, service: 'imap', ...extra });
}

/** Creates a domain, a mailbox with `password`, and returns nothing; throws on failure. */
export async function seedMailbox(d: TestDaemon, address: string, password: string, name?: string): Promise<void> {
  const domain = address.split('@')[1]!;
  const dom = await d.cli(['domain', 'add', domain]);
  if (dom.code !== 0 && !/already exists/.test(dom.stderr)) throw new Error(dom.stderr);
  const args = ['mailbox', 'add', address, '--password-stdin', ...(name ? ['--name', name] : [])];
  const r = await d.cli(args, password);
  if (r.code !== 0) throw new Error(`mailbox add failed: ${r.stderr}`);
}

export async function adminToken(d: TestDaemon, name = `t${Date.now()}${Math.random().toString(36).slice(2, 6)}`, domain?: string): Promise<string> {
  const r = await d.cli(['token', 'create', '--name', name, '--json', ...(domain ? ['--domain', domain] : [])]);
  if (r.code !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as { token: string }).token;
}
