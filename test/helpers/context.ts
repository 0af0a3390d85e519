import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/config/index.js';
import type { Context } from '../../src/core/context.js';
import { createLogger } from '../../src/observability/logger.js';
import { createPool } from '../../src/store/pool.js';
import { migrate } from '../../src/store/migrate.js';
import { Authenticator } from '../../src/auth/verify.js';
import { buildAdminListener } from '../../src/http/admin-listener.js';
import type { App } from '../../src/http/server.js';
import { createMetrics } from '../../src/observability/metrics.js';

export interface TestContext extends Context {
  /** Every log line written so far (pino JSON). */
  logLines(): string[];
  close(): Promise<void>;
}

/** An in-process context on a real database, with the config built exactly as at the edge. */
export async function makeContext(databaseUrl: string, env: Record<string, string> = {}): Promise<TestContext> {
  const config: Config = loadConfig({
    configPath: null,
    env: { MAILPASSD_DATABASE_URL: databaseUrl, MAILPASSD_HASH_MEMORY_COST: '4096', MAILPASSD_HASH_TIME_COST: '1', MAILPASSD_NODE_ID: 'test', ...env },
  });
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  const log = createLogger('debug', sink);
  const pool = createPool(databaseUrl, config.database);
  await migrate(pool);
  return { config, pool, log, logLines: () => lines, close: () => pool.end() };
}

/** The admin listener and the authenticator behind it, in this process (for inject(): no port, no daemon), ready. */
export async function inProcessAdmin(ctx: Context): Promise<{ admin: App; auth: Authenticator }> {
  const metrics = createMetrics();
  const auth = new Authenticator(ctx, metrics);
  await auth.init();
  const admin = buildAdminListener(ctx, { metrics, authenticator: auth });
  await admin.ready();
  return { admin, auth };
}
