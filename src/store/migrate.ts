import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../config/index.js';
import { withTransaction, type Pool, type Queryable } from './pool.js';

export const MIGRATIONS_DIR = path.join(PACKAGE_ROOT, 'migrations');
/** Arbitrary constant: the advisory lock every daemon takes before migrating. */
const MIGRATION_LOCK = 7411_0001;

interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_.+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 4)), name: f, sql: readFileSync(path.join(dir, f), 'utf8') }));
}

async function appliedVersions(db: Queryable): Promise<Set<number>> {
  const exists = await db.query<{ t: string | null }>({ name: 'migrations-table', text: "SELECT to_regclass('schema_migrations')::text AS t" });
  if (!exists.rows[0]?.t) return new Set();
  const rows = await db.query<{ version: number }>({ name: 'migrations-applied', text: 'SELECT version FROM schema_migrations' });
  return new Set(rows.rows.map((r) => r.version));
}

/**
 * Applies every pending migration in one transaction under a transaction-scoped
 * advisory lock, so two daemons starting at once apply each migration exactly once.
 */
export async function migrate(pool: Pool): Promise<string[]> {
  return withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = await appliedVersions(client);
    const applied: string[] = [];
    for (const m of listMigrations()) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.name);
    }
    return applied;
  });
}

/** Migrations present on disk but not applied: `/readyz` and `doctor` report them. */
export async function pendingMigrations(db: Queryable): Promise<string[]> {
  const done = await appliedVersions(db);
  return listMigrations().filter((m) => !done.has(m.version)).map((m) => m.name);
}
