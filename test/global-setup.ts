import type { TestProject } from 'vitest/node';
import { ensureEmbedded } from '../src/store/embedded.js';
import { debianBinaries, startCluster } from '../harness/pg-replication.js';
import { tempDir } from './helpers/tmp.js';

/**
 * One PostgreSQL for the whole run; every test file gets its own database in it.
 * The embedded one (what `npm start` runs), or with MAILPASSD_TEST_POSTGRES=<major>
 * a Debian package's (`npm run test:pg15`: the integration suite on PostgreSQL 15).
 */
export default async function setup(project: TestProject) {
  const major = process.env.MAILPASSD_TEST_POSTGRES;
  if (major) {
    const binaries = debianBinaries(Number(major));
    if (!binaries) throw new Error(`MAILPASSD_TEST_POSTGRES=${major}: /usr/lib/postgresql/${major}/bin is missing (apt-get install postgresql-${major})`);
    const cluster = await startCluster(binaries);
    project.provide('pgAdminUrl', cluster.url);
    return () => cluster.destroy();
  }
  const tmp = tempDir('pg-global');
  const db = await ensureEmbedded(tmp.dir, true);
  project.provide('pgAdminUrl', db.url);
  return async () => {
    await db.release();
    tmp.remove();
  };
}
