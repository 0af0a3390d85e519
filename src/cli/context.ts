import { loadConfig, type Config } from '../config/index.js';
import type { Context, Actor } from '../core/context.js';
import { createLogger } from '../observability/logger.js';
import { openDatabase } from '../store/database.js';
import { migrate } from '../store/migrate.js';
import { userInfo } from 'node:os';
import type { GlobalOptions } from './io.js';

export function configFrom(opts: GlobalOptions, flags: Record<string, string | number | boolean | undefined> = {}): Config {
  return loadConfig({ configPath: opts.config, flags });
}

/** Who runs the CLI, for the audit log: the local user, source "cli". */
export function cliActor(): Actor {
  let name = 'unknown';
  try {
    name = userInfo().username;
  } catch {
    /* a uid without a passwd entry (DynamicUser) */
  }
  return { actor: `cli:${name}`, sourceIp: null };
}

/**
 * Opens the database (the running daemon's embedded server, or one started for
 * this command), makes sure the schema is current, runs `fn`, and closes. Only
 * `serve` and `migrate` upgrade a schema; here an empty database is initialised
 * and an older one refused (exit 69, "run mailpassd migrate").
 */
export async function withContext<T>(opts: GlobalOptions, fn: (ctx: Context) => Promise<T>, schema: { check: boolean } = { check: true }): Promise<T> {
  const config = configFrom(opts);
  const log = createLogger(config.log_level === 'info' ? 'warn' : config.log_level);
  const db = await openDatabase(config, 'cli');
  try {
    if (schema.check) await migrate(db.pool, 'initialise-only');
    return await fn({ config, pool: db.pool, log });
  } finally {
    await db.close();
  }
}
