// One embedded PostgreSQL cluster for the whole run, started with the project's
// own helper so the benchmark measures the database the daemon ships with.
import pg from 'pg';
import { ensureEmbedded } from '../../dist/store/embedded.js';
import { onCleanup, tempDir } from './procs.js';

export async function startPostgres() {
  const dir = tempDir('pg');
  const db = await ensureEmbedded(dir, true);
  onCleanup(() => db.release());
  return {
    url: db.url,
    /** A fresh database in the same cluster (the rotation bench wants its own `nodes` table). */
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return db.url.replace(/\/[^/]*$/, `/${name}`);
    },
  };
}

/** Reads one mailbox's stored hash (the raw argon2 baseline verifies exactly this string). */
export async function storedHash(url, address) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query('SELECT password_hash FROM mailboxes WHERE address = $1', [address]);
    if (!r.rows[0]) throw new Error(`no mailbox ${address}`);
    return r.rows[0].password_hash;
  } finally {
    await client.end();
  }
}
