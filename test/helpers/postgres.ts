import { inject } from 'vitest';
import { createDatabase, type Database } from '../../harness/postgres.js';

export { startOwnCluster, type OwnCluster } from '../../harness/postgres.js';

/**
 * Real PostgreSQL for tests. The global setup starts one embedded cluster for
 * the run; each test file creates its own database in it. Fault tests start a
 * cluster of their own (startOwnCluster) so they can stop and restart it.
 */
export function createTestDatabase(): Promise<Database> {
  return createDatabase(inject('pgAdminUrl'));
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}
