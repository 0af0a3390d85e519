import type { Context } from '../core/context.js';
import { pendingMigrations } from '../store/migrate.js';
import type { App } from './server.js';

/**
 * `/healthz`: the process answers. `/readyz`: the database answers and the schema
 * is current. Operational probes, not API: kept out of the OpenAPI document.
 */
export function registerHealth(app: App, ctx: Context): void {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (req, reply) => {
    try {
      const pending = await pendingMigrations(ctx.pool);
      if (pending.length > 0) return reply.code(503).send({ status: 'not_ready', reason: `pending migrations: ${pending.join(', ')}` });
      return { status: 'ready' };
    } catch (err) {
      // The driver's text names hosts, database and user names: it goes to the log,
      // not to whoever may ask an unauthenticated probe.
      req.log.warn({ err: (err as Error).message.split('\n')[0] }, 'readyz: database unavailable');
      return reply.code(503).send({ status: 'not_ready', reason: 'database unavailable' });
    }
  });
}
