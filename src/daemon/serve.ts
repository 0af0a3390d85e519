import type { Config } from '../config/index.js';
import { formatListen } from '../config/index.js';
import type { Context } from '../core/context.js';
import { Authenticator } from '../auth/verify.js';
import { buildAuthListener } from '../http/auth-listener.js';
import { buildAdminListener } from '../http/admin-listener.js';
import { listen, type App } from '../http/server.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { openDatabase, type Database } from '../store/database.js';
import { migrate, pendingMigrations } from '../store/migrate.js';
import { MailpassdError } from '../core/errors.js';
import { acquireDaemonLock } from './lock.js';
import { startNodeWorker, type NodeWorker } from '../rotation/node-worker.js';
import { nodeLags } from '../store/sql/nodes.js';
import { prewarmPolicy } from '../policy/off-thread.js';
import { configuredPolicy } from '../policy/settings.js';
import { startNoticeWorker, type NoticeWorker } from '../notices/worker.js';
import { noticeJobCounts } from '../store/sql/notices.js';

export interface ServeOptions {
  migrate: boolean;
  logger?: Logger;
}

export interface RunningDaemon {
  ctx: Context;
  auth: App;
  admin: App;
  worker: NodeWorker;
  /** Null when [notices] enabled is false. */
  notices: NoticeWorker | null;
  stop(): Promise<void>;
}

/**
 * Starts everything in order — lock, database, migrations, listeners, node
 * worker — and returns a handle whose stop() drains in reverse order.
 */
export async function startDaemon(config: Config, opts: ServeOptions): Promise<RunningDaemon> {
  const log = opts.logger ?? createLogger(config.log_level);
  const releaseLock = acquireDaemonLock(config.data_dir);
  const cleanups: Array<() => Promise<void> | void> = [releaseLock];
  const unwind = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const db: Database = await openDatabase(config, 'daemon');
    cleanups.push(() => db.close());
    await prepareSchema(db, opts.migrate, log);
    const ctx: Context = { config, pool: db.pool, log };
    const metrics = createMetrics(() => nodeLags(db.pool), () => noticeJobCounts(db.pool));
    const authenticator = new Authenticator(ctx, metrics);
    await authenticator.init();
    // After the listeners close (cleanups unwind in reverse): the last app password uses are written.
    cleanups.push(() => authenticator.stop());
    prewarmPolicy(configuredPolicy(config.policy));
    const worker = await startNodeWorker(ctx, metrics);
    cleanups.push(() => worker.stop());
    const notices = config.notices.enabled ? startNoticeWorker(ctx, metrics) : null;
    if (notices) cleanups.push(() => notices.stop());
    const auth = buildAuthListener(ctx, authenticator);
    const admin = buildAdminListener(ctx, { metrics, authenticator });
    await listen(auth, config.auth.listen, config.auth.socket_mode, 'auth');
    cleanups.push(() => auth.close());
    await listen(admin, config.admin.listen, config.admin.socket_mode, 'admin');
    cleanups.push(() => admin.close());
    log.info(
      { auth: formatListen(config.auth.listen), admin: formatListen(config.admin.listen), node_id: config.node_id, embedded: db.embedded, doveadm: config.derived.doveadm_target.kind },
      'mailpassd serving',
    );
    if (config.auth.listen.kind === 'tcp' && config.derived.auth_secret === null) {
      log.warn('auth listener is TCP without auth.secret: every local user can test passwords through it; set auth.secret_file or listen on unix: (see mailpassd doctor)');
    }
    if (!notices) log.info('notices by mail are off ([notices] enabled = false)');
    let stopping: Promise<void> | null = null;
    return { ctx, auth, admin, worker, notices, stop: () => (stopping ??= unwind()) };
  } catch (err) {
    await unwind();
    throw err;
  }
}

async function prepareSchema(db: Database, runMigrations: boolean, log: Logger): Promise<void> {
  if (runMigrations) {
    const applied = await migrate(db.pool);
    if (applied.length) log.info({ applied }, 'migrations applied');
    return;
  }
  const pending = await pendingMigrations(db.pool);
  if (pending.length) throw new MailpassdError('migrations_pending', `pending migrations (${pending.join(', ')}); run mailpassd migrate`);
}

/** `serve`: runs until SIGTERM/SIGINT, then drains in-flight requests and exits 0. */
export async function serveUntilSignal(config: Config, opts: ServeOptions): Promise<void> {
  const daemon = await startDaemon(config, opts);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      daemon.ctx.log.info({ signal }, 'shutting down');
      daemon.stop().then(resolve, resolve);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  daemon.ctx.log.info('stopped');
  daemon.ctx.log.flush();
}
