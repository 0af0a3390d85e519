// One embedded PostgreSQL cluster for the whole run, started with the project's
// own helper (through the harness) so the benchmark measures the database the
// daemon ships with.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createDatabase, startOwnCluster } from '../../harness/postgres.js';
import { childrenOf, cpuMsOf, onCleanup } from './procs.js';

export interface BenchPostgres {
  url: string;
  /** A fresh database in the same cluster (the rotation bench wants its own `nodes` table). */
  createDatabase(name: string): Promise<string>;
  /** CPU ms used so far by the cluster: the postmaster and every process it started (backends included). */
  cpuMs(): number;
}

/** The postmaster (from `<dir>/postgres/postmaster.pid`, the embedded layout), its live children and the ones it has reaped: a backend's CPU is only visible on its own process, then on the postmaster's children's account. */
function clusterCpuMs(dataDir: string): number {
  const postmaster = Number(readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
  // A backend that exited (a pool's idle connection closed) leaves its CPU in the postmaster's cutime/cstime.
  let total = cpuMsOf(postmaster, { reapedChildren: true });
  for (const child of childrenOf(postmaster)) {
    try {
      total += cpuMsOf(child);
    } catch {
      // gone between the listing and the read
    }
  }
  return total;
}

export async function startPostgres(): Promise<BenchPostgres> {
  const cluster = await startOwnCluster('bench-pg');
  onCleanup(() => cluster.destroy());
  return {
    url: cluster.url,
    createDatabase: async (name) => (await createDatabase(cluster.url, name)).url,
    cpuMs: () => clusterCpuMs(cluster.dataDir),
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
