import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { ensureEmbedded } from '../../src/store/embedded.js';
import { tempDir } from './tmp.js';

/**
 * Real PostgreSQL for tests. The global setup starts one embedded cluster for
 * the run; each test file creates its own database in it. Fault tests start a
 * cluster of their own so they can stop and restart it.
 */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const adminUrl = inject('pgAdminUrl');
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = adminUrl.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export interface OwnCluster {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** A private cluster that a test may stop and start (same port, same data). */
export async function startOwnCluster(): Promise<OwnCluster> {
  const tmp = tempDir('pg');
  let handle = await ensureEmbedded(tmp.dir, true);
  return {
    url: handle.url,
    dataDir: tmp.dir,
    stop: () => handle.release(),
    start: async () => {
      handle = await ensureEmbedded(tmp.dir, true);
    },
    destroy: async () => {
      await handle.release();
      tmp.remove();
    },
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}
