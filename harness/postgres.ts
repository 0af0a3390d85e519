/**
 * Real PostgreSQL for tests and benchmarks: the project's own embedded cluster
 * (so both run on the database the daemon ships with), and fresh databases in it.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ensureEmbedded } from '../src/store/embedded.js';
import { tempDir } from './tmp.js';

export interface Database {
  url: string;
  drop(): Promise<void>;
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Waits (bounded) for the sessions of clients that were just closed to end
 * before dropping: a pool's end() resolves before its backends have gone, and
 * FORCE then terminates them under the still-reading client, whose
 * "terminating connection due to administrator command" surfaced as an
 * uncaught error in a CI run. FORCE still ends what a test left open.
 */
async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline) {
      const r = await client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
      if (r.rows[0].n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** A new database in the cluster of `adminUrl` (a random name unless one is given). */
export async function createDatabase(adminUrl: string, name = `t_${randomBytes(6).toString('hex')}`): Promise<Database> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  return {
    url: adminUrl.replace(/\/[^/]*$/, `/${name}`),
    drop: () => dropDatabase(adminUrl, name),
  };
}

export interface OwnCluster {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** A private cluster that its owner may stop and start (same port, same data). */
export async function startOwnCluster(prefix = 'pg'): Promise<OwnCluster> {
  const tmp = tempDir(prefix);
  let handle = await ensureEmbedded(tmp.dir, true);
  return {
    url: handle.url,
    dataDir: tmp.dir,
    stop: () => handle.release(),
    start: async () => {
      handle = await ensureEmbedded(tmp.dir, true);
    },
    destroy: async () => {
      await handle.release();
      tmp.remove();
    },
  };
}
