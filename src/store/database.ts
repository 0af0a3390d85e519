import type { Config } from '../config/index.js';
import { ensureEmbedded } from './embedded.js';
import { asUnavailable, createPool, type Pool } from './pool.js';

export interface Database {
  pool: Pool;
  embedded: boolean;
  close(): Promise<void>;
}

/**
 * The configured PostgreSQL, or the embedded one in the data directory. The
 * daemon owns the embedded server it uses; a CLI command reuses a running one
 * and only stops a server it started itself.
 */
export async function openDatabase(config: Config, role: 'daemon' | 'cli'): Promise<Database> {
  const embedded = config.database_url ? null : await ensureEmbedded(config.data_dir, role === 'daemon');
  const pool = createPool(config.database_url ?? embedded!.url, config.database);
  return {
    pool,
    embedded: embedded !== null,
    close: async () => {
      await pool.end().catch(() => undefined);
      await embedded?.release();
    },
  };
}

/** Fails fast with a typed "unavailable" error when the database cannot be reached. */
export async function ping(pool: Pool): Promise<void> {
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    throw asUnavailable(err);
  }
}
