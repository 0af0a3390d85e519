import type { TestProject } from 'vitest/node';
import { ensureEmbedded } from '../src/store/embedded.js';
import { tempDir } from './helpers/tmp.js';

/** One embedded PostgreSQL for the whole run; every test file gets its own database in it. */
export default async function setup(project: TestProject) {
  const tmp = tempDir('pg-global');
  const db = await ensureEmbedded(tmp.dir, true);
  project.provide('pgAdminUrl', db.url);
  return async () => {
    await db.release();
    tmp.remove();
  };
}
