import type { Config } from '../config/index.js';
import type { Logger } from '../observability/logger.js';
import type { Pool } from '../store/pool.js';

/** What every service function receives: config validated once at the edge, one pool, one logger. */
export interface Context {
  config: Config;
  pool: Pool;
  log: Logger;
}

/** Who did something, for the audit log. */
export interface Actor {
  actor: string;
  sourceIp: string | null;
}
