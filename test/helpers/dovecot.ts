/**
 * Dovecot 2.3 for end-to-end tests: the harness's instance (harness/dovecot.ts)
 * and the real daemon behind it. Needs root and: dovecot-core dovecot-imapd
 * dovecot-pop3d dovecot-auth-lua lua-cjson (and postfix installed, for the
 * `postfix` user the auth-postfix listener is owned by).
 */
import { rmSync } from 'node:fs';
import { createMailRoot as mailRoot } from '../../harness/system.js';
import { keepDirs, tempDir } from '../../harness/tmp.js';
import { sleep } from '../../harness/process.js';
import { seedMailbox, startTestDaemon, type TestDaemon } from './daemon.js';
import { startOwnCluster, type OwnCluster } from './postgres.js';

export * from '../../harness/dovecot.js';
export { NOBODY_UID, authSecretFile, ensureGroup, ensureUser, groupId } from '../../harness/system.js';
export { freePort, run, runDaemonizing, sleep, stopByPidFile, type RunResult as DoveadmResult } from '../../harness/process.js';
export { CONFIG_DIR, ROOT as REPO_ROOT } from '../../harness/paths.js';

/** A temp directory whose parents and itself are traversable by dovecot/postgres users. */
export function makeTempDir(prefix: string): string {
  return tempDir(prefix).dir;
}

/** Mailbox homes owned by uid/gid 5000; pass `${dir}/%d/%n` as MAILPASSD_USERDB_HOME. */
export function createMailRoot(uid = 5000, gid = 5000): string {
  return mailRoot(uid, gid).dir;
}

export interface E2eBackend {
  daemon: TestDaemon;
  /** The daemon's own PostgreSQL cluster, which a test may stop and start. */
  cluster: OwnCluster;
  /** Root of the mailbox homes (mailpassd's userdb home = `${mailRoot}/%d/%n`). */
  mailRoot: string;
  /** Creates domain + mailbox with this password through the CLI. */
  mailbox(address: string, password: string): Promise<void>;
  /** Database down → logins must fail temporarily; `up` brings it back on the same port. */
  databaseDown(): Promise<void>;
  databaseUp(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts mailpassd (the real `dist/cli/main.js serve`) on its own embedded
 * PostgreSQL cluster, with mailbox homes under a directory owned by uid/gid
 * 5000 so Dovecot can create them.
 */
export async function startE2eBackend(env: Record<string, string> = {}): Promise<E2eBackend> {
  const cluster = await startOwnCluster();
  const homes = mailRoot(5000, 5000);
  let daemon: TestDaemon;
  try {
    daemon = await startTestDaemon({
      databaseUrl: cluster.url,
      env: {
        MAILPASSD_USERDB_HOME: `${homes.dir}/%d/%n`,
        MAILPASSD_USERDB_UID: '5000',
        MAILPASSD_USERDB_GID: '5000',
        // The DB-down tests want a prompt 503, not the default waits.
        MAILPASSD_DATABASE_CONNECT_TIMEOUT_MS: '1000',
        MAILPASSD_DATABASE_POOL_WAIT_MS: '1000',
        ...env,
      },
    });
  } catch (e) {
    await cluster.destroy();
    homes.remove();
    throw e;
  }
  const d = daemon;
  return {
    daemon: d,
    cluster,
    mailRoot: homes.dir,
    mailbox: (address, password) => seedMailbox(d, address, password),
    databaseDown: () => cluster.stop(),
    databaseUp: () => cluster.start(),
    stop: async () => {
      await d.stop();
      await cluster.destroy();
      if (!keepDirs()) rmSync(homes.dir, { recursive: true, force: true });
    },
  };
}

/** Polls `probe` until it returns true or the deadline passes; returns whether it did. */
export async function eventually(probe: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
}
