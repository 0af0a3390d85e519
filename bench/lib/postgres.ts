// One embedded PostgreSQL cluster for the whole run, started with the project's
// own helper (through the harness) so the benchmark measures the database the
// daemon ships with.
import pg from 'pg';
import { createDatabase, startOwnCluster } from '../../harness/postgres.js';
import { onCleanup } from './procs.js';

export interface BenchPostgres {
  url: string;
  /** A fresh database in the same cluster (the rotation bench wants its own `nodes` table). */
  createDatabase(name: string): Promise<string>;
}

export async function startPostgres(): Promise<BenchPostgres> {
  const cluster = await startOwnCluster('bench-pg');
  onCleanup(() => cluster.destroy());
  return {
    url: cluster.url,
    createDatabase: async (name) => (await createDatabase(cluster.url, name)).url,
  };
}

/** Reads one mailbox's stored hash (the raw argon2 baseline verifies exactly this string). */
export async function storedHash(url: string, address: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ password_hash: string }>('SELECT password_hash FROM mailboxes WHERE address = $1', [address]);
    if (!r.rows[0]) throw new Error(`no mailbox ${address}`);
    return r.rows[0].password_hash;
  } finally {
    await client.end();
  }
}
