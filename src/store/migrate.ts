import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../config/index.js';
import { unavailable } from '../core/errors.js';
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

async function hasMigrationsTable(db: Queryable): Promise<boolean> {
  const exists = await db.query<{ t: string | null }>({ name: 'migrations-table', text: "SELECT to_regclass('schema_migrations')::text AS t" });
  return Boolean(exists.rows[0]?.t);
}

async function appliedVersions(db: Queryable): Promise<Set<number>> {
  if (!(await hasMigrationsTable(db))) return new Set();
  const rows = await db.query<{ version: number }>({ name: 'migrations-applied', text: 'SELECT version FROM schema_migrations' });
  return new Set(rows.rows.map((r) => r.version));
}

/**
 * Applies every pending migration in one transaction under a transaction-scoped
 * advisory lock, so two daemons starting at once apply each migration exactly once.
 *
 * `initialise-only` is for every command but `serve` and `migrate`: it creates the
 * schema of an empty database (nothing can be serving it yet), and refuses to
 * change one that is merely older. Migrating a shared database from an admin
 * command would change it under daemons still running the previous version.
 */
export async function migrate(pool: Pool, mode: 'all' | 'initialise-only' = 'all'): Promise<string[]> {
  return withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    const fresh = !(await hasMigrationsTable(client));
    const done = await appliedVersions(client);
    const pending = listMigrations().filter((m) => !done.has(m.version));
    if (mode === 'initialise-only' && !fresh) {
      if (pending.length) throw schemaBehind(pending.map((m) => m.name));
      return [];
    }
    if (fresh) {
      await client.query(`CREATE TABLE schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    }
    for (const m of pending) {
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
    return pending.map((m) => m.name);
  });
}

export const schemaBehind = (pending: string[]) =>
  unavailable('migrations_pending', `the database schema is older than this mailpassd (pending: ${pending.join(', ')}); run mailpassd migrate`);

/** Migrations present on disk but not applied: `/readyz` and `doctor` report them. */
export async function pendingMigrations(db: Queryable): Promise<string[]> {
  const done = await appliedVersions(db);
  return listMigrations().filter((m) => !done.has(m.version)).map((m) => m.name);
}
